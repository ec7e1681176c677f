import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { RequestContext } from './context';
import { MESSAGES, sendError } from './respond';
import { VIA_TOKEN } from '../version';

// Shared by every snapshot, so a reload keeps upstream connections warm.
const agentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

const CONTEXT = Symbol('gateway.context');
interface TaggedRequest extends IncomingMessage {
  [CONTEXT]?: ForwardState;
}

interface ForwardState {
  ctx: RequestContext;
  timedOut: boolean;
}

const proxy = httpProxy.createProxyServer({ toProxy: true, xfwd: false, ws: false });

proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
  const state = (req as TaggedRequest)[CONTEXT];
  if (state === undefined) return;
  const upstream = state.ctx.runtime.upstream!;
  const timeout = () => {
    state.timedOut = true;
    proxyReq.destroy(new Error('upstream timed out'));
  };
  // An idle timeout: Kong's read_timeout is the longest wait between two reads from the upstream.
  proxyReq.setTimeout(upstream.readTimeout, timeout);
  proxyReq.once('socket', (socket: Socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(timeout, upstream.connectTimeout);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
});

proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => {
  const state = (req as TaggedRequest)[CONTEXT];
  if (state === undefined) return;
  const ctx = state.ctx;
  const h = proxyRes.headers;
  const now = Date.now();
  h['via'] = h['via'] === undefined ? VIA_TOKEN : `${h['via']}, ${VIA_TOKEN}`;
  h['x-kong-upstream-latency'] = String(now - ctx.forwardedAt);
  h['x-kong-proxy-latency'] = String(ctx.forwardedAt - ctx.startedAt);
  h['x-kong-request-id'] = ctx.requestId;
  h['x-request-id'] = ctx.requestId;
  ctx.upstreamRespondedAt = now;
});

proxy.on('error', (err: NodeJS.ErrnoException, req: IncomingMessage, res: ServerResponse | Socket) => {
  const state = (req as TaggedRequest)[CONTEXT];
  if (state === undefined || !('setHeader' in res)) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    // The status line is gone: all that is left is to cut the stream so the client sees it is incomplete.
    res.destroy(err);
    return;
  }
  const timedOut = state.timedOut || err.code === 'ETIMEDOUT';
  state.ctx.refusal = timedOut ? 'upstream timeout' : 'upstream error';
  sendError(req, res, timedOut ? 504 : 502, timedOut ? MESSAGES.timeout : MESSAGES.badGateway, state.ctx.requestId, 'text');
});

// A client that goes away mid-request: nothing to answer, nothing to crash on.
proxy.on('econnreset', () => {});

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy', 'proxy-connection', 'upgrade', 'te', 'trailer'];

/** Rewrites the request's headers into what the upstream gets, as Kong does. */
function upstreamHeaders(ctx: RequestContext): void {
  const req = ctx.req;
  const h = req.headers;
  const connection = h['connection'];
  if (connection !== undefined) {
    for (const name of connection.split(',')) {
      const n = name.trim().toLowerCase();
      if (n !== '' && n !== 'host') delete h[n];
    }
  }
  const te = h['te'] as string | undefined;
  for (const name of HOP_BY_HOP) if (h[name] !== undefined) delete h[name];
  if (te !== undefined && /\btrailers\b/i.test(te)) h['te'] = 'trailers';

  const ip = req.socket.remoteAddress ?? '';
  const xff = h['x-forwarded-for'];
  h['x-forwarded-for'] = xff === undefined ? ip : `${xff}, ${ip}`;
  h['x-forwarded-proto'] = 'http';
  const host = h.host;
  if (host !== undefined) h['x-forwarded-host'] = stripPort(host);
  else delete h['x-forwarded-host'];
  h['x-forwarded-port'] = String(req.socket.localPort);
  h['x-forwarded-path'] = ctx.rawPath;
  const prefix = ctx.match.strippedPrefix;
  if (prefix !== '' && prefix !== '/') h['x-forwarded-prefix'] = prefix;
  else if (h['x-forwarded-prefix'] !== undefined) delete h['x-forwarded-prefix'];
  h['x-real-ip'] = ip;
  const via = h['via'];
  h['via'] = via === undefined ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`;
  h['x-kong-request-id'] = ctx.requestId;
  if (!ctx.match.route.preserve_host || host === undefined) h.host = ctx.runtime.upstream!.hostHeader;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Sends the request to the route's service and streams the answer back. */
export function forward(ctx: RequestContext): void {
  const req = ctx.req as TaggedRequest;
  const upstream = ctx.runtime.upstream!;
  upstreamHeaders(ctx);
  req.url = ctx.rawQuery === null ? ctx.match.upstreamPath : `${ctx.match.upstreamPath}?${ctx.rawQuery}`;
  req[CONTEXT] = { ctx, timedOut: false };
  ctx.forwardedAt = Date.now();
  proxy.web(req, ctx.res, {
    target: upstream as unknown as httpProxy.ProxyTargetUrl,
    agent: upstream.protocol === 'https:' ? httpsAgent : httpAgent,
    buffer: ctx.body === undefined ? undefined : Readable.from([ctx.body]),
  });
}

/** Closes pooled upstream connections (on shutdown). */
export function closeUpstreamConnections(): void {
  httpAgent.destroy();
  httpsAgent.destroy();
}
