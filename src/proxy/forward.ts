import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { RequestContext } from './context';
import { MESSAGES } from './respond';
import { hasResponsePhase, ResponseHead } from './response-head';
import { hasBody, lingerIfBodyPending } from './linger';
import { log } from '../log';
import { VIA_TOKEN } from '../version';
import { closeUndiciPools, sendUndici } from './forward-undici';
import { tlsConnectOptions } from './upstream-tls-options';
import type { UpstreamTls } from '../config/upstream-tls';
import type { UpstreamTarget } from '../config/snapshot';
import { leaseTarget, NO_PEER_MESSAGE, type TargetLease } from '../balancer';
import { stopUpstreams } from '../balancer/registry';

/**
 * Which client forwards: undici (the default: about a quarter fewer instructions per request, bench/NOTES.md) or
 * node:http (GATEWAY_FORWARDER=http), read once at start. A body-less DELETE/OPTIONS always goes through
 * node:http: undici will not send its `Content-Length: 0`.
 */
const FORWARDER: 'http' | 'undici' = process.env.GATEWAY_FORWARDER === 'http' ? 'http' : 'undici';

// Shared by every snapshot, so a reload keeps upstream connections warm.
const agentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
// One per TLS settings (https.Agent keys its pool by them too, but has no room for the verify depth check).
const httpsAgents = new Map<string, https.Agent>();
const httpsAgentOf = new WeakMap<UpstreamTls, https.Agent>();

function httpsAgentFor(tls: UpstreamTls): https.Agent {
  let agent = httpsAgentOf.get(tls);
  if (agent !== undefined) return agent;
  agent = httpsAgents.get(tls.id);
  if (agent === undefined) {
    agent = new https.Agent({ ...agentOptions, ...tlsConnectOptions(tls) });
    httpsAgents.set(tls.id, agent);
  }
  httpsAgentOf.set(tls, agent);
  return agent;
}

/** One request's way to its upstream, across attempts. */
export interface ForwardState {
  ctx: RequestContext;
  /** The request line's target sent upstream. */
  path: string;
  headers: Array<string | string[]>;
  /** TLS server name (https upstreams): node:https takes it from a Host it can read back, which a header list is not. */
  servername: string | undefined;
  /** The client's request body is streamed upstream (so it cannot be sent twice). */
  streamsBody: boolean;
  /** A body-less DELETE/OPTIONS sent with `Content-Length: 0`. */
  framedEmpty: boolean;
  /** Attempts made so far; the current one is number `attempts`. */
  attempts: number;
  /** Failed attempts counted against the service's `retries`. */
  retried: number;
  /** The one retry granted for a pooled connection found dead (nginx does not count it either). */
  staleRetried: boolean;
  current: Attempt | undefined;
  /** Where the current attempt goes: the service's host, or the target its upstream picked. */
  target: UpstreamTarget;
  /** The balanced target of the current attempt; undefined for a service that names a host. */
  lease: TargetLease | undefined;
  /** Targets that failed for this request (balanced services): a retry goes elsewhere while others are up. */
  failedTargets: Set<number> | undefined;
}

export interface Attempt {
  state: ForwardState;
  n: number;
  /** node:http's request; undefined on undici, which gives `abort` once the request is on a connection. */
  proxyReq: ClientRequest | undefined;
  abort: (() => void) | undefined;
  /** Dropped before undici handed out `abort`: aborted as soon as it does. */
  dropped: boolean;
  socket: Socket | undefined;
  /** The connection was established (or came from the pool). */
  connected: boolean;
  /** The connection came from the keep-alive pool. */
  reused: boolean;
  /** socket.bytesRead when this attempt got the socket: no byte came back while it has not moved. */
  bytesReadBefore: number;
  timedOut: 'connect timeout' | 'read timeout' | undefined;
  failed: boolean;
}

// Listeners shared by every request; each finds its attempt or response through these tags.
const ATTEMPT = Symbol('gateway.attempt');
interface UpstreamRequest extends ClientRequest {
  [ATTEMPT]: Attempt;
}
export const RESPONSE = Symbol('gateway.response');
export interface UpstreamResponse extends IncomingMessage {
  [RESPONSE]?: ServerResponse;
}
const STATE = Symbol('gateway.forward');
interface ClientResponse extends ServerResponse {
  [STATE]?: ForwardState;
}

