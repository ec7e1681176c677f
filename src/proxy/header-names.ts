/**
 * Header names (lower-cased) and values read from raw bytes (undici hands the upstream's response headers over as
 * Buffers) without a new string per header when they repeat: a name seen before is recognised byte by byte, ASCII
 * case folded, and the same string is returned each time. That saves decoding it, lower-casing it (a new string
 * whenever it has upper case, as `Content-Type` has) and V8 looking it up in its string table when it becomes a
 * property key. Short values are kept the same way, one per slot.
 */

/** Names remembered in all; past that, new names are decoded every time (an upstream inventing names). */
const MAX_NAMES = 512;
/** Longer names are decoded every time. */
const MAX_LENGTH = 64;

// By length and first byte (case folded): the few names that can be the one read.
const known = new Map<number, string[]>();
let remembered = 0;

function keyOf(buf: Uint8Array): number {
  return (buf.length << 8) | (buf[0] | 0x20);
}

/** Whether `buf` is `lower` in ASCII, any case. */
function sameName(buf: Uint8Array, lower: string): boolean {
  for (let i = 0; i < buf.length; i++) {
    let c = buf[i];
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return false;
  return true;
}

/** The header name in `buf`, lower-cased (as node:http's parser gives it). */
export function headerNameOf(buf: Buffer): string {
  const n = buf.length;
  if (n === 0 || n > MAX_LENGTH) return buf.toString('latin1').toLowerCase();
  const key = keyOf(buf);
  const candidates = known.get(key);
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) if (sameName(buf, candidates[i])) return candidates[i];
  }
  const name = buf.toString('latin1').toLowerCase();
  if (remembered < MAX_NAMES && isAscii(name)) {
    // As a property key once, so the string kept is the one V8 holds in its string table.
    const interned = Object.keys({ [name]: 0 })[0];
    if (candidates === undefined) known.set(key, [interned]);
    else candidates.push(interned);
    remembered++;
    return interned;
  }
  return name;
}

/** Values this long or shorter are looked up; longer ones are decoded every time. */
const MAX_VALUE_LENGTH = 40;
const VALUE_SLOTS = 1024;
// Direct-mapped by length, first and last byte: one value per slot, the last one decoded there. Upstreams answer
// with the same few values again and again (content types, lengths, keep-alive); a value that changes (Date)
// only ever replaces itself.
const values: Array<string | undefined> = new Array(VALUE_SLOTS).fill(undefined);

/** Whether `buf` holds exactly the latin1 string `s` (same length). */
function sameValue(buf: Uint8Array, s: string): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** The header value in `buf` as latin1 (as node:http's parser gives it), the same string when it repeats. */
export function headerValueOf(buf: Buffer): string {
  const n = buf.length;
  if (n === 0 || n > MAX_VALUE_LENGTH) return buf.toString('latin1');
  const slot = (n * 131 + buf[0] * 31 + buf[n - 1]) & (VALUE_SLOTS - 1);
  const cached = values[slot];
  if (cached !== undefined && cached.length === n && sameValue(buf, cached)) return cached;
  const value = buf.toString('latin1');
  values[slot] = value;
  return value;
}
