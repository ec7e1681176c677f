/**
 * Cache-Control as Kong's proxy-cache reads it (kong/tools/http.lua parse_directive_header, calculate_resource_ttl):
 * comma-separated directives, names without case, a value kept as a number when it is one.
 */
export type Directives = ReadonlyMap<string, number | string | true>;

const NONE: Directives = new Map();

export function parseDirectives(header: string | string[] | undefined): Directives {
  if (header === undefined) return NONE;
  const text = Array.isArray(header) ? header.join(', ') : header;
  if (text === '') return NONE;
  const out = new Map<string, number | string | true>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === '') continue;
    if (eq === -1) {
      out.set(name, true);
      continue;
    }
    const raw = part.slice(eq + 1).trim();
    const n = raw === '' ? NaN : Number(raw);
    out.set(name, Number.isFinite(n) ? n : raw === '' ? true : raw);
  }
  return out;
}

/** A directive's number of seconds; undefined when absent or not a number (max-stale without a value, a quoted value). */
export function seconds(cc: Directives, name: string): number | undefined {
  const v = cc.get(name);
  return typeof v === 'number' ? v : undefined;
}

/**
 * How long a response may be served, in seconds: s-maxage, else max-age, else Expires less now; 0 when none says
 * (Kong's calculate_resource_ttl). A max-age that is not a number counts as 0, as RFC 9111 has a cache treat it.
 */
export function resourceTtl(cc: Directives, expires: string | undefined, nowMs: number): number {
  const maxAge = cc.get('s-maxage') ?? cc.get('max-age');
  if (maxAge !== undefined) return typeof maxAge === 'number' ? Math.max(maxAge, 0) : 0;
  if (expires === undefined) return 0;
  const at = Date.parse(expires);
  if (Number.isNaN(at)) return 0;
  return Math.max(Math.floor(at / 1000) - Math.floor(nowMs / 1000), 0);
}