function onUpstreamSocket(this: UpstreamRequest, socket: Socket): void {
  const attempt = this[ATTEMPT];
  attempt.socket = socket;
  attempt.reused = this.reusedSocket;
  attempt.bytesReadBefore = socket.bytesRead;
  if (!socket.connecting) {
    attempt.connected = true;
    return;
  }
  const timer = setTimeout(onConnectTimeout, attempt.state.target.connectTimeout, attempt);
  socket.once('connect', () => {
    attempt.connected = true;
    clearTimeout(timer);
  });
  socket.once('close', () => clearTimeout(timer));
}

function onConnectTimeout(attempt: Attempt): void {
  attempt.timedOut = 'connect timeout';
  attempt.proxyReq!.destroy(new Error('upstream connect timed out'));
}

/** Stops an attempt: its upstream request is dropped (and its connection with it). */
function dropAttempt(attempt: Attempt): void {
  if (attempt.proxyReq !== undefined) return void attempt.proxyReq.destroy();
  attempt.dropped = true;
  // undici's own abort would put the request back in its queue and open a new connection for it: the socket is
  // closed instead, which fails the request and nothing else.
  if (attempt.socket !== undefined) attempt.socket.destroy();
  else attempt.abort?.();
}

/**
 * An idle timeout: Kong's read_timeout is the longest wait between two reads from the upstream. The socket's idle
 * timer (the request's `timeout` option) also runs while connecting, which is connect_timeout's business.
 */
function onReadTimeout(this: UpstreamRequest): void {
  const attempt = this[ATTEMPT];
  if (!attempt.connected) return;
  attempt.timedOut = 'read timeout';
  this.destroy(new Error('upstream read timed out'));
}

function onUpstreamError(this: UpstreamRequest, err: NodeJS.ErrnoException): void {
  onAttemptFailed(this[ATTEMPT], err);
}

/**
 * Writes the upstream's status and headers (hop-by-hop ones removed, Kong's added) in one `writeHead` with a
 * flat list, then streams the body.
 */
function onUpstreamResponse(this: UpstreamRequest, upRes: UpstreamResponse): void {
  const ctx = this[ATTEMPT].state.ctx;
  this[ATTEMPT].state.lease?.responded(upRes.statusCode!);
  const res = ctx.res;
  // An upstream that dies mid-body (reset, short of its Content-Length, read timeout) must cut the client's
  // stream too: left alone, the client would wait for the rest forever.
  upRes[RESPONSE] = res;
  upRes.on('close', cutIfIncomplete); // emitted once: `on` spares the wrapper `once` allocates
  ctx.upstreamStatus = upRes.statusCode!;
  const list = clientHeaders(ctx, upRes.headers);
  if (!ctx.req.complete && this[ATTEMPT].state.streamsBody) answeredBeforeBody(ctx.req, res, this[ATTEMPT]);
  if (hasResponsePhase(ctx.chain)) return filterResponse(ctx, upRes, list);
  if (upRes.statusMessage) res.writeHead(upRes.statusCode!, upRes.statusMessage, list);
  else res.writeHead(upRes.statusCode!, list);
  relayBody(upRes);
}

export function relayBody(upRes: UpstreamResponse): void {
  upRes.on('data', relayChunk);
  upRes.on('end', relayEnd);
}

