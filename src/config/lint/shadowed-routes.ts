import type { RouteEntity } from '../entities';
import { HostKind, PathKind, type HeaderRule, type HostRule, type Router, type RouterEntry } from '../../proxy/router';

/** A route that never matches, and the route that wins every request it could match. */
export interface ShadowedRoute {
  route: RouteEntity;
  by: RouteEntity;
}

function hostCovers(a: HostRule, b: HostRule): boolean {
  if (a.port !== -1 && a.port !== b.port) return false;
  switch (a.kind) {
    case HostKind.Exact:
      return b.kind === HostKind.Exact && b.value === a.value;
    case HostKind.Suffix:
      return b.kind !== HostKind.Prefix && b.value.endsWith(a.value);
    case HostKind.Prefix:
      return b.kind !== HostKind.Suffix && b.value.startsWith(a.value);
  }
}

/** Every value `b` accepts, `a` accepts too: b's exact values pass a's values or regexes, b's regexes are a's. */
function headerCovers(a: HeaderRule, b: HeaderRule): boolean {
  return (
    b.exact.every((v) => a.exact.includes(v) || a.regexes.some((r) => r.test(v))) &&
    b.regexes.every((r) => a.regexes.some((q) => q.source === r.source && q.flags === r.flags))
  );
}

/** Whether `a` matches every request `b` matches (paths are checked by the caller). Conservative: false when unsure. */
function conditionsCover(a: RouterEntry, b: RouterEntry): boolean {
  if (a.methods !== null && (b.methods === null || !b.methods.every((m) => a.methods!.includes(m)))) return false;
  if (a.hosts !== null && (b.hosts === null || !b.hosts.every((hb) => a.hosts!.some((ha) => hostCovers(ha, hb))))) return false;
  if (a.headers !== null) {
    if (b.headers === null) return false;
    for (const ha of a.headers) {
      const hb = b.headers.find((h) => h.name === ha.name);
      if (hb === undefined || !headerCovers(ha, hb)) return false;
    }
  }
  return true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Routes that can never match because, for every request one of their paths could match, an entry of another
 * route comes first in the router's priority order and matches it too. Conservative: a route is reported only
 * when each of its paths has one such entry whose every condition is as wide or wider (no path or a prefix of
 * it, the same regex, a superset of methods, covering hosts, weaker header conditions); routes beaten only by
 * several routes together are not.
 */
export function shadowedRoutes(router: Router): ShadowedRoute[] {
  const pathless: RouterEntry[] = [];
  const byPrefix = new Map<string, RouterEntry[]>();
  const byRegex = new Map<string, RouterEntry[]>();
  const entriesOf = new Map<RouteEntity, RouterEntry[]>();
  for (const e of router.entries) {
    push(entriesOf, e.route, e);
    if (e.pathKind === PathKind.None) pathless.push(e);
    else if (e.pathKind === PathKind.Prefix) push(byPrefix, e.prefix, e);
    else push(byRegex, `${e.regex!.flags}/${e.regex!.source}`, e);
  }

  /** Entries whose path condition holds for every path `b`'s does. */
  function widerPaths(b: RouterEntry): RouterEntry[] {
    const out = [...pathless];
    if (b.pathKind === PathKind.Regex) out.push(...(byRegex.get(`${b.regex!.flags}/${b.regex!.source}`) ?? []));
    // What every path b matches starts with: its prefix, its regex's literal start, or at least '/'.
    const start = b.key !== '' ? b.key : '/';
    for (let n = 1; n <= start.length; n++) out.push(...(byPrefix.get(start.slice(0, n)) ?? []));
    return out;
  }

  const out: ShadowedRoute[] = [];
  for (const [route, entries] of entriesOf) {
    let by: RouteEntity | undefined;
    for (const b of entries) {
      const winner = widerPaths(b).find((a) => a.rank < b.rank && a.route !== route && conditionsCover(a, b));
      by = winner?.route;
      if (by === undefined) break;
    }
    if (by !== undefined) out.push({ route, by });
  }
  return out;
}
