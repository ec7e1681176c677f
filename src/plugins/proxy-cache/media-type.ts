/** A media type as Kong's kong/tools/mime_type.lua parses it: type and subtype lower-cased, parameter names too. */
export interface MediaType {
  type: string;
  subtype: string;
  params: ReadonlyMap<string, string>;
}

// RFC 2045 token: US-ASCII without controls and separators ()<>@,;:\"/[]?={} SP HT.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
// Kong's grammar takes a backslash as plain text (its qdtext alternative comes first), so `\"` ends the string.
const QUOTED = /^"([^"\x00-\x1f\x7f]*)"/;
const SPACING = /^[ \t]*/;

/** Kong's parse_mime_type: undefined when the whole text is not one media type (a trailing `;` or space included). */
export function parseMediaType(text: string): MediaType | undefined {
  let rest = text;
  let type: string;
  let subtype: string;
  const t = TOKEN.exec(rest);
  if (t !== null && rest[t[0].length] === '/') {
    rest = rest.slice(t[0].length + 1);
    const s = TOKEN.exec(rest);
    if (s === null) return undefined;
    type = t[0].toLowerCase();
    subtype = s[0].toLowerCase();
    rest = rest.slice(s[0].length);
  } else if (rest.startsWith('*')) {
    type = subtype = '*';
    rest = rest.slice(1);
  } else return undefined;
  const params = new Map<string, string>();
  while (rest !== '') {
    rest = rest.slice(SPACING.exec(rest)![0].length);
    if (rest[0] !== ';') return undefined;
    rest = rest.slice(1);
    rest = rest.slice(SPACING.exec(rest)![0].length);
    const name = TOKEN.exec(rest);
    if (name === null || rest[name[0].length] !== '=') return undefined;
    rest = rest.slice(name[0].length + 1);
    const value = TOKEN.exec(rest) ?? QUOTED.exec(rest);
    if (value === null) return undefined;
    params.set(name[0].toLowerCase(), value[1] ?? value[0]);
    rest = rest.slice(value[0].length);
  }
  return { type, subtype, params };
}

/**
 * Whether a response's media type is one the config lists, as Kong's proxy-cache compares them: `*` matches any
 * type or subtype, and the parameters must be the same set with the same values (so `application/json` does not
 * match `application/json; charset=utf-8`).
 */
export function mediaTypeMatches(expected: MediaType, actual: MediaType): boolean {
  if (expected.type !== '*' && expected.type !== actual.type) return false;
  if (expected.subtype !== '*' && expected.subtype !== actual.subtype) return false;
  if (expected.params.size !== actual.params.size) return false;
  for (const [k, v] of expected.params) if (actual.params.get(k) !== v) return false;
  return true;
}