/** Runs the response-phase plugins on the upstream's answer; the body too, when one asked for it whole. */
export function filterResponse(ctx: RequestContext, upRes: UpstreamResponse, list: Array<string | string[]>): void {
  const res = ctx.res;
  const head = new ResponseHead(upRes.statusCode!, list, true);
  head.runHeaderFilters(ctx, ctx.chain);
  const writeHead = () => {
    if (head.status === upRes.statusCode && upRes.statusMessage) res.writeHead(head.status, upRes.statusMessage, head.headers);
    else res.writeHead(head.status, head.headers);
  };
  const declared = Number(upRes.headers['content-length'] ?? 0);
  if (head.bodyFilters === undefined || !mayHaveBody(ctx.req.method, upRes.statusCode!) || declared > head.bodyLimit) {
    writeHead();
    return relayBody(upRes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= head.bodyLimit) {
      chunks.push(chunk);
      return;
    }
    // Too large to hold: sent as it came, unfiltered.
    upRes.off('data', onData);
    upRes.off('end', onEnd);
    log('warn', 'response body too large for its body filters; sent unfiltered', { request_id: ctx.requestId, limit: head.bodyLimit });
    writeHead();
    for (const c of chunks) res.write(c);
    relayChunk.call(upRes, chunk);
    relayBody(upRes);
  };
  const onEnd = () => {
    const body = head.filterBody(ctx, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    head.remove('transfer-encoding');
    head.set('content-length', String(body.length));
    writeHead();
    res.end(body);
  };
  upRes.on('data', onData);
  upRes.once('end', onEnd);
}

/** HEAD answers, 1xx, 204 and 304 carry no body. */
function mayHaveBody(method: string | undefined, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/**
 * The upstream answered before the whole body reached it: its answer must still reach the client (see linger.ts),
 * and once it has, the rest of the body is no longer sent upstream.
 */
export function answeredBeforeBody(req: IncomingMessage, res: ServerResponse, attempt: Attempt): void {
  lingerIfBodyPending(req, res);
  res.once('finish', () => {
    if (!req.complete) dropAttempt(attempt);
  });
}

// The body is relayed by hand rather than with pipe(), which adds and removes half a dozen listeners per response.
export function relayChunk(this: UpstreamResponse, chunk: Buffer): void {
  const res = this[RESPONSE]!;
  if (!res.write(chunk)) {
    this.pause();
    res.once('drain', () => this.resume());
  }
}

function relayEnd(this: UpstreamResponse): void {
  this[RESPONSE]!.end();
}

export function cutIfIncomplete(this: UpstreamResponse): void {
  if (!this.complete) this[RESPONSE]?.destroy();
}

/** A client that leaves before its answer is complete: the upstream request is dropped rather than left to run. */
function dropUpstreamIfUnfinished(this: ClientResponse): void {
  this[STATE]?.lease?.release();
  const attempt = this[STATE]?.current;
  if (!this.writableFinished && attempt !== undefined) dropAttempt(attempt);
}

// Methods a client may expect to be sent twice without harm (RFC 9110 9.2.2).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Whether a failed attempt is tried again, as nginx's `proxy_next_upstream error timeout` would, narrowed to what
 * cannot have reached the upstream's application: the connection never opened (refused, unreachable, connect
 * timeout), or a pooled keep-alive connection turned out dead (reset before any byte came back; idempotent methods
 * only, since the request was written). A request body that was streamed cannot be sent again, so only requests
 * without one (or with a body a plugin already read) are retried. A balanced service also retries, on another
 * target, an idempotent request whose connection failed or timed out before any answer came back (nginx's rule
 * when its non_idempotent flag is off, which Kong leaves off): another target has a fair chance of answering it.
 */
function shouldRetry(state: ForwardState, attempt: Attempt, err: NodeJS.ErrnoException): 'retry' | 'stale' | false {
  const ctx = state.ctx;
  if (state.streamsBody) return false;
  const retriesLeft = state.retried < state.target.retries;
  if (!attempt.connected) return retriesLeft ? 'retry' : false;
  const idempotent = IDEMPOTENT.has(ctx.req.method ?? 'GET');
  const stale =
    attempt.reused &&
    attempt.timedOut === undefined &&
    attempt.socket!.bytesRead === attempt.bytesReadBefore &&
    // UND_ERR_SOCKET: undici's word for a connection the upstream closed
    (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'UND_ERR_SOCKET') &&
    idempotent;
  if (stale && !state.staleRetried) return 'stale';
  if (state.lease !== undefined && idempotent) return retriesLeft ? 'retry' : false;
  if (!stale) return false;
  return retriesLeft ? 'retry' : false;
}

export function onAttemptFailed(attempt: Attempt, err: NodeJS.ErrnoException): void {
  const state = attempt.state;
  if (attempt.failed || attempt.n !== state.attempts) return; // a late error from an attempt already given up on
  attempt.failed = true;
  const ctx = state.ctx;
  const res = ctx.res;
  if (res.headersSent) {
    // The status line is gone: all that is left is to cut the stream so the client sees it is incomplete.
    res.destroy();
    return;
  }
  if (res.destroyed || ctx.req.socket.destroyed) return; // the client is gone: nothing to answer
  const retry = shouldRetry(state, attempt, err);
  const upstream = state.target;
  const lease = state.lease;
  if (lease !== undefined) {
    // Passive health: a timeout, or a connection that failed; a stale pooled connection is the pool's fault, not
    // the target's, and its retry may go to the same target.
    if (retry === 'stale') lease.release();
    else {
      lease.failed(attempt.timedOut !== undefined || err.code === 'ETIMEDOUT' ? 'timeout' : 'tcp');
      (state.failedTargets ??= new Set()).add(lease.index);
    }
  }
  log('warn', 'upstream request failed', {
    request_id: ctx.requestId,
    upstream: `${upstream.host}:${upstream.port}`,
    attempt: attempt.n,
    error: attempt.timedOut ?? err.code ?? err.message,
    stale: retry === 'stale',
    retry: retry !== false,
  });
  if (retry === 'stale') state.staleRetried = true;
  else if (retry === 'retry') state.retried++;
  if (retry !== false) {
    if (lease !== undefined && !nextTarget(state)) return;
    return send(state);
  }
  const timedOut = attempt.timedOut !== undefined || err.code === 'ETIMEDOUT';
  ctx.refusal = timedOut ? 'upstream timeout' : 'upstream error';
  ctx.error(timedOut ? 504 : 502, timedOut ? MESSAGES.timeout : MESSAGES.badGateway, undefined, 'text');
}

/**
 * Takes the balanced target for the next attempt; false (the client answered Kong's 503) when there is none.
 * The Host header (the last of the list) and the TLS server name follow the target, unless a plugin or
 * preserve_host set the Host.
 */
function nextTarget(state: ForwardState): boolean {
  const ctx = state.ctx;
  const lease = leaseTarget(ctx, state.failedTargets);
  state.lease = lease;
  if (lease === undefined) {
    ctx.refusal = 'upstream error';
    ctx.error(503, NO_PEER_MESSAGE);
    return false;
  }
  state.target = lease.target;
  const host = upstreamHost(ctx, lease.target);
  state.headers[state.headers.length - 1] = host;
  if (lease.target.protocol === 'https:') state.servername = serverName(host);
  return true;
}

/** Tries the upstream once more (or for the first time). */
function send(state: ForwardState): void {
  if (FORWARDER === 'undici' && !state.framedEmpty) return sendUndici(state);
  const ctx = state.ctx;
  const req = ctx.req;
  const upstream = state.target;
  const isHttps = upstream.protocol === 'https:';
  const options: https.RequestOptions = {
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: state.path,
    headers: state.headers as unknown as http.OutgoingHttpHeaders,
    agent: isHttps ? httpsAgentFor(upstream.tls!) : httpAgent,
    // Given here rather than through setTimeout(), which adds two listeners and two closures per request.
    timeout: upstream.readTimeout,
  };
  if (isHttps) options.servername = state.servername;
  const proxyReq = (isHttps ? https : http).request(options) as UpstreamRequest;
  const attempt: Attempt = {
    state,
    n: ++state.attempts,
    proxyReq,
    abort: undefined,
    dropped: false,
    socket: undefined,
    connected: false,
    reused: false,
    bytesReadBefore: 0,
    timedOut: undefined,
    failed: false,
  };
  proxyReq[ATTEMPT] = attempt;
  state.current = attempt;
  proxyReq.on('socket', onUpstreamSocket); // 'socket' and 'response' come once per request: no `once` wrappers
  proxyReq.on('timeout', onReadTimeout);
  proxyReq.on('error', onUpstreamError);
  proxyReq.on('response', onUpstreamResponse);
  if (ctx.body !== undefined) proxyReq.end(ctx.body);
  else if (state.streamsBody && ctx.bodyLimit !== undefined) relayCounted(attempt, ctx.bodyLimit, proxyReq);
  else if (state.streamsBody) req.pipe(proxyReq);
  else proxyReq.end();
}

/**
 * Streams a body of unknown length upstream while counting it (request-size-limiting): once it passes `limit`,
 * the upstream request is dropped and the client is refused, without the body ever being held whole.
 */
export function relayCounted(attempt: Attempt, limit: number, upstreamBody: Writable): void {
  const ctx = attempt.state.ctx;
  const req = ctx.req;
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= limit) {
      if (!upstreamBody.write(chunk)) {
        req.pause();
        upstreamBody.once('drain', () => req.resume());
      }
      return;
    }
    req.off('data', onData);
    req.off('end', onEnd);
    // The upstream already answered: its answer stands (the rest of the body is dropped once it is sent).
    if (ctx.res.headersSent) return;
    attempt.failed = true; // the upstream error that follows is this refusal's, not a failure to report
    dropAttempt(attempt);
    ctx.refusal = 'body too large';
    ctx.refusedBy = 'request-size-limiting';
    ctx.error(ctx.bodyLimitStatus, MESSAGES.sizeLimit);
  };
  const onEnd = () => upstreamBody.end();
  req.on('data', onData);
  req.once('end', onEnd);
}

