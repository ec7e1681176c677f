import type { ConfigSource } from '../source';
import type { EntitySet } from '../entities';
import type { EntityLocations } from '../normalize';
import { formatPath, type ConfigIssue, type PathSegment } from '../errors';
import { AccessAnalysis } from '../route-access';
import type { Router } from '../../proxy/router';
import { keyWeakness } from './key-strength';
import { shadowedRoutes } from './shadowed-routes';
import { closest } from '../suggest';
import { isIP } from 'node:net';

/**
 * Warnings about a valid config that probably does not do what its author meant: routes open to anyone through
 * an anonymous fallback, routes that never match, guessable keys, services and plugins that never run.
 */
export function lint(source: ConfigSource, entities: EntitySet, locations: EntityLocations, router: Router): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (entity: object) => locations.get(entity)!;
  const warn = (path: PathSegment[], message: string) => {
    const { line, col } = source.locate(path);
    issues.push({ file: source.file, line, col, path: formatPath(path), message, severity: 'warning' });
  };
  const name = (e: { name?: string; id: string }) => `'${e.name ?? e.id}'`;

  const access = new AccessAnalysis(entities);
  for (const route of entities.routes) {
    const a = access.of(route);
    if (a.mode !== 'OR+anon' || a.stoppedBy !== undefined) continue;
    const last = a.auth[a.auth.length - 1];
    warn(
      at(route),
      `route ${name(route)} is reachable without credentials: '${last.plugin.name}' (${formatPath(at(last.plugin))}) lets callers through as ` +
        `consumer '${a.anonymous!.username ?? a.anonymous!.id}', and nothing stops that consumer; if that is not meant, add a ` +
        'request-termination on it or an acl that denies it',
    );
  }

  for (const { route, by } of shadowedRoutes(router)) {
    warn(at(route), `route ${name(route)} can never match: route ${name(by)} (${formatPath(at(by))}) comes first for every request it could match`);
  }

  for (const credential of entities.keyauth_credentials) {
    const weakness = keyWeakness(credential.key);
    if (weakness !== undefined) warn([...at(credential), 'key'], weakness);
  }

  const routed = new Set(entities.routes.map((r) => r.service));
  for (const service of entities.services) {
    if (!routed.has(service.id)) warn(at(service), `service ${name(service)} has no routes: no request can reach it`);
  }

  const upstreamNames = new Set(entities.upstreams.map((u) => u.name));
  const weightedUpstreams = new Set(entities.targets.filter((t) => t.weight > 0).map((t) => t.upstream));
  const anyTargets = new Set(entities.targets.map((t) => t.upstream));
  for (const upstream of entities.upstreams) {
    if (weightedUpstreams.has(upstream.id)) continue;
    const what = anyTargets.has(upstream.id) ? 'has only targets of weight 0' : 'has no targets';
    warn(at(upstream), `upstream '${upstream.name}' ${what}: every request to a service that names it is answered 503 (failure to get a peer from the ring-balancer)`);
  }
  if (upstreamNames.size > 0) {
    for (const service of entities.services) {
      if (upstreamNames.has(service.host) || isIP(service.host.replace(/^\[|\]$/g, '')) !== 0 || service.host === 'localhost') continue;
      const near = closest(service.host, upstreamNames);
      if (near !== undefined) {
        warn([...at(service), 'host'], `host '${service.host}' names no upstream, so it is resolved as a hostname: did you mean upstream '${near}'?`);
      }
    }
  }

  const enabled = new Set(entities.plugins.filter((p) => p.enabled).map((p) => p.name));
  for (const plugin of entities.plugins) {
    if (enabled.has(plugin.name)) continue;
    warn([...at(plugin), 'enabled'], `plugin '${plugin.name}' is disabled everywhere it is configured, so it never runs: remove it or enable it`);
  }
  return issues;
}
