// Request-path handling in the manner of Kong 3.x: normalization before routing, the escaping applied
// to the path sent upstream, and the join of the service path with the request path (path_handling v0/v1).
//
// Representation: a normalized path is a JS string in which a decoded %XX sequence that forms valid UTF-8
// becomes the character it encodes; a byte that is not part of valid UTF-8 stays percent-encoded (hex
// upper-cased). Kong decodes to raw bytes instead; for valid UTF-8 the two give the same match and the same
// upstream path once escapeUpstreamPath re-encodes (it writes UTF-8 bytes).

const SLASH = 47; // '/'
const DOT = 46; // '.'
const PERCENT = 37; // '%'

/** Bytes that stay percent-encoded when normalizing (RFC 3986 reserved set + '%'). */
const RESERVED_BYTES = new Uint8Array(128);
for (const ch of "!*'();:@&=+$,/?%#[]") RESERVED_BYTES[ch.charCodeAt(0)] = 1;

/** ASCII characters that escapeUpstreamPath leaves as they are. */
const UPSTREAM_SAFE = new Uint8Array(128);
for (const ch of "!#$&'()*+,/:;=?@[]-._~%") UPSTREAM_SAFE[ch.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) UPSTREAM_SAFE[c] = 1; // 0-9
for (let c = 65; c <= 90; c++) UPSTREAM_SAFE[c] = 1; // A-Z
for (let c = 97; c <= 122; c++) UPSTREAM_SAFE[c] = 1; // a-z

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The byte encoded by `%XX` at s[i], or -1 when s[i..i+2] is not a valid escape. */
function escapedByte(s: string, i: number): number {
  if (i + 2 >= s.length || s.charCodeAt(i) !== PERCENT) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function encodedByte(b: number): string {
  return '%' + HEX[b >> 4] + HEX[b & 15];
}

/**
 * Decodes the %XX escapes of `s` as Kong does (reserved bytes stay encoded with upper-case hex, others are
 * decoded). Returns null for a malformed escape or an encoded NUL (nginx answers 400 for both).
 */
function decodeEscapes(s: string): string | null {
  let out = '';
  let from = 0; // start of the not yet copied run
  let i = s.indexOf('%');
  while (i !== -1) {
    const b = escapedByte(s, i);
    if (b <= 0) return null; // malformed, or %00
    out += s.slice(from, i);
    let next = i + 3;
    if (b < 0x80) {
      out += RESERVED_BYTES[b] === 1 ? encodedByte(b) : String.fromCharCode(b);
    } else {
      // try to read one UTF-8 sequence made of consecutive escapes
      const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
      let cp = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
      let ok = need > 0;
      for (let k = 1; ok && k <= need; k++) {
        const cb = escapedByte(s, i + 3 * k);
        let lo = 0x80;
        let hi = 0xbf;
        if (k === 1) {
          if (b === 0xe0) lo = 0xa0; // overlong
          else if (b === 0xed) hi = 0x9f; // surrogates
          else if (b === 0xf0) lo = 0x90; // overlong
          else if (b === 0xf4) hi = 0x8f; // > U+10FFFF
        }
        if (cb < lo || cb > hi) ok = false;
        else cp = (cp << 6) | (cb & 0x3f);
      }
      if (ok) {
        out += String.fromCodePoint(cp);
        next = i + 3 * (need + 1);
      } else {
        out += encodedByte(b); // not UTF-8: the byte stays encoded
      }
    }
    from = next;
    i = s.indexOf('%', next);
  }
  return from === 0 ? s : out + s.slice(from);
}

/** RFC 3986 remove_dot_segments, also merging `//` (Kong's `normalize(uri, true)` loop). */
function removeDotSegments(s: string): string {
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const rest = n - i;
    const c0 = s.charCodeAt(i);
    const c1 = rest > 1 ? s.charCodeAt(i + 1) : -1;
    const c2 = rest > 2 ? s.charCodeAt(i + 2) : -1;
    const c3 = rest > 3 ? s.charCodeAt(i + 3) : -1;
    if (c0 === SLASH && c1 === DOT && rest === 2) {
      // trailing "/."
      out.push('/');
      i = n;
    } else if (c0 === SLASH && c1 === DOT && c2 === DOT && rest === 3) {
      // trailing "/.."
      out.pop();
      out.push('/');
      i = n;
    } else if ((c0 === DOT && rest === 1) || (c0 === DOT && c1 === DOT && rest === 2)) {
      i = n; // a lone "." or ".."
    } else if (c0 === DOT && c1 === DOT && c2 === SLASH) {
      i += 3; // leading "../"
    } else if (c0 === DOT && c1 === SLASH) {
      i += 2; // leading "./"
    } else if (c0 === SLASH && c1 === DOT && c2 === SLASH) {
      i += 2; // "/./" -> "/"
    } else if (c0 === SLASH && c1 === DOT && c2 === DOT && c3 === SLASH) {
      i += 3; // "/../" -> "/" and drop the last output segment
      out.pop();
    } else if (c0 === SLASH && c1 === SLASH) {
      i += 1; // merge slashes
    } else {
      const j = s.indexOf('/', i + 1);
      const end = j === -1 ? n : j;
      out.push(s.slice(i, end));
      i = end;
    }
  }
  return out.join('');
}