// `expect` too: the client already had its 100 Continue from the gateway (nginx drops it as well).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect'];
// Never dropped because a Connection header names them: framing is redone by the gateway on each side, and the
// hop-by-hop headers are never copied anyway (TE is read for `trailers`: RFC 9110 wants it named in Connection).
const NEVER_NAMED = new Set(['', 'host', 'content-length', 'transfer-encoding', ...HOP_BY_HOP]);
// Headers not copied from the client to the upstream: hop-by-hop, or set by the gateway below.
const NOT_COPIED_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'via',
  'x-kong-request-id',
]);
// Headers the gateway sets on the client's response below.
const SET_DOWNSTREAM = new Set(['connection', 'via', 'x-kong-upstream-latency', 'x-kong-proxy-latency', 'x-kong-request-id', 'x-request-id']);
// Headers not copied from the upstream's response to the client: hop-by-hop, or set by the gateway.
const NOT_COPIED_DOWNSTREAM = new Set([...HOP_BY_HOP, ...SET_DOWNSTREAM]);
// The framing towards an HTTP/1.0 client is the end of the connection, never chunks.
const NOT_COPIED_TO_HTTP10 = new Set([...NOT_COPIED_DOWNSTREAM, 'transfer-encoding']);

/** The other headers a Connection header names as hop-by-hop; undefined when it names none (the usual case). */
function namedHopByHop(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return undefined;
  const named = new Set<string>();
  for (const name of connection.split(',')) {
    const n = name.trim().toLowerCase();
    if (!NEVER_NAMED.has(n)) named.add(n);
  }
  return named;
}

