import type { PluginCheck, PluginDefinition } from '../types';
import { rawHeaderCount } from '../../proxy/raw-headers';
import { BOT_PATTERNS } from './rules';
import configSchema from './schema.json';

export interface BotDetectionConfig {
  allow?: string[] | null;
  deny?: string[] | null;
}

interface Compiled {
  allow: RegExp[];
  deny: RegExp[];
}

// The built-in list joined into one regex, compiled once for every instance (its patterns have no backreferences).
const BOTS = new RegExp(BOT_PATTERNS.map((p) => `(?:${p})`).join('|'));

function compiled(list: string[] | null | undefined): RegExp[] {
  return (list ?? []).map((p) => new RegExp(p));
}

function matchesAny(regexes: RegExp[], subject: string): boolean {
  for (let i = 0; i < regexes.length; i++) if (regexes[i].test(subject)) return true;
  return false;
}

/** Kong's order: an allowed User-Agent passes whatever else matches; a denied one or a known bot is refused. */
function refused(c: Compiled, userAgent: string): boolean {
  if (matchesAny(c.allow, userAgent)) return false;
  return matchesAny(c.deny, userAgent) || BOTS.test(userAgent);
}

export const botDetection: PluginDefinition<BotDetectionConfig, Compiled> = {
  name: 'bot-detection',
  priority: 2500,
  version: '1.0.0',
  configSchema,
  noConsumer: true,
  check(plugin) {
    const out: PluginCheck[] = [];
    for (const field of ['allow', 'deny'] as const) {
      (plugin.config[field] ?? []).forEach((pattern, i) => {
        try {
          new RegExp(pattern);
        } catch {
          out.push({ path: ['config', field, i], message: `not a valid regex: ${pattern}` });
        }
      });
    }
    return out;
  },
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    return { allow: compiled(c.allow), deny: compiled(c.deny) };
  },
  /** No User-Agent passes; two are refused (400), as Kong does. */
  access(ctx, c) {
    const userAgent = ctx.req.headers['user-agent'];
    if (userAgent === undefined) return;
    // Node keeps the first of repeated User-Agent lines, so they are counted in the raw headers.
    if (rawHeaderCount(ctx.req.rawHeaders, 'user-agent') > 1) {
      ctx.refusal = 'bad request';
      ctx.refusedBy = 'bot-detection';
      return ctx.error(400, 'Only one User-Agent header allowed');
    }
    if (!refused(c, userAgent.trim())) return;
    ctx.refusal = 'bot';
    ctx.refusedBy = 'bot-detection';
    ctx.error(403, 'Forbidden');
  },
};
