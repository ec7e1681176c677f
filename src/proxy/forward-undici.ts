import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { buildConnector, Client, Pool, type Dispatcher } from 'undici';
import type { UpstreamTarget } from '../config/snapshot';
import type { RequestContext } from './context';
import {
  addGatewayResponseHeaders,
  answeredBeforeBody,
  clientHeaders,
  downstreamSkipped,
  namesHopByHop,
  cutIfIncomplete,
  filterResponse,
  onAttemptFailed,
  relayCounted,
  RESPONSE,
  type Attempt,
  type ForwardState,
  type UpstreamResponse,
} from './forward';
import { hasResponsePhase } from './response-head';
import { headerNameOf, headerValueOf } from './header-names';
import { addKnownUndiciHeaderNames } from './undici-header-names';
import { tlsConnectOptions } from './upstream-tls-options';

/*
 * The upstream forwarder on undici (the default; GATEWAY_FORWARDER=http for node:http): one Pool per upstream
 * origin, a request dispatched with a handler (no ClientRequest/IncomingMessage per request). What undici does
 * not say by itself is learnt here: whether a request went out on a reused connection and whether anything came
 * back on it (the one retry of a dead pooled connection depends on both), from the socket its headers were written
 * to, which sockets from this module's connector carry a tag for.
 *
 * Where it differs from node:http's forwarder: undici's headers timeout counts from the request's last byte
 * written, not between reads (an answer whose headers trickle in slower than read_timeout in total is a 504);
 * an Upgrade header is dropped on both (hop-by-hop: a WebSocket handshake never reaches either, see upgrade.ts).
 */

addKnownUndiciHeaderNames();

const USES = Symbol('gateway.uses');
interface TaggedSocket extends Socket {
  [USES]: number;
}

interface Origin {
  pool: Pool;
  url: string;
  connect: buildConnector.connector;
}

// Shared by every snapshot (a reload keeps upstream connections warm), one per origin, connect timeout and TLS
// settings.
const origins = new Map<string, Origin>();
const originOf = new WeakMap<UpstreamTarget, Origin>();