/**
 * Normalizes a request path (query already removed) the way Kong does before routing: `%XX` of unreserved
 * and "other" bytes decoded, reserved ones kept encoded with upper-case hex, dot-segments resolved (`..`
 * above the root stays at the root) and `//` merged. Returns null for an invalid percent-escape (or `%00`):
 * the caller answers 400. Returns `rawPath` itself when there is nothing to do.
 */
export function normalizePath(rawPath: string): string | null {
  const n = rawPath.length;
  let slow = n > 0 && rawPath.charCodeAt(0) !== SLASH;
  let hasPercent = false;
  for (let i = 0; i < n; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === PERCENT) {
      hasPercent = true;
      slow = true;
      break;
    }
    if (c === SLASH && i + 1 < n) {
      const d = rawPath.charCodeAt(i + 1);
      if (d === SLASH || d === DOT) slow = true; // keep scanning: a later '%' must still be found
    }
  }
  if (!slow) return rawPath;

  let s = rawPath;
  if (hasPercent) {
    const decoded = decodeEscapes(s);
    if (decoded === null) return null;
    s = decoded;
  }
  // after decoding, only a '.' or '/' can still change anything
  if (s.indexOf('/.') === -1 && s.indexOf('//') === -1 && s.charCodeAt(0) === SLASH) return s;
  const r = removeDotSegments(s);
  return r === rawPath ? rawPath : r;
}

function utf8Escape(cp: number): string {
  if (cp < 0x80) return encodedByte(cp);
  if (cp < 0x800) return encodedByte(0xc0 | (cp >> 6)) + encodedByte(0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return encodedByte(0xe0 | (cp >> 12)) + encodedByte(0x80 | ((cp >> 6) & 0x3f)) + encodedByte(0x80 | (cp & 0x3f));
  }
  return (
    encodedByte(0xf0 | (cp >> 18)) +
    encodedByte(0x80 | ((cp >> 12) & 0x3f)) +
    encodedByte(0x80 | ((cp >> 6) & 0x3f)) +
    encodedByte(0x80 | (cp & 0x3f))
  );
}

/**
 * Escapes a normalized path for the upstream request line (Kong's `escape()`): every character outside
 * `!#$&'()*+,/:;=?@[]A-Za-z0-9-._~%` becomes `%XX` of its UTF-8 bytes (a lone surrogate is sent as U+FFFD).
 * Returns `p` itself when nothing needs escaping.
 */
