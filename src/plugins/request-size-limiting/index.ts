import type { PluginDefinition } from '../types';
import { MESSAGES } from '../../proxy/respond';
import configSchema from './schema.json';

export interface RequestSizeLimitingConfig {
  allowed_payload_size: number;
  size_unit: 'megabytes' | 'kilobytes' | 'bytes';
  require_content_length: boolean;
}

interface Compiled {
  /** The largest body allowed, in bytes. */
  limit: number;
  requireLength: boolean;
}

const UNIT_BYTES = { bytes: 1, kilobytes: 1024, megabytes: 1024 * 1024 } as const;

export const requestSizeLimiting: PluginDefinition<RequestSizeLimitingConfig, Compiled> = {
  name: 'request-size-limiting',
  priority: 951,
  version: '1.0.0',
  configSchema,
  compile: (c) => ({ limit: c.allowed_payload_size * UNIT_BYTES[c.size_unit], requireLength: c.require_content_length }),
  /**
   * A declared Content-Length is checked at once; a chunked body is counted as it streams (or as a later plugin
   * reads it), refused as soon as it passes the limit. 417 rather than 413 when the client asked to continue.
   */
  access(ctx, c) {
    const h = ctx.req.headers;
    const status = h.expect !== undefined && h.expect.trim().toLowerCase() === '100-continue' ? 417 : 413;
    const length = h['content-length'];
    let size: number | undefined;
    if (length !== undefined && length !== '') size = Number(length);
    else if (c.requireLength && h['transfer-encoding'] !== 'chunked') {
      ctx.refusal = 'length required';
      ctx.refusedBy = 'request-size-limiting';
      return ctx.error(411, 'A valid Content-Length header is required');
    } else if (ctx.body !== undefined) size = ctx.body.length;
    else if (h['transfer-encoding'] === undefined) return; // no body
    if (size === undefined) {
      if (ctx.bodyLimit === undefined || c.limit < ctx.bodyLimit) {
        ctx.bodyLimit = c.limit;
        ctx.bodyLimitStatus = status;
      }
      return;
    }
    if (size <= c.limit) return;
    ctx.refusal = 'body too large';
    ctx.refusedBy = 'request-size-limiting';
    ctx.error(status, MESSAGES.sizeLimit);
  },
};
