import http, { IncomingMessage, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { RequestContext } from './context';
import type { UpstreamTarget } from '../config/snapshot';
import { leaseTarget, NO_PEER_MESSAGE, type TargetLease } from '../balancer';
import {
  clientHeaders,
  cutIfIncomplete,
  filterResponse,
  relayBody,
  RESPONSE,
  serverName,
  upstreamHeaders,
  upstreamHost,
  type UpstreamResponse,
} from './forward';
import { hasBody } from './linger';
import { MESSAGES } from './respond';
import { hasResponsePhase, ResponseHead } from './response-head';
import { log } from '../log';
import { tlsConnectOptions } from './upstream-tls-options';
import type { UpstreamTls } from '../config/upstream-tls';

/*
 * WebSocket upgrades, as Kong proxies them (kong/runloop/handler.lua, kong/templates/nginx_kong.lua): only a request
 * whose Upgrade is `websocket` (any case) is sent upstream as an upgrade, with `Connection: keep-alive, Upgrade` and
 * `Upgrade: websocket`; any other Upgrade is dropped as hop-by-hop and the request goes as plain HTTP. The handshake
 * runs the pipeline of any request (routing, access-phase plugins, their refusals written on the client's socket);
 * the upstream's 101 is relayed with Kong's headers, then bytes flow both ways untouched until either side closes.
 */

const PARSER_UPGRADE = Symbol('gateway.parserUpgrade');

/** A handshake Kong proxies as an upgrade: `Upgrade: websocket` in any case, and no body. */
export function isWebSocketHandshake(h: IncomingHttpHeaders): boolean {
  const upgrade = h.upgrade;
  return upgrade !== undefined && upgrade.length === 9 && upgrade.toLowerCase() === 'websocket' && !hasBody(h);
}

/**
 * The proxy listener's request class. Node's parser flags a request with `Connection: upgrade` and an Upgrade header,
 * then reads `upgrade` once the headers are in to decide whether the server's 'upgrade' listener takes it: here it
 * is true only for a WebSocket handshake, so any other upgrade (h2c, …) stays a plain request, as it is for Kong.
 */
export class ProxyRequest extends IncomingMessage {
  declare [PARSER_UPGRADE]: boolean | null;
}
Object.defineProperty(ProxyRequest.prototype, 'upgrade', {
  configurable: true,
  get(this: ProxyRequest): boolean {
    return this[PARSER_UPGRADE] === true && isWebSocketHandshake(this.headers);
  },
  set(this: ProxyRequest, value: boolean | null) {
    this[PARSER_UPGRADE] = value;
  },
});

/**
 * A handshake's response, bound to the socket Node handed over with it: the gateway's own answers (401, 429, 404, a
 * 502) are written on it as on any response, and the connection closes after them (its HTTP parser is gone). A 101
 * leaves the socket to the tunnel; the response's 'close' (the access log line, the log phase) comes when it ends.
 */
export class UpgradeResponse extends ServerResponse {
  constructor(
    req: IncomingMessage,
    readonly clientSocket: Socket,
    /** What the client sent after its handshake's head: the first bytes of the tunnel. */
    readonly head: Buffer,
  ) {
    super(req);
    this.shouldKeepAlive = false;
    this.assignSocket(clientSocket);
    this.once('finish', closeUnlessUpgraded);
  }
}

function closeUnlessUpgraded(this: UpgradeResponse): void {
  if (this.statusCode !== 101) this.clientSocket.destroySoon();
}

function ignore(): void {}

/**
 * Takes over a socket Node handed to the 'upgrade' listener (its errors then end in its 'close') and hands the
 * handshake with its response to `handle` once the answers to the requests pipelined before it are written: they
 * go first, as nginx answers in order.
 */
export function acceptUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, handle: (req: IncomingMessage, res: UpgradeResponse) => void): void {
  socket.on('error', ignore);
  whenAnswered(socket, () => {
    socket.setTimeout(0); // a keep-alive timer the previous answer may have left
    handle(req, new UpgradeResponse(req, socket, head));
  });
}

