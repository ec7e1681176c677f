/** A name sent more than once: Kong refuses to pick one. */
export const DUPLICATE = Symbol('duplicate');

export type Found = string | undefined | typeof DUPLICATE;

/** A urlencoded name or value, decoded (`+` is a space); left as is when it is not valid percent-encoding. */
export function decode(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Whether raw[start, end) is `name`, encoded or not; only an encoded candidate is decoded (allocates). */
function nameAt(raw: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length && raw.startsWith(name, start)) return true;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */ || c === 43 /* + */) return decode(raw.slice(start, end)) === name;
  }
  return false;
}

/**
 * The value of `name` in a urlencoded string (a query string or a form body), as Kong reads it: names are
 * case-sensitive, a name without `=` carries no string value, and a repeated name is a duplicate.
 */
export function findParam(raw: string, name: string): Found {
  let count = 0;
  let value: string | undefined;
  let start = 0;
  let eq = -1; // the next '=' at or after `start` (raw.length: none left), found once for many pairs
  while (start < raw.length) {
    let end = raw.indexOf('&', start);
    if (end === -1) end = raw.length;
    if (eq < start) {
      eq = raw.indexOf('=', start);
      if (eq === -1) eq = raw.length;
    }
    const hasValue = eq < end;
    if (nameAt(raw, start, hasValue ? eq : end, name)) {
      count++;
      value = hasValue ? decode(raw.slice(eq + 1, end)) : undefined;
    }
    start = end + 1;
  }
  return count > 1 ? DUPLICATE : value;
}

/** `raw` without any `name` pair; every other pair is kept byte for byte. */
export function removeParam(raw: string, name: string): string {
  const kept: string[] = [];
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    if (decode(eq === -1 ? pair : pair.slice(0, eq)) !== name) kept.push(pair);
  }
  return kept.join('&');
}
