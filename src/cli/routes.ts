import { Command, Option } from 'commander';
import type { EntitySet } from '../config/entities';
import { AccessAnalysis, type RouteAccess } from '../config/route-access';
import { checkedConfigOrExit } from './checked-config';
import { table } from './table';

const list = (values: readonly string[] | undefined) => (values === undefined || values.length === 0 ? '*' : values.join(','));

function authText(a: RouteAccess): string {
  if (a.mode !== 'AND' && a.mode !== 'OR+anon') return a.mode;
  const names = a.auth.map((e) => e.plugin.name).join('+');
  return a.mode === 'AND' ? `AND ${names}` : `OR+anon ${names} (${a.anonymous!.username ?? a.anonymous!.id})`;
}

/** Whether a caller without credentials reaches the service, and otherwise which plugin answers it. */
function anonymousText(a: RouteAccess): string {
  if (a.stoppedBy === undefined) return a.anonymous === undefined ? 'yes' : `yes, as ${a.anonymous.username ?? a.anonymous.id}`;
  const p = a.stoppedBy.plugin;
  return p.name === 'request-termination' ? `no: request-termination ${p.config.status_code}` : `no: ${p.name}`;
}

function rows(entities: EntitySet) {
  const access = new AccessAnalysis(entities);
  const services = new Map(entities.services.map((s) => [s.id, s.name ?? s.id]));
  return entities.routes.map((route) => {
    const a = access.of(route);
    return {
      name: route.name ?? route.id,
      id: route.id,
      service: route.service !== undefined ? services.get(route.service)! : null,
      methods: route.methods ?? [],
      hosts: route.hosts ?? [],
      paths: route.paths ?? [],
      headers: route.headers ?? {},
      auth: { mode: a.mode, plugins: a.auth.map((e) => e.plugin.name), anonymous: a.anonymous ? (a.anonymous.username ?? a.anonymous.id) : null },
      anonymous_callers: { get_through: a.stoppedBy === undefined, stopped_by: a.stoppedBy?.plugin.name ?? null },
      text: { auth: authText(a), anonymous: anonymousText(a) },
    };
  });
}

export function routesCommand(): Command {
  return new Command('routes')
    .description('list every route: service, methods, hosts, paths, authentication, and whether callers without credentials get through')
    .requiredOption('-c, --conf <file>', 'declarative config file (kong.yml)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((opts: { conf: string; format: 'text' | 'json' }) => {
      const all = rows(checkedConfigOrExit(opts.conf).entities);
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(all.map(({ text, ...r }) => r), null, 2)}\n`);
        return;
      }
      const header = ['NAME', 'SERVICE', 'METHODS', 'HOSTS', 'PATHS', 'AUTH', 'ANONYMOUS'];
      const lines = all.map((r) => [r.name, r.service ?? '-', list(r.methods), list(r.hosts), list(r.paths), r.text.auth, r.text.anonymous]);
      process.stdout.write(`${table([header, ...lines]).join('\n')}\n`);
    });
}