/** Node's response still being written on the socket, for a request before this one. */
function pendingResponse(socket: Socket): ServerResponse | null | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
}

function whenAnswered(socket: Socket, then: () => void): void {
  const pending = pendingResponse(socket);
  if (pending === null || pending === undefined) return then();
  pending.once('finish', () => {
    // The next queued answer, if any, has the socket now; an answer that closed the connection ends it all.
    if (socket.writable) whenAnswered(socket, then);
  });
}

/** Where a handshake connects. */
export interface UpgradeTarget {
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly port: number;
  /** TLS server name (https): the one the forwarder sends, '' for none. */
  readonly servername: string | undefined;
  /** The service's TLS settings (https), as the forwarder uses them. */
  readonly tls: UpstreamTls | undefined;
}

/** Where an attempt connects, for the target the balancer leased it (the service's host when it names no upstream). */
export function upgradeTarget(ctx: RequestContext, target: UpstreamTarget): UpgradeTarget {
  return {
    protocol: target.protocol,
    host: target.host,
    port: target.port,
    servername: target.protocol === 'https:' ? serverName(upstreamHost(ctx, target)) : undefined,
    tls: target.tls,
  };
}

/** Open tunnels' client sockets, closed when the gateway stops. */
export type Tunnels = Set<Socket>;

/** One handshake's way to its upstream, across attempts. */
interface Handshake {
  ctx: RequestContext;
  res: UpgradeResponse;
  path: string;
  headers: Array<string | string[]>;
  /** Failed connection attempts, counted against the service's `retries`. */
  retried: number;
  /** The current attempt, until the upstream's answer is over (or the tunnel open). */
  request: http.ClientRequest | undefined;
  /** The current attempt's target, held until the client's connection closes (least-connections counts tunnels). */
  lease: TargetLease | undefined;
  /** Targets that failed for this handshake: the next attempt goes elsewhere when it can. */
  failedTargets: Set<number> | undefined;
  tunnels: Tunnels;
}

/** Sends the handshake upstream and relays its answer: a tunnel for a 101, the response otherwise. */
export function proxyUpgrade(ctx: RequestContext, res: UpgradeResponse, tunnels: Tunnels): void {
  const headers = upstreamHeaders(ctx, false);
  // nginx_kong.lua's $upstream_connection and $upstream_upgrade for a WebSocket handshake; Host stays last, set
  // for each attempt's target.
  headers.splice(headers.length - 2, 0, 'connection', 'keep-alive, Upgrade', 'upgrade', 'websocket');
  const hs: Handshake = {
    ctx,
    res,
    path: ctx.rawQuery === null ? ctx.match.upstreamPath : `${ctx.match.upstreamPath}?${ctx.rawQuery}`,
    headers,
    retried: 0,
    request: undefined,
    lease: undefined,
    failedTargets: undefined,
    tunnels,
  };
  // A client that leaves before the upstream's answer is over: the upstream request goes too.
  res.clientSocket.once('close', () => {
    hs.request?.destroy();
    hs.lease?.release();
  });
  ctx.forwardedAt = Date.now();
  attempt(hs);
}

function connectTo(target: UpgradeTarget): Socket {
  // Half-open allowed: an end from one side is passed on while the other may still send (see relay).
  const options = { host: target.host, port: target.port, allowHalfOpen: true, noDelay: true };
  if (target.protocol === 'http:') return net.connect(options);
  const settings = target.tls === undefined ? undefined : tlsConnectOptions(target.tls);
  return tls.connect({ ...settings, ...options, servername: target.servername, ALPNProtocols: ['http/1.1'] });
}

