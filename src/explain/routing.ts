import type { RouteEntity } from '../config/entities';
import { PathKind, type RouteCondition, type Router, type RouterEntry } from '../proxy/router';

// How explain words a match and a miss, from the router's own diagnosis.

const NEAR_MISSES = 5;

const nameOf = (e: { name?: string; id: string }) => e.name ?? e.id;

/** Why an entry matched: each of its conditions, as the request met it. */
export function conditionsOf(e: RouterEntry, method: string, host: string | undefined): string[] {
  const r = e.route;
  return [
    e.pathKind === PathKind.Prefix ? `path starts with ${e.prefix}` : e.pathKind === PathKind.Regex ? `path matches regex ${e.regex!.source}` : 'any path',
    e.methods === null ? 'any method' : `method ${method} is one of ${e.methods.join(', ')}`,
    e.hosts === null ? 'any host' : `host ${host} matches ${r.hosts!.join(', ')}`,
    ...(r.headers === undefined ? [] : [`headers ${headerText(r)}`]),
  ];
}

function headerText(r: RouteEntity): string {
  return Object.entries(r.headers ?? {}).map(([n, v]) => `${n}: ${v.join(' | ')}`).join('; ');
}

function missReason(e: RouterEntry, failed: RouteCondition[], method: string, host: string | undefined): string {
  const r = e.route;
  return failed
    .map((f) => {
      if (f === 'method') return `method ${method} is not one of ${e.methods!.join(', ')}`;
      if (f === 'host') return host === undefined ? `no Host header (wants ${r.hosts!.join(', ')})` : `host ${host} is not ${r.hosts!.join(', ')}`;
      if (f === 'headers') return `headers do not match ${headerText(r)}`;
      return 'path does not match';
    })
    .join('; ');
}

function matchedToo(winner: RouteEntity | undefined): string {
  // No winner although this route matches: the request was refused before routing (a missing Host is a 400).
  return winner === undefined ? 'matches, but the request was refused before routing' : `matches too, but ${nameOf(winner)} comes first in priority order`;
}

/**
 * Routes that came close, in priority order: their path matches but a method, host or header condition does
 * not (with why), or they match too but come after the winner.
 */
export function nearMisses(diagnosis: ReturnType<Router['diagnose']>, winner: RouteEntity | undefined, method: string, host: string | undefined) {
  const near = new Map<RouteEntity, string>();
  for (const { entry, failed } of diagnosis) {
    if (entry.route === winner || near.has(entry.route) || failed.includes('path')) continue;
    near.set(entry.route, failed.length === 0 ? matchedToo(winner) : missReason(entry, failed, method, host));
  }
  return [...near].slice(0, NEAR_MISSES).map(([route, reason]) => ({ route: nameOf(route), reason }));
}