/**
 * Removes the headers a client's Connection header names (RFC 9110 7.6.1) as the request arrives, so that what
 * the gateway and its plugins set afterwards (X-Consumer-*, X-Anonymous-Consumer, X-Request-Id, …) can never be
 * removed by a client naming it. Nothing to do in the usual case (no Connection, or just keep-alive or close).
 */
export function dropConnectionNamed(h: IncomingHttpHeaders): void {
  const named = namedHopByHop(h.connection);
  if (named === undefined) return;
  for (const name of named) if (h[name] !== undefined) delete h[name];
}

/** A header's value, unless the Connection header named it hop-by-hop. */
function endToEnd(h: IncomingHttpHeaders, name: string, named: Set<string> | undefined): string | undefined {
  return named !== undefined && named.has(name) ? undefined : (h[name] as string | undefined);
}

/**
 * Copies `h` into the flat [name, value, …] list node:http writes without a setHeader (validation, a header map)
 * per header, leaving out `skipped` and what the Connection header names.
 */
function copyHeaders(h: IncomingHttpHeaders, skipped: Set<string>, named: Set<string> | undefined, list: Array<string | string[]>): void {
  for (const name in h) {
    if (!isCopied(name, skipped, named)) continue;
    const value = h[name];
    if (value !== undefined) list.push(name, value);
  }
}

function isCopied(name: string, skipped: Set<string>, named: Set<string> | undefined): boolean {
  return !skipped.has(name) && !(named !== undefined && named.has(name));
}

/**
 * A body-less DELETE or OPTIONS is framed explicitly (Content-Length: 0), so the upstream does not wait for a body.
 * A chunked one keeps its body (http-proxy, used before, sent the chunks after a Content-Length: 0).
 */
