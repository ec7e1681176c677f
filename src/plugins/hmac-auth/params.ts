/** The fields of an `hmac username="…", algorithm="…", headers="…", signature="…"` credential. */
export interface HmacParams {
  username: string;
  algorithm: string;
  /** The signed header names, split on single spaces as Kong's splitn does (empty names kept). */
  headers: string[];
  signature: string;
}

const START = /[Hh]mac\s*username="/g;
const MARKERS = /",\s*(algorithm|headers|signature)="/g;

/**
 * Parses a credential exactly as Kong's greedy, unanchored regex
 * `\s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"` does, without its
 * backtracking (polynomial on a crafted 16 KB header): each greedy field ends at the last delimiter that still
 * leaves room for the fields after it, which is found by searching from the right.
 */
export function parseHmacParams(value: string): HmacParams | undefined {
  START.lastIndex = 0;
  const start = START.exec(value);
  if (start === null) return undefined;
  const close = value.lastIndexOf('"');
  // Every delimiter after the first "hmac username=\"", with where it starts and ends.
  const found: Array<{ name: string; at: number; end: number }> = [];
  MARKERS.lastIndex = start.index + start[0].length;
  for (let m = MARKERS.exec(value); m !== null; m = MARKERS.exec(value)) {
    found.push({ name: m[1], at: m.index, end: m.index + m[0].length });
    MARKERS.lastIndex = m.index + 1; // delimiters may overlap the text of a field
  }
  // From the right: signature, then headers, then algorithm, each field at least one character long.
  let limit = close;
  const picked: Array<{ at: number; end: number }> = [];
  let i = found.length - 1;
  for (const name of ['signature', 'headers', 'algorithm']) {
    while (i >= 0 && (found[i].name !== name || found[i].end >= limit)) i--;
    if (i < 0) return undefined;
    picked.push(found[i]);
    limit = found[i].at;
    i--;
  }
  const [signature, headers, algorithm] = picked;
  // Later starts lie further right: if the first leaves no username, none does.
  const userStart = start.index + start[0].length;
  if (userStart >= algorithm.at) return undefined;
  return {
    username: value.slice(userStart, algorithm.at),
    algorithm: value.slice(algorithm.end, headers.at),
    headers: value.slice(headers.end, signature.at).split(' '),
    signature: value.slice(signature.end, close),
  };
}