function originFor(upstream: UpstreamTarget): Origin {
  let origin = originOf.get(upstream);
  if (origin !== undefined) return origin;
  // Services with different TLS settings (trusted CAs, client certificate) never share a connection.
  const key = `${upstream.protocol}//${upstream.host}:${upstream.port} ${upstream.connectTimeout} ${upstream.tls?.id ?? ''}`;
  origin = origins.get(key);
  if (origin === undefined) {
    const tls = upstream.tls === undefined ? undefined : tlsConnectOptions(upstream.tls);
    const base = buildConnector({ ...tls, timeout: upstream.connectTimeout } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (options, callback) =>
      base(options, (...result) => {
        if (result[1]) (result[1] as TaggedSocket)[USES] = 0;
        callback(...result);
      });
    const url = `${upstream.protocol}//${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
    origin = { pool: new Pool(url, { pipelining: 1, connect }), url, connect };
    origins.set(key, origin);
  }
  originOf.set(upstream, origin);
  return origin;
}

/**
 * The dispatcher for an attempt. After a reused connection failed, a new one: the pool hands out its idle
 * connections oldest first, and the others idle as long are as likely dead.
 */
function dispatcherFor(state: ForwardState, origin: Origin): Dispatcher {
  if (state.current === undefined || !state.current.reused) return origin.pool;
  return new Client(origin.url, { pipelining: 1, connect: origin.connect });
}

/**
 * undici calls a request's onConnect and then, in the same synchronous run, publishes its headers with the socket
 * they are written to: the attempt between the two is the one the socket belongs to.
 */
let dispatching: UndiciAttempt | undefined;
diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => {
  const attempt = dispatching;
  dispatching = undefined;
  const socket = (message as { socket: TaggedSocket }).socket;
  if (attempt === undefined || socket[USES] === undefined) return; // another undici user (fetch) in the process
  attempt.socket = socket;
  attempt.connected = true;
  attempt.reused = socket[USES]++ > 0;
  attempt.bytesReadBefore = socket.bytesRead;
});

/** A response body handed to the response-phase plugins as a stream (node:http's forwarder gives them its own). */
class FilteredBody extends Readable {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  complete = false;
  [RESPONSE]?: ServerResponse;
  resumeUpstream: (() => void) | undefined = undefined;

  constructor(statusCode: number, statusMessage: string, headers: IncomingHttpHeaders) {
    super();
    this.statusCode = statusCode;
    this.statusMessage = statusMessage;
    this.headers = headers;
  }

  override _read(): void {
    this.resumeUpstream?.();
  }
}

class UndiciAttempt implements Attempt, Dispatcher.DispatchHandlers {
  n: number;
  proxyReq = undefined;
  abort: (() => void) | undefined = undefined;
  dropped = false;
  socket: Socket | undefined = undefined;
  connected = false;
  reused = false;
  bytesReadBefore = 0;
  timedOut: 'connect timeout' | 'read timeout' | undefined = undefined;
  failed = false;
  body: FilteredBody | undefined = undefined;
  res: ServerResponse;
  resumeUpstream: (() => void) | undefined = undefined;

  constructor(public state: ForwardState) {
    this.n = ++state.attempts;
    this.res = state.ctx.res;
  }

  onConnect(abort: () => void): void {
    this.abort = abort;
    // Thrown rather than abort(): undici then drops the request before writing it, and keeps the connection.
    if (this.dropped) throw new Error('upstream request dropped');
    dispatching = this;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100 Continue and other interim answers stay on the upstream's side
    const state = this.state;
    state.lease?.responded(statusCode);
    const ctx = state.ctx;
    const res = this.res;
    ctx.upstreamStatus = statusCode;
    const raw = rawHeaders as Buffer[];
    const filtered = hasResponsePhase(ctx.chain);
    let list = filtered || ctx.responseHeaders !== undefined ? undefined : plainClientHeaders(ctx, raw);
    let headers: IncomingHttpHeaders | undefined;
    if (list === undefined) {
      headers = mergeHeaders(raw);
      list = clientHeaders(ctx, headers);
    }
    if (!ctx.req.complete && state.streamsBody) answeredBeforeBody(ctx.req, res, this);
    if (filtered) {
      const body = new FilteredBody(statusCode, statusText, headers!);
      body[RESPONSE] = res;
      body.resumeUpstream = resume;
      body.on('close', cutIfIncomplete);
      this.body = body;
      filterResponse(ctx, body as unknown as UpstreamResponse, list);
      return true;
    }
    if (statusText) res.writeHead(statusCode, statusText, list);
    else res.writeHead(statusCode, list);
    // a bound function of undici's, the same for every response on the connection: no closure per request
    this.resumeUpstream = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.body !== undefined) return this.body.push(chunk);
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resumeUpstream!);
    return false;
  }

  onComplete(): void {
    if (this.body !== undefined) {
      this.body.complete = true;
      this.body.push(null);
    } else this.res.end();
  }

  onError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') this.timedOut = 'connect timeout';
    else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') this.timedOut = 'read timeout';
    if (this.body !== undefined) {
      // Mid-body: the client's stream is cut (the body's close does it), as on node:http.
      this.body.destroy();
      return;
    }
    if (this.dropped) return; // the gateway dropped it: nothing to answer
    onAttemptFailed(this, err as NodeJS.ErrnoException);
  }
}

// Repeated response headers, merged as node:http merges them (and Kong passes them): Set-Cookie kept apart, one
// value kept of the headers that may appear once, the others joined with ", ".
const FIRST_WINS = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'referer',
  'host',
  'authorization',
  'proxy-authorization',
  'if-modified-since',
  'if-unmodified-since',
  'from',
  'location',
  'max-forwards',
  'retry-after',
  'etag',
  'last-modified',
  'server',
  'age',
  'expires',
]);

function mergeHeaders(raw: Buffer[]): IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerNameOf(raw[i]);
    const value = headerValueOf(raw[i + 1]);
    const seen = h[name];
    if (seen === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (seen as string[]).push(value);
    else if (name === 'cookie') h[name] = `${seen}; ${value}`;
    else if (!FIRST_WINS.has(name)) h[name] = `${seen}, ${value}`;
  }
  return h;
}

/** More upstream headers than this go through mergeHeaders (plainClientHeaders compares each with those before). */
const MAX_PLAIN_HEADERS = 32;

/**
 * The client's headers straight from the upstream's raw ones, without the merged object, for the usual answer: no
 * header repeated, no Connection header naming others, not too many headers. Undefined otherwise: mergeHeaders and
 * clientHeaders then do what node:http's merging would. The caller has checked that no plugin added response
 * headers.
 */
function plainClientHeaders(ctx: RequestContext, raw: Buffer[]): Array<string | string[]> | undefined {
  if (raw.length > 2 * MAX_PLAIN_HEADERS) return undefined;
  const skipped = downstreamSkipped(ctx);
  const list: Array<string | string[]> = [];
  let via: string | undefined;
  let connection = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerNameOf(raw[i]);
    const value = headerValueOf(raw[i + 1]);
    if (skipped.has(name)) {
      if (name === 'via') {
        if (via !== undefined) return undefined;
        via = value;
      } else if (name === 'connection') {
        if (connection || namesHopByHop(value)) return undefined;
        connection = true;
      }
      continue;
    }
    for (let j = 0; j < list.length; j += 2) if (list[j] === name) return undefined;
    list.push(name, value);
  }
  return addGatewayResponseHeaders(ctx, list, via);
}

/** The request's headers without Transfer-Encoding, which undici refuses: it frames a streamed body itself. */
function withoutTransferEncoding(list: Array<string | string[]>): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  for (let i = 0; i < list.length; i += 2) if (list[i] !== 'transfer-encoding') out.push(list[i], list[i + 1]);
  return out;
}

async function* relayed(stream: PassThrough): AsyncIterable<Buffer> {
  for await (const chunk of stream) yield chunk as Buffer;
}

/** Tries the upstream once more (or for the first time) through undici. */
export function sendUndici(state: ForwardState): void {
  const ctx = state.ctx;
  const req = ctx.req;
  const upstream = state.target;
  const origin = originFor(upstream);
  const dispatcher = dispatcherFor(state, origin);
  const attempt = new UndiciAttempt(state);
  state.current = attempt;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  let body: Buffer | PassThrough | AsyncIterable<Buffer> | null = null;
  if (ctx.body !== undefined) body = ctx.body;
  else if (state.streamsBody) {
    // Through a stream of its own: undici destroys a body it gives up on, and the client's request must outlive
    // a failed attempt (its answer is a 502).
    const stream = new PassThrough();
    if (ctx.bodyLimit !== undefined) relayCounted(attempt, ctx.bodyLimit, stream);
    else req.pipe(stream);
    // A chunked body stays chunked: given as a stream that has already ended, undici would send a Content-Length.
    body = chunked ? relayed(stream) : stream;
  }
  const headers = chunked ? withoutTransferEncoding(state.headers) : state.headers;
  dispatcher.dispatch(
    {
      path: state.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: headers as unknown as string[],
      body,
      servername: state.servername,
      // Kong's read_timeout, between two reads: undici's body timeout is that; its headers timeout counts from
      // the request's last byte written.
      headersTimeout: upstream.readTimeout,
      bodyTimeout: upstream.readTimeout,
    } as Dispatcher.DispatchOptions,
    attempt,
  );
  if (dispatcher !== origin.pool) void dispatcher.close(); // once its one request is done
}

/** Closes pooled upstream connections (on shutdown). */
export function closeUndiciPools(): void {
  for (const origin of origins.values()) void origin.pool.destroy();
  origins.clear();
}
