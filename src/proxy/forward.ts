import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { RequestContext } from './context';
import { MESSAGES, sendError } from './respond';
import { hasBody } from './client-limits';
import { log } from '../log';
import { VIA_TOKEN } from '../version';

// Shared by every snapshot, so a reload keeps upstream connections warm.
const agentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

const CONTEXT = Symbol('gateway.context');
interface TaggedRequest extends IncomingMessage {
  [CONTEXT]?: ForwardState;
}

/** One request's way to its upstream, across attempts. */
interface ForwardState {
  ctx: RequestContext;
  /** Attempts made so far; the current one is number `attempts`. */
  attempts: number;
  /** Failed attempts counted against the service's `retries`. */
  retried: number;
  /** The one retry granted for a pooled connection found dead (nginx does not count it either). */
  staleRetried: boolean;
  current: Attempt | undefined;
}

interface Attempt {
  proxyReq: ClientRequest;
  socket: Socket;
  /** The connection was established (or came from the pool). */
  connected: boolean;
  /** The connection came from the keep-alive pool. */
  reused: boolean;
  /** socket.bytesRead when this attempt got the socket: no byte came back while it has not moved. */
  bytesReadBefore: number;
  timedOut: 'connect timeout' | 'read timeout' | undefined;
}

const RESPONSE = Symbol('gateway.response');
interface TaggedResponse extends IncomingMessage {
  [RESPONSE]?: ServerResponse;
}

const proxy = httpProxy.createProxyServer({ toProxy: true, xfwd: false, ws: false });

// http-proxy emits this from the upstream request's 'socket' event.
proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
  const state = (req as TaggedRequest)[CONTEXT];
  if (state === undefined) return;
  const upstream = state.ctx.runtime.upstream!;
  const socket = proxyReq.socket!;
  const attempt: Attempt = {
    proxyReq,
    socket,
    connected: !socket.connecting,
    reused: proxyReq.reusedSocket,
    bytesReadBefore: socket.bytesRead,
    timedOut: undefined,
  };
  state.current = attempt;
  // An idle timeout: Kong's read_timeout is the longest wait between two reads from the upstream.
  proxyReq.setTimeout(upstream.readTimeout, () => {
    attempt.timedOut = 'read timeout';
    proxyReq.destroy(new Error('upstream read timed out'));
  });
  if (socket.connecting) {
    const timer = setTimeout(() => {
      attempt.timedOut = 'connect timeout';
      proxyReq.destroy(new Error('upstream connect timed out'));
    }, upstream.connectTimeout);
    socket.once('connect', () => {
      attempt.connected = true;
      clearTimeout(timer);
    });
    socket.once('close', () => clearTimeout(timer));
  }
});

proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
  const state = (req as TaggedRequest)[CONTEXT];
  if (state === undefined) return;
  const ctx = state.ctx;
  // An upstream that dies mid-body (reset, short of its Content-Length, read timeout) must cut the client's
  // stream too: left alone, the client would wait for the rest forever.
  (proxyRes as TaggedResponse)[RESPONSE] = res;
  proxyRes.once('close', cutIfIncomplete);
  const h = proxyRes.headers;
  dropHopByHop(h);
  // The client connection's fate is the client's and the gateway's business, not the upstream's.
  h['connection'] = res.shouldKeepAlive ? 'keep-alive' : 'close';
  const now = Date.now();
  h['via'] = h['via'] === undefined ? VIA_TOKEN : `${h['via']}, ${VIA_TOKEN}`;
  h['x-kong-upstream-latency'] = String(now - ctx.forwardedAt);
  h['x-kong-proxy-latency'] = String(ctx.forwardedAt - ctx.startedAt);
  h['x-kong-request-id'] = ctx.requestId;
  h['x-request-id'] = ctx.requestId;
  ctx.upstreamRespondedAt = now;
});

function cutIfIncomplete(this: TaggedResponse): void {
  if (!this.complete) this[RESPONSE]?.destroy();
}

/** A client that leaves before its answer is complete: the upstream request is dropped rather than left to run. */
function dropUpstreamIfUnfinished(this: ServerResponse): void {
  if (!this.writableFinished) (this.req as TaggedRequest)[CONTEXT]?.current?.proxyReq.destroy();
}

// Methods a client may expect to be sent twice without harm (RFC 9110 9.2.2).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Whether a failed attempt is tried again, as nginx's `proxy_next_upstream error timeout` would, narrowed to what
 * cannot have reached the upstream's application: the connection never opened (refused, unreachable, connect
 * timeout), or a pooled keep-alive connection turned out dead (reset before any byte came back; idempotent methods
 * only, since the request was written). A request body that was streamed cannot be sent again, so only requests
 * without one (or with a body a plugin already read) are retried.
 */