function attempt(hs: Handshake): void {
  const ctx = hs.ctx;
  const lease = leaseTarget(ctx, hs.failedTargets);
  if (lease === undefined) {
    ctx.refusal = 'upstream error';
    return ctx.error(503, NO_PEER_MESSAGE);
  }
  hs.lease = lease;
  const upstream = lease.target;
  hs.headers[hs.headers.length - 1] = upstreamHost(ctx, upstream);
  const target = upgradeTarget(ctx, upstream);
  let connected = false;
  let timedOut: 'connect timeout' | 'read timeout' | undefined;
  const onReadTimeout = () => {
    timedOut = 'read timeout';
    request.destroy(new Error('upstream read timed out'));
  };
  const createConnection = () => {
    const socket = connectTo(target);
    const timer = setTimeout(() => {
      timedOut = 'connect timeout';
      request.destroy(new Error('upstream connect timed out'));
    }, upstream.connectTimeout);
    socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      connected = true;
      clearTimeout(timer);
      // Kong's read_timeout: the longest wait between two reads of the upstream's answer.
      socket.setTimeout(upstream.readTimeout);
      socket.on('timeout', onReadTimeout);
    });
    socket.once('close', () => clearTimeout(timer));
    return socket;
  };
  let request: http.ClientRequest;
  try {
    request = http.request({ method: ctx.req.method, path: hs.path, headers: hs.headers as unknown as http.OutgoingHttpHeaders, createConnection });
  } catch (err) {
    // A header value node:http will not write (one a plugin set): nothing was sent.
    log('warn', 'upstream request failed', { request_id: ctx.requestId, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message, websocket: true });
    ctx.refusal = 'upstream error';
    return ctx.error(502, MESSAGES.badGateway, undefined, 'text');
  }
  hs.request = request;
  request.on('error', (err: NodeJS.ErrnoException) => failed(hs, request, err, connected, timedOut));
  request.once('response', (upRes: UpstreamResponse) => relayResponse(hs, upRes));
  request.once('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    upSocket.off('timeout', onReadTimeout);
    switched(hs, upRes, upSocket, upHead);
  });
  request.end();
}

/** An attempt failed before the upstream's answer: tried again (see below), else Kong's 502 or 504. */
function failed(hs: Handshake, request: http.ClientRequest, err: NodeJS.ErrnoException, connected: boolean, timedOut: string | undefined): void {
  if (hs.request !== request) return; // a late error from an attempt given up on, or from an open tunnel
  hs.request = undefined;
  const { ctx, res } = hs;
  if (res.headersSent) {
    res.destroy(); // mid-body: the client sees the answer is incomplete
    return;
  }
  if (res.clientSocket.destroyed) return;
  const lease = hs.lease!;
  const upstream = lease.target;
  // Passive health, as for any request.
  lease.failed(timedOut !== undefined || err.code === 'ETIMEDOUT' ? 'timeout' : 'tcp');
  if (lease.index !== -1) (hs.failedTargets ??= new Set()).add(lease.index);
  // As for any GET without a body: a connection that never opened is tried again; for a balanced service, also one
  // that failed or timed out before the answer (docs/load-balancing.md, Retries).
  const retry = (!connected || lease.index !== -1) && hs.retried < upstream.retries;
  log('warn', 'upstream request failed', {
    request_id: ctx.requestId,
    upstream: `${upstream.host}:${upstream.port}`,
    attempt: hs.retried + 1,
    error: timedOut ?? err.code ?? err.message,
    websocket: true,
    retry,
  });
  if (retry) {
    hs.retried++;
    return attempt(hs);
  }
  const timeout = timedOut !== undefined || err.code === 'ETIMEDOUT';
  ctx.refusal = timeout ? 'upstream timeout' : 'upstream error';
  ctx.error(timeout ? 504 : 502, timeout ? MESSAGES.timeout : MESSAGES.badGateway, undefined, 'text');
}

/** The upstream answered the handshake with something else than a 101: relayed as any response. */
function relayResponse(hs: Handshake, upRes: UpstreamResponse): void {
  const { ctx, res } = hs;
  hs.lease?.responded(upRes.statusCode!);
  upRes[RESPONSE] = res;
  upRes.once('close', cutIfIncomplete);
  const list = clientHeaders(ctx, upRes.headers);
  if (hasResponsePhase(ctx.chain)) return filterResponse(ctx, upRes, list);
  if (upRes.statusMessage) res.writeHead(upRes.statusCode!, upRes.statusMessage, list);
  else res.writeHead(upRes.statusCode!, list);
  relayBody(upRes);
}

