/** How many header lines named `name` (lower-case) the request had: Node keeps only the first of some, joins others. */
export function rawHeaderCount(raw: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toLowerCase() === name) n++;
  return n;
}