function framedEmpty(req: IncomingMessage): boolean {
  const h = req.headers;
  return (req.method === 'DELETE' || req.method === 'OPTIONS') && !h['content-length'] && h['transfer-encoding'] === undefined;
}

/**
 * The headers the upstream gets, as Kong sends them. What the client's Connection header named is already gone
 * (dropConnectionNamed, on arrival).
 */
export function upstreamHeaders(ctx: RequestContext, emptyBody: boolean): Array<string | string[]> {
  const req = ctx.req;
  const h = req.headers;
  const list: Array<string | string[]> = [];
  if (emptyBody) {
    const { 'content-length': _length, ...rest } = h;
    copyHeaders(rest, NOT_COPIED_UPSTREAM, undefined, list);
    list.push('content-length', '0');
  } else copyHeaders(h, NOT_COPIED_UPSTREAM, undefined, list);
  const te = h['te'] as string | undefined;
  if (te !== undefined && /\btrailers\b/i.test(te)) list.push('te', 'trailers');

  const client = ctx.clientIp;
  const xff = h['x-forwarded-for'] as string | undefined;
  const host = h.host;
  // Kong: a trusted proxy's X-Forwarded-Proto/Host/Port/Path/Prefix are passed on; anyone else's are replaced.
  const trusted = ctx.clientAddresses.trustsPeer(req) ? h : undefined;
  const hostSent = trusted?.['x-forwarded-host'] ?? (host === undefined ? undefined : hostWithoutPort(host));
  // The peer's address is read only when appended: each read of remoteAddress goes through several socket getters.
  list.push('x-forwarded-for', xff === undefined ? client : `${xff}, ${req.socket.remoteAddress ?? ''}`, 'x-forwarded-proto', trusted?.['x-forwarded-proto'] ?? ctx.scheme);
  if (hostSent !== undefined) list.push('x-forwarded-host', hostSent);
  list.push('x-forwarded-port', trusted?.['x-forwarded-port'] ?? String(req.socket.localPort));
  list.push('x-forwarded-path', trusted?.['x-forwarded-path'] ?? ctx.rawPath);
  const prefix = trusted?.['x-forwarded-prefix'] ?? ctx.match.strippedPrefix;
  if (prefix !== '' && prefix !== '/') list.push('x-forwarded-prefix', prefix);
  const via = h.via;
  list.push('x-real-ip', client, 'via', via === undefined ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`, 'x-kong-request-id', ctx.requestId);
  list.push('host', upstreamHost(ctx));
  return list;
}

/**
 * The headers the client gets: the upstream's end-to-end ones and Kong's. `connection` replaces the gateway's own
 * Connection value (a WebSocket's 101 says `upgrade`).
 */
export function clientHeaders(ctx: RequestContext, h: IncomingHttpHeaders, connection?: string): Array<string | string[]> {
  const named = namedHopByHop(h['connection']);
  const list: Array<string | string[]> = [];
  const skipped = downstreamSkipped(ctx);
  if (ctx.responseHeaders !== undefined) addPluginHeaders(ctx.responseHeaders, h, skipped, named, list);
  copyHeaders(h, skipped, named, list);
  return addGatewayResponseHeaders(ctx, list, endToEnd(h, 'via', named), connection);
}

/** The upstream's response headers not copied to this request's client. */
export function downstreamSkipped(ctx: RequestContext): Set<string> {
  return ctx.req.httpVersionMinor === 0 ? NOT_COPIED_TO_HTTP10 : NOT_COPIED_DOWNSTREAM;
}

/** Whether a response's Connection header names other headers hop-by-hop (the unusual case). */
export function namesHopByHop(connection: string | string[] | undefined): boolean {
  return namedHopByHop(connection as string | undefined) !== undefined;
}

/**
 * Appends Kong's response headers to `list`, the upstream's end-to-end headers: `via` is the upstream's Via, if
 * any; `connection` replaces the gateway's own Connection value (a WebSocket's 101 says `upgrade`).
 */
export function addGatewayResponseHeaders(ctx: RequestContext, list: Array<string | string[]>, via: string | undefined, connection?: string): Array<string | string[]> {
  const now = Date.now();
  ctx.upstreamRespondedAt = now;
  list.push(
    // The client connection's fate is the client's and the gateway's business, not the upstream's.
    'connection',
    connection ?? (ctx.res.shouldKeepAlive ? 'keep-alive' : 'close'),
    'via',
    via === undefined ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`,
    'x-kong-upstream-latency',
    String(now - ctx.forwardedAt),
    'x-kong-proxy-latency',
    String(ctx.forwardedAt - ctx.startedAt),
    'x-kong-request-id',
    ctx.requestId,
    'x-request-id',
    ctx.requestId,
  );
  return list;
}

