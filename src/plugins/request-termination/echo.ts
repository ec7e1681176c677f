import type { RequestContext } from '../../proxy/context';
import { hostname } from 'node:os';
import { NODE_ID } from '../../node-id';

/** What `echo: true` sends back: the request as the gateway saw it, with the matched route, service and consumer. */
export function echoOf(ctx: RequestContext, message: string, body: Buffer | undefined) {
  const req = ctx.req;
  const host = req.headers.host ?? '';
  const socket = req.socket;
  const rawBody = body === undefined ? undefined : body.toString('utf8');
  return {
    message,
    kong: { node_id: NODE_ID, worker_pid: process.pid, hostname: hostname() },
    request: {
      scheme: ctx.scheme,
      host: host.replace(/:\d+$/, ''),
      port: socket.localPort,
      method: req.method,
      path: ctx.rawPath,
      headers: req.headers,
      query: Object.fromEntries(ctx.query),
      body: parseBody(rawBody, req.headers['content-type']),
      raw_body: rawBody,
    },
    matched_route: ctx.match.route,
    matched_service: ctx.match.service ?? null,
    consumer: ctx.consumer ?? null,
  };
}

function parseBody(raw: string | undefined, type: string | undefined): unknown {
  if (raw === undefined || raw === '' || type === undefined) return undefined;
  try {
    if (type.includes('json')) return JSON.parse(raw);
    if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  } catch {
    return undefined;
  }
  return undefined;
}