function shouldRetry(state: ForwardState, attempt: Attempt | undefined, err: NodeJS.ErrnoException): 'retry' | 'stale' | false {
  const ctx = state.ctx;
  if (ctx.body === undefined && hasBody(ctx.req.headers)) return false;
  if (attempt === undefined || !attempt.connected) return state.retried < ctx.runtime.upstream!.retries ? 'retry' : false;
  const stale =
    attempt.reused &&
    attempt.timedOut === undefined &&
    attempt.socket.bytesRead === attempt.bytesReadBefore &&
    (err.code === 'ECONNRESET' || err.code === 'EPIPE') &&
    IDEMPOTENT.has(ctx.req.method ?? 'GET');
  if (!stale) return false;
  if (!state.staleRetried) return 'stale';
  return state.retried < ctx.runtime.upstream!.retries ? 'retry' : false;
}

function onAttemptFailed(state: ForwardState, n: number, err: NodeJS.ErrnoException): void {
  const ctx = state.ctx;
  const attempt = state.current;
  if (n !== state.attempts) return; // a late error from an attempt already given up on
  const res = ctx.res;
  if (res.headersSent) {
    // The status line is gone: all that is left is to cut the stream so the client sees it is incomplete.
    res.destroy();
    return;
  }
  if (res.destroyed) return; // the client is gone: nothing to answer
  const retry = shouldRetry(state, attempt, err);
  const upstream = ctx.runtime.upstream!;
  log('warn', 'upstream request failed', {
    request_id: ctx.requestId,
    upstream: `${upstream.host}:${upstream.port}`,
    attempt: n,
    error: attempt?.timedOut ?? err.code ?? err.message,
    stale: retry === 'stale',
    retry: retry !== false,
  });
  if (retry === 'stale') state.staleRetried = true;
  else if (retry === 'retry') state.retried++;
  if (retry !== false) return send(state);
  const timedOut = attempt?.timedOut !== undefined || err.code === 'ETIMEDOUT';
  ctx.refusal = timedOut ? 'upstream timeout' : 'upstream error';
  sendError(ctx.req, res, timedOut ? 504 : 502, timedOut ? MESSAGES.timeout : MESSAGES.badGateway, ctx.requestId, 'text');
}

/** Tries the upstream once more (or for the first time). */
function send(state: ForwardState): void {
  const ctx = state.ctx;
  const upstream = ctx.runtime.upstream!;
  const n = ++state.attempts;
  state.current = undefined;
  // http-proxy adds an 'error' and an 'aborted' listener to the request per attempt.
  if (n > 4) ctx.req.setMaxListeners(n + 8);
  proxy.web(
    ctx.req,
    ctx.res,
    {
      target: upstream as unknown as httpProxy.ProxyTargetUrl,
      agent: upstream.protocol === 'https:' ? httpsAgent : httpAgent,
      buffer: ctx.body === undefined ? undefined : Readable.from([ctx.body]),
    },
    (err) => onAttemptFailed(state, n, err as NodeJS.ErrnoException),
  );
}

// A client that goes away mid-request: nothing to answer, nothing to crash on.
proxy.on('econnreset', () => {});

// `expect` too: the client already had its 100 Continue from the gateway (nginx drops it as well).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect'];
// Framing is redone by the gateway on each side: never dropped because a Connection header names it.
const FRAMING = new Set(['', 'host', 'content-length', 'transfer-encoding']);

/** Removes the hop-by-hop headers of one side (those named in its Connection header and the standard ones). */
function dropHopByHop(h: IncomingHttpHeaders): void {
  const connection = h['connection'];
  if (connection !== undefined) {
    for (const name of connection.split(',')) {
      const n = name.trim().toLowerCase();
      if (!FRAMING.has(n)) delete h[n];
    }
  }
  for (const name of HOP_BY_HOP) if (h[name] !== undefined) delete h[name];
}

/** Rewrites the request's headers into what the upstream gets, as Kong does. */
function upstreamHeaders(ctx: RequestContext): void {
  const req = ctx.req;
  const h = req.headers;
  const te = h['te'] as string | undefined;
  dropHopByHop(h);
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
  upstreamHeaders(ctx);
  req.url = ctx.rawQuery === null ? ctx.match.upstreamPath : `${ctx.match.upstreamPath}?${ctx.rawQuery}`;
  const state: ForwardState = { ctx, attempts: 0, retried: 0, staleRetried: false, current: undefined };
  req[CONTEXT] = state;
  ctx.res.once('close', dropUpstreamIfUnfinished);
  ctx.forwardedAt = Date.now();
  send(state);
}

/** Closes pooled upstream connections (on shutdown). */
export function closeUpstreamConnections(): void {
  httpAgent.destroy();
  httpsAgent.destroy();
}
