import type { PluginCheck, PluginDefinition } from '../types';
import { IpRanges, parseCidr } from '../../proxy/ip-ranges';
import configSchema from './schema.json';

export interface IpRestrictionConfig {
  allow?: string[] | null;
  deny?: string[] | null;
  status?: number | null;
  message?: string | null;
}

interface Compiled {
  allow: IpRanges | undefined;
  deny: IpRanges | undefined;
  status: number;
  /** undefined: Kong's default, which names the refused address. */
  message: string | undefined;
}

function rangesOf(list: string[] | null | undefined): IpRanges | undefined {
  return list === null || list === undefined || list.length === 0 ? undefined : IpRanges.of(list);
}

export const ipRestriction: PluginDefinition<IpRestrictionConfig, Compiled> = {
  name: 'ip-restriction',
  priority: 990,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    const c = plugin.config;
    const out: PluginCheck[] = [];
    for (const field of ['allow', 'deny'] as const) {
      (c[field] ?? []).forEach((entry, i) => {
        if (parseCidr(entry) === undefined) out.push({ path: ['config', field, i], message: `invalid ip or cidr range: '${entry}'` });
      });
    }
    if ((c.allow ?? []).length === 0 && (c.deny ?? []).length === 0) {
      out.push({ path: ['config'], message: "at least one of these fields must be non-empty: 'config.allow', 'config.deny'" });
    }
    return out;
  },
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    return { allow: rangesOf(c.allow), deny: rangesOf(c.deny), status: c.status ?? 403, message: c.message ?? undefined };
  },
  /** deny wins over allow; with an allow list, an address outside it is refused. */
  access(ctx, c) {
    const ip = ctx.clientIp;
    if ((c.deny === undefined || !c.deny.has(ip)) && (c.allow === undefined || c.allow.has(ip))) return;
    ctx.refusal = 'ip not allowed';
    ctx.refusedBy = 'ip-restriction';
    ctx.error(c.status, c.message ?? `IP address not allowed: ${ip}`);
  },
};
