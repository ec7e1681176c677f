import type { ConfigSource } from '../source';
import type { EntitySet } from '../entities';
import type { EntityLocations } from '../normalize';
import { formatPath, type ConfigIssue, type PathSegment } from '../errors';
import { AccessAnalysis } from '../route-access';
import type { Router } from '../../proxy/router';
import { keyWeakness } from './key-strength';
import { shadowedRoutes } from './shadowed-routes';

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

  const enabled = new Set(entities.plugins.filter((p) => p.enabled).map((p) => p.name));
  for (const plugin of entities.plugins) {
    if (enabled.has(plugin.name)) continue;
    warn([...at(plugin), 'enabled'], `plugin '${plugin.name}' is disabled everywhere it is configured, so it never runs: remove it or enable it`);
  }
  return issues;
}
