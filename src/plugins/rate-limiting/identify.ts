import type { RequestContext } from '../../proxy/context';
import { normalizePath } from '../../proxy/paths';

export type LimitBy = 'consumer' | 'credential' | 'ip' | 'service' | 'header' | 'path';

export interface IdentifyBy {
  limitBy: LimitBy;
  /** Lower-cased, for limit_by header. */
  headerName: string | undefined;
  path: string | undefined;
}

/** The connecting address: a client-sent X-Forwarded-For does not change it. */
export function clientIp(ctx: RequestContext): string {
  return ctx.req.socket.remoteAddress ?? '';
}

/**
 * Whose counter a request counts against, as Kong picks it: consumer → the consumer's id (the anonymous
 * consumer is one consumer), else the credential's, else the client IP; credential → the credential's id,
 * else the IP; service → the matched service's id; header → that header's value; path → the normalized path
 * when it equals the configured one. Anything missing falls back to the client IP.
 */
export function identify(ctx: RequestContext, by: IdentifyBy): string {
  switch (by.limitBy) {
    case 'consumer':
      return ctx.consumer?.id ?? ctx.credential?.id ?? clientIp(ctx);
    case 'credential':
      return ctx.credential?.id ?? clientIp(ctx);
    case 'service':
      return ctx.runtime.service?.id ?? clientIp(ctx);
    case 'header': {
      const value = ctx.req.headers[by.headerName!];
      if (value === undefined) return clientIp(ctx);
      return typeof value === 'string' ? value : value[0];
    }
    case 'path':
      return normalizePath(ctx.rawPath) === by.path ? by.path! : clientIp(ctx);
    default:
      return clientIp(ctx);
  }
}