/**
 * Puts the headers plugins added first, leaving out any the upstream or the gateway also sends: theirs win, as they
 * did when plugins used res.setHeader and writeHead's list replaced those of the same name.
 */
function addPluginHeaders(
  added: readonly string[],
  h: IncomingHttpHeaders,
  skipped: Set<string>,
  named: Set<string> | undefined,
  list: Array<string | string[]>,
): void {
  for (let i = 0; i < added.length; i += 2) {
    const name = lowerCaseName(added[i]);
    const fromUpstream = h[name] !== undefined && isCopied(name, skipped, named);
    if (!fromUpstream && !SET_DOWNSTREAM.has(name)) list.push(added[i], added[i + 1]);
  }
}

// Plugins add the same few names on every request (rate-limiting's five X-RateLimit-* and RateLimit-*): each is
// lower-cased once, and the lower-cased string, used as a property key below, is looked up in V8's string table once
// rather than per request. Bounded: names a config could make up are few, anything past the bound is done each time.
const lowerCased = new Map<string, string>();
const MAX_LOWER_CASED = 512;

function lowerCaseName(name: string): string {
  let lower = lowerCased.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (lowerCased.size < MAX_LOWER_CASED) lowerCased.set(name, lower);
  }
  return lower;
}

// The Host header of the last request and that host without its port: traffic repeats the same few hosts.
let lastHost = '';
let lastHostName = '';

/** stripPort for the Host header, remembered for the next request with the same one. */
function hostWithoutPort(host: string): string {
  if (host !== lastHost) {
    lastHostName = stripPort(host);
    lastHost = host;
  }
  return lastHostName;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The Host header sent upstream. */
export function upstreamHost(ctx: RequestContext, target: UpstreamTarget = ctx.runtime.upstream!): string {
  if (ctx.upstreamHost !== undefined) return ctx.upstreamHost;
  const host = ctx.req.headers.host;
  return ctx.match.route.preserve_host && host !== undefined ? host : target.hostHeader;
}

/** The TLS server name: the Host header sent upstream, port removed; none for an IP address (as node:https). */
export function serverName(hostHeader: string): string {
  const host = stripPort(hostHeader);
  const name = host.startsWith('[') ? host.slice(1, -1) : host;
  return isIP(name) === 0 ? name : '';
}

/** Sends the request to the route's service and streams the answer back. */
export function forward(ctx: RequestContext): void {
  const emptyBody = framedEmpty(ctx.req);
  const state: ForwardState = {
    ctx,
    path: ctx.rawQuery === null ? ctx.match.upstreamPath : `${ctx.match.upstreamPath}?${ctx.rawQuery}`,
    headers: upstreamHeaders(ctx, emptyBody),
    servername: ctx.runtime.upstream!.protocol === 'https:' ? serverName(upstreamHost(ctx)) : undefined,
    streamsBody: ctx.body === undefined && !emptyBody && hasBody(ctx.req.headers),
    framedEmpty: emptyBody,
    attempts: 0,
    retried: 0,
    staleRetried: false,
    current: undefined,
    target: ctx.runtime.upstream!,
    lease: undefined,
    failedTargets: undefined,
  };
  const res = ctx.res as ClientResponse;
  res[STATE] = state;
  // `on`, not `once`: a response closes once, and `once` wraps the listener in a new closure per request.
  res.on('close', dropUpstreamIfUnfinished);
  ctx.forwardedAt = Date.now();
  if (ctx.runtime.balanced !== undefined && !nextTarget(state)) return;
  send(state);
}

/** Closes pooled upstream connections (on shutdown). */
export function closeUpstreamConnections(): void {
  httpAgent.destroy();
  for (const agent of httpsAgents.values()) agent.destroy();
  httpsAgents.clear();
  closeUndiciPools();
  stopUpstreams();
}
