import type { PluginCheck, PluginDefinition } from '../types';
import configSchema from './schema.json';

export interface RedirectConfig {
  status_code: number;
  location: string;
  keep_incoming_path: boolean;
}

interface Compiled {
  status: number;
  location: string;
  /** keep_incoming_path: the location parsed once; each request takes its path and query. */
  base: URL | undefined;
}

/**
 * Kong's typedefs.url: a scheme and a host. The location must also be a URL WHATWG (and so ada, which Kong uses for
 * keep_incoming_path) can parse, and be a valid header value.
 */
function checkLocation(location: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/[^/?#]*)?/.exec(location);
  const authority = m?.[2] ?? (/^\/\/[^/?#]*/.exec(location)?.[0]);
  if (authority === undefined || authority.length <= 2) return 'missing host in url';
  if (m === null) return 'missing scheme in url';
  if (!URL.canParse(location)) return 'could not parse url';
  if (/[^\t\x20-\x7e\x80-\xff]/.test(location)) return 'a URL may not hold control characters';
  return undefined;
}

export const redirect: PluginDefinition<RedirectConfig, Compiled> = {
  name: 'redirect',
  priority: 779,
  version: '1.0.0',
  configSchema,
  check(plugin): PluginCheck[] {
    const why = checkLocation(plugin.config.location);
    return why === undefined ? [] : [{ path: ['config', 'location'], message: why }];
  },
  stops: () => true,
  compile: (c) => ({ status: c.status_code, location: c.location, base: c.keep_incoming_path ? new URL(c.location) : undefined }),
  access(ctx, c) {
    let location = c.location;
    if (c.base !== undefined) {
      // Kong (ada): the location with the request's path and query string in place of its own.
      const url = new URL(c.base);
      url.pathname = ctx.rawPath;
      url.search = ctx.rawQuery ?? '';
      location = url.href;
    }
    ctx.refusal = 'termination';
    ctx.refusedBy = 'redirect';
    ctx.respond(c.status, 'redirecting', undefined, { Location: location });
  },
};
