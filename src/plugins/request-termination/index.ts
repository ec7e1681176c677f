import { STATUS_CODES } from 'node:http';
import type { PluginDefinition } from '../types';
import { RequestSizeExceeded, type RequestContext } from '../../proxy/context';
import { echoOf } from './echo';
import configSchema from './schema.json';

export interface RequestTerminationConfig {
  status_code: number;
  message?: string;
  body?: string;
  content_type?: string;
  echo: boolean;
  trigger?: string;
}

interface Compiled {
  status: number;
  /** Prebuilt response for the common case (no echo). */
  body: string;
  contentType: string | undefined;
  isError: boolean;
  echo: boolean;
  message: string;
  /** Header name (lower-cased) and query name that switch the plugin on, when set. */
  triggerHeader: string | undefined;
  triggerQuery: string | undefined;
}

// Kong's own defaults for the message; other statuses fall back to the HTTP reason phrase.
const DEFAULT_MESSAGES: Record<number, string> = {
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  500: 'An unexpected error occurred',
  502: 'Bad Gateway',
  503: 'Service unavailable',
};

const ECHO_BODY_LIMIT = 1024 * 1024;

function triggered(ctx: RequestContext, c: Compiled): boolean {
  if (c.triggerHeader === undefined) return true;
  return ctx.req.headers[c.triggerHeader] !== undefined || (ctx.rawQuery !== null && ctx.query.has(c.triggerQuery!));
}

export const requestTermination: PluginDefinition<RequestTerminationConfig, Compiled> = {
  name: 'request-termination',
  priority: 2,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    const c = plugin.config;
    const out = [];
    if (c.message !== undefined && c.body !== undefined) {
      out.push({ path: ['config', 'body'], message: "only one of these fields may be set: 'config.message', 'config.body'" });
    }
    if (c.content_type !== undefined && c.body === undefined) {
      out.push({ path: ['config', 'content_type'], message: "'config.content_type' requires 'config.body'" });
    }
    return out;
  },
  stops: (c) => c.trigger === undefined,
  compile(c, build) {
    // Its state depends on its config alone: an unchanged instance keeps its compiled state across reloads.
    if (build.previous !== undefined) return build.previous as Compiled;
    const message = c.message ?? DEFAULT_MESSAGES[c.status_code] ?? STATUS_CODES[c.status_code] ?? 'Request terminated';
    return {
      status: c.status_code,
      body: c.body ?? '',
      contentType: c.body !== undefined ? (c.content_type ?? 'application/json; charset=utf-8') : undefined,
      isError: c.body === undefined,
      echo: c.echo,
      message,
      triggerHeader: c.trigger?.toLowerCase(),
      triggerQuery: c.trigger,
    };
  },
  access(ctx, c) {
    if (!triggered(ctx, c)) return;
    ctx.refusal = 'termination';
    ctx.refusedBy = 'request-termination';
    if (c.echo) {
      return ctx.readBody(ECHO_BODY_LIMIT).then(
        (body) => ctx.respond(c.status, JSON.stringify(echoOf(ctx, c.message, body)), 'application/json; charset=utf-8'),
        (err) => {
          // A body past request-size-limiting's limit is its refusal (413/417), not a body to leave out.
          if (err instanceof RequestSizeExceeded) throw err;
          ctx.respond(c.status, JSON.stringify(echoOf(ctx, c.message, undefined)), 'application/json; charset=utf-8');
        },
      );
    }
    if (c.isError) ctx.error(c.status, c.message);
    else ctx.respond(c.status, c.body, c.contentType);
  },
};