export function escapeUpstreamPath(p: string): string {
  const n = p.length;
  let i = 0;
  while (i < n) {
    const c = p.charCodeAt(i);
    if (c >= 128 || UPSTREAM_SAFE[c] !== 1) break;
    i++;
  }
  if (i === n) return p;

  let out = p.slice(0, i);
  let from = i;
  while (i < n) {
    const c = p.charCodeAt(i);
    if (c < 128 && UPSTREAM_SAFE[c] === 1) {
      i++;
      continue;
    }
    out += p.slice(from, i);
    let cp = c;
    let width = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = p.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        width = 2;
      }
    }
    if (width === 1 && cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    out += utf8Escape(cp);
    i += width;
    from = i;
  }
  return out + p.slice(from);
}

/** Drops a leading `./` or `../` (or a whole `.`/`..`) from the part of the path left after the prefix. */
function sanitizePostfix(postfix: string): string {
  if (postfix.charCodeAt(0) !== DOT) return postfix;
  if (postfix === '.' || postfix === '..') return '';
  if (postfix.charCodeAt(1) === SLASH) return postfix.slice(2);
  if (postfix.charCodeAt(1) === DOT && postfix.charCodeAt(2) === SLASH) return postfix.slice(3);
  return postfix;
}

/**
 * The path sent upstream (before escaping) for a request routed to a service.
 *
 * - `servicePath`: the service's `path` (undefined/empty = `/`).
 * - `requestPath`: the normalized request path.
 * - `strippedPrefix`: the part of `requestPath` that strip_path removes: the matched prefix path, or the
 *   matched text of a regex path; `''` when strip_path is false or the route has no path (for a route
 *   without paths Kong's strip/no-strip results coincide on normalized paths).
 * - `pathHandling`: `v0` is what Kong's default `traditional_compatible` router always does
 *   (`kong/router/utils.lua` `get_upstream_uri_v0`). `v1` follows Kong's `traditional` router
 *   (`kong/router/traditional.lua`, `path_handling == "v1"` branch, checked against the v1 rows of
 *   `spec/fixtures/router_path_handling_tests.lua`): with strip_path, base + postfix, dropping one `/` when
 *   base ends with `/` and the postfix starts with one (so `/s` + `req` = `/sreq`, no slash inserted);
 *   without strip_path, base + the request path minus its leading `/`.
 */
export function joinUpstreamPath(
  servicePath: string | undefined,
  requestPath: string,
  strippedPrefix: string,
  pathHandling: 'v0' | 'v1',
): string {
  const base = servicePath === undefined || servicePath === '' ? '/' : servicePath;
  const baseEndsWithSlash = base.charCodeAt(base.length - 1) === SLASH;

  if (strippedPrefix === '') {
    if (base === '/') return requestPath === '' ? '/' : requestPath;
    if (pathHandling === 'v1' || baseEndsWithSlash) return base + requestPath.slice(1);
    return requestPath === '/' || requestPath === '' ? base : base + requestPath;
  }

  const postfix = sanitizePostfix(requestPath.slice(strippedPrefix.length));
  const postfixStartsWithSlash = postfix.charCodeAt(0) === SLASH;

  if (pathHandling === 'v1') {
    return baseEndsWithSlash && postfixStartsWithSlash ? base.slice(0, -1) + postfix : base + postfix;
  }

  if (baseEndsWithSlash) {
    if (postfix === '') {
      if (base === '/') return '/';
      return requestPath.charCodeAt(requestPath.length - 1) === SLASH ? base : base.slice(0, -1);
    }
    return postfixStartsWithSlash ? base.slice(0, -1) + postfix : base + postfix;
  }
  if (postfix === '') {
    return requestPath.length > 1 && requestPath.charCodeAt(requestPath.length - 1) === SLASH ? base + '/' : base;
  }
  return postfixStartsWithSlash ? base + postfix : base + '/' + postfix;
}
