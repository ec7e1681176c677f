import type { RequestContext } from '../../proxy/context';
import { normalizePath } from '../../proxy/paths';

export type LimitBy = 'consumer' | 'credential' | 'ip' | 'service' | 'header' | 'path';

export interface IdentifyBy {
  limitBy: LimitBy;
  /** Lower-cased, for limit_by header. */
  headerName: string | undefined;
  path: string | undefined;
}

/**
 * Whose counter a request counts against, as Kong picks it: consumer → the consumer's id (the anonymous
 * consumer is one consumer), else the credential's, else the client IP; credential → the credential's id,
 * else the IP; service → the matched service's id; header → that header's value; path → the normalized path
 * when it equals the configured one. Anything missing falls back to the client IP (a trusted proxy's word for it,
 * see --trusted-ips).
 */
export function identify(ctx: RequestContext, by: IdentifyBy): string {
  switch (by.limitBy) {
    case 'consumer':
      return ctx.consumer?.id ?? ctx.credential?.id ?? ctx.clientIp;
    case 'credential':
      return ctx.credential?.id ?? ctx.clientIp;
    case 'service':
      return ctx.runtime.service?.id ?? ctx.clientIp;
    case 'header': {
      const value = ctx.req.headers[by.headerName!];
      if (value === undefined) return ctx.clientIp;
      return typeof value === 'string' ? value : value[0];
    }
    case 'path':
      return normalizePath(ctx.rawPath) === by.path ? by.path! : ctx.clientIp;
    default:
      return ctx.clientIp;
  }
}