/**
 * The upstream switched protocols: its 101 goes to the client with Kong's headers (`Connection: upgrade`, as nginx
 * writes it; its Upgrade only when it is the websocket asked for, as Kong's header filter keeps it), then the tunnel.
 */
function switched(hs: Handshake, upRes: IncomingMessage, upSocket: Socket, upHead: Buffer): void {
  hs.request = undefined;
  const { ctx, res } = hs;
  hs.lease?.responded(101);
  upSocket.on('error', ignore); // its end is the socket's 'close', which closes the tunnel
  if (res.clientSocket.destroyed) {
    upSocket.destroy();
    return;
  }
  let list = clientHeaders(ctx, upRes.headers, 'upgrade');
  const upgrade = upRes.headers.upgrade;
  if (upgrade !== undefined && upgrade.toLowerCase() === 'websocket') list.push('upgrade', upgrade);
  if (hasResponsePhase(ctx.chain)) {
    const head = new ResponseHead(101, list, true);
    head.runHeaderFilters(ctx, ctx.chain);
    list = head.headers;
  }
  res.writeHead(101, upRes.statusMessage || 'Switching Protocols', list);
  res.end();
  openTunnel(hs, upSocket, upHead);
}

/**
 * Pipes bytes both ways, untouched. Closing follows nginx's upgraded connections: without a byte either way for
 * read_timeout, or with a side not taking bytes for write_timeout, both are closed; an end (FIN) from one side is
 * passed on to the other, and a side that goes away (reset, error, timeout) takes the other with it.
 */
function openTunnel(hs: Handshake, upSocket: Socket, upHead: Buffer): void {
  const client = hs.res.clientSocket;
  const upstream = hs.lease!.target;
  const tunnels = hs.tunnels;
  tunnels.add(client);
  client.once('close', () => tunnels.delete(client));
  const requestId = hs.ctx.requestId;
  const closeBoth = (why: 'read timeout' | 'write timeout') => {
    if (client.destroyed && upSocket.destroyed) return;
    log('info', 'websocket connection closed', { request_id: requestId, reason: why });
    client.destroy();
    upSocket.destroy();
  };
  // The upstream socket's idle timer runs on reads and writes alike: it measures silence in both directions.
  upSocket.setTimeout(upstream.readTimeout, () => closeBoth('read timeout'));
  if (upHead.length > 0) client.write(upHead);
  if (hs.res.head.length > 0) upSocket.write(hs.res.head);
  relay(client, upSocket, upstream.writeTimeout, closeBoth);
  relay(upSocket, client, upstream.writeTimeout, closeBoth);
  closeWith(client, upSocket);
  closeWith(upSocket, client);
}

/** Copies `from` to `to` with back-pressure; `from`'s end ends `to`. */
function relay(from: Socket, to: Socket, stallLimit: number, closeBoth: (why: 'write timeout') => void): void {
  from.on('data', (chunk: Buffer) => {
    if (to.write(chunk)) return;
    from.pause();
    const stalled = setTimeout(closeBoth, stallLimit, 'write timeout');
    stalled.unref();
    to.once('drain', () => {
      clearTimeout(stalled);
      from.resume();
    });
  });
  from.once('end', () => to.end());
}

/**
 * When `a` closes, `b` goes too, unless `a` closed cleanly after both directions ended: then `b` has ended both ways
 * as well and closes once what it still has to write is written.
 */
function closeWith(a: Socket, b: Socket): void {
  a.once('close', (hadError: boolean) => {
    if (hadError || !(b.writableEnded && b.readableEnded)) b.destroy();
  });
}

/** Closes every open tunnel (the gateway stops). */
export function closeTunnels(tunnels: Tunnels): void {
  for (const socket of tunnels) socket.destroy();
  tunnels.clear();
}
