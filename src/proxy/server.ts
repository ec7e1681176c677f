import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenAddress } from '../cli/listen';
import { GatewayH2Request, GatewayH2Response, isHttp2 } from './h2';
import { SniContexts, tlsServerOptions, type TlsSettings } from './tls';
import type { Snapshot } from '../config/snapshot';
import { RequestContext, type RequestTrace } from './context';
import { dropConnectionNamed, forward } from './forward';
import { normalizePath } from './paths';
import { runAccess } from './pipeline';
import { MESSAGES, sendError } from './respond';
import {
  answerClientError,
  DEFAULT_CLIENT_TIMEOUTS,
  hasTooManyHeaderLines,
  isBadlyFramed,
  isOnRefusedConnection,
  refuseConnection,
  serverHeaderLimits,
  serverTimeoutOptions,
  watchBody,
  type ClientTimeouts,
} from './client-limits';
import { ConnectionsPerIp, DEFAULT_MAX_CONNECTIONS_PER_IP } from './connections-per-ip';
import { hasBody, setLingerLimits } from './linger';
import { PEER_ADDRESSES, type ClientAddresses } from './client-address';
import { log } from '../log';
import type { Observer } from '../observe/observer';
import { runOuterPhases } from './outer-phases';
import { generateRequestId, requestIdOf } from '../observe/request-id';
import { acceptUpgrade, closeTunnels, ProxyRequest, proxyUpgrade, UpgradeResponse, type Tunnels } from './upgrade';

const CLOSE = { Connection: 'close' };
/** How long an idle client connection stays open (nginx's keepalive_timeout, Kong's 60 s). */
const KEEP_ALIVE_MS = 60_000;

// Client-sent copies of what only the gateway may assert about a caller.
const GATEWAY_ASSERTED_HEADERS = new Set([
  'x-consumer-id',
  'x-consumer-custom-id',
  'x-consumer-username',
  'x-credential-identifier',
  'x-credential-username',
  'x-anonymous-consumer',
  'x-consumer-groups',
  'x-authenticated-groups',
]);

/**
 * Removes every client-sent copy of a gateway-asserted header, in any case, however often repeated (Node has
 * already lower-cased and merged them), and in its underscore spellings, which CGI-style upstreams read as the
 * same header (other underscored headers pass, as in Kong, which sets nginx's `underscores_in_headers on`).
 */
function stripGatewayAsserted(h: IncomingHttpHeaders): void {
  for (const name in h) {
    if (GATEWAY_ASSERTED_HEADERS.has(name) || (name.includes('_') && GATEWAY_ASSERTED_HEADERS.has(name.replace(/_/g, '-')))) {
      delete h[name];
    }
  }
}

export interface ProxyStats {
  connectionsAccepted: number;
  /** Accepted, then reset at once: their address had --max-connections-per-ip open. */
  connectionsRefused: number;
  connectionsActive: number;
  totalRequests: number;
}

export interface ProxyServerOptions {
  /** Replaces sending the request upstream (`gateway explain` records it instead). */
  forward?: (ctx: RequestContext) => void;
  /** Watches every routed request through the pipeline. */
  trace?: RequestTrace;
  /** Kong's (nginx's) 60 s each when absent. */
  clientTimeouts?: ClientTimeouts;
  /** Connections one client address may have open at once (DEFAULT_MAX_CONNECTIONS_PER_IP when absent); null: no cap. */
  maxConnectionsPerIp?: number | null;
  /** Access log and metrics; none when both are off. */
  observer?: Observer;
  /** How the client's address is found (trusted_ips, real_ip_header); the peer's address when absent. */
  clientAddresses?: ClientAddresses;
  /** The default certificate and session ticket keys of the `ssl` listeners; required to open one. */
  tls?: TlsSettings;
}

/** What a request learns of the listener it came in on. */
export interface ListenerInfo {
  readonly tls: boolean;
  /** The bound port (set once listening). */
  port: number;
}

/** The proxy listener. Reads only from the snapshot it holds; `setSnapshot` swaps it in one assignment. */
export class ProxyServer {
  readonly server: http.Server;
  readonly stats: ProxyStats = { connectionsAccepted: 0, connectionsRefused: 0, connectionsActive: 0, totalRequests: 0 };
  private snapshot: Snapshot;
  private readonly timeouts: ClientTimeouts;
  /** null: no cap. */
  readonly maxConnectionsPerIp: number | null;
  private readonly forward: (ctx: RequestContext) => void;
  private readonly trace: RequestTrace | undefined;
  private readonly observer: Observer | undefined;
  private readonly clientAddresses: ClientAddresses;
  /** Open WebSocket tunnels (their client sockets). */
  private readonly tunnels: Tunnels = new Set();
  private readonly tls: TlsSettings | undefined;
  /** The certificates' TLS contexts for the snapshot being served, swapped with it. */
  private sniContexts: SniContexts | undefined;
  /** The listener `server` serves; further listeners each get a server of their own. */
  private readonly mainListener: { tls: boolean; port: number } = { tls: false, port: 0 };
  private mainTaken = false;
  /** Every server this proxy listens with, `server` first. */
  readonly servers: Server[];
  private readonly serverOptions: http.ServerOptions;
  private readonly perIp: ConnectionsPerIp | undefined;

  constructor(snapshot: Snapshot, options: ProxyServerOptions = {}) {
    this.snapshot = snapshot;
    const timeouts = options.clientTimeouts ?? DEFAULT_CLIENT_TIMEOUTS;
    this.timeouts = timeouts;
    this.forward = options.forward ?? forward;
    this.trace = options.trace;
    this.observer = options.observer;
    this.clientAddresses = options.clientAddresses ?? PEER_ADDRESSES;
    // requireHostHeader off: a missing Host gets the gateway's JSON 400 (isBadlyFramed) rather than Node's bare one.
    // ProxyRequest: only WebSocket handshakes reach the 'upgrade' listener (see upgrade.ts).
    this.serverOptions = { keepAliveTimeout: KEEP_ALIVE_MS, requireHostHeader: false, IncomingMessage: ProxyRequest, ...serverTimeoutOptions(timeouts) };
    const max = options.maxConnectionsPerIp === undefined ? DEFAULT_MAX_CONNECTIONS_PER_IP : options.maxConnectionsPerIp;
    this.maxConnectionsPerIp = max;
    this.perIp = max === null ? undefined : new ConnectionsPerIp(max);
    this.tls = options.tls;
    if (this.tls !== undefined) this.sniContexts = new SniContexts(snapshot, undefined);
    const main = this.mainListener;
    this.server = http.createServer(this.serverOptions, (req, res) => this.handle(req, res, main));
    this.servers = [this.server];
    this.watch(this.server, main);
  }

  /** Limits, connection counting and the answers to malformed requests, on every listener. */
  private watch(server: Server, info: ListenerInfo): void {
    setLingerLimits(server as http.Server, this.timeouts.lingering);
    serverHeaderLimits(server as http.Server);
    // A WebSocket handshake goes through the same pipeline, its response bound to the socket Node hands over.
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => acceptUpgrade(req, socket, head, (r, res) => this.handle(r, res, info)));
    const perIp = this.perIp;
    server.on('connection', (socket: Socket) => {
      this.stats.connectionsAccepted++;
      // A trusted proxy carries many clients on its connections: it is not held to one client's cap.
      if (perIp !== undefined && !this.clientAddresses.trustsAddress(socket.remoteAddress) && !perIp.admit(socket)) {
        this.stats.connectionsRefused++;
        return;
      }
      this.stats.connectionsActive++;
      socket.once('close', () => this.stats.connectionsActive--);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const requestId = generateRequestId();
      const status = answerClientError(err, socket, requestId);
      if (status !== undefined) this.observer?.clientError(socket, status, requestId);
    });
    // A failed handshake (no common cipher, a plain-HTTP request on a TLS port, a client gone) ends its connection.
    server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  }

  /**
   * The server for one listener and what its requests learn of it: the first plain listener is `server`, every
   * other listener gets its own (node:https for `ssl`, node:http2 with HTTP/1.1 beside it for `ssl http2`).
   */
  serverFor(listen: ListenAddress): { server: Server; info: ListenerInfo } {
    if (!listen.ssl && !this.mainTaken) {
      this.mainTaken = true;
      return { server: this.server, info: this.mainListener };
    }
    const info = { tls: listen.ssl === true, port: listen.port };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res, info);
    let server: Server;
    if (!listen.ssl) server = http.createServer(this.serverOptions, handler);
    else {
      if (this.tls === undefined) throw new Error(`${listen.host}:${listen.port} ssl: no TLS settings`);
      // A handshake gets the time the request headers get (nginx: client_header_timeout bounds the handshake too).
      const tlsOptions = { ...tlsServerOptions(this.tls, (name) => this.sniContexts?.select(name)), handshakeTimeout: this.timeouts.header };
      if (listen.http2) {
        server = http2.createSecureServer(
          {
            ...tlsOptions,
            allowHTTP1: true,
            // HTTP/1.1 on this listener gets what a plain listener's requests get: WebSocket handshakes among them.
            Http1IncomingMessage: ProxyRequest,
            Http2ServerRequest: GatewayH2Request as typeof http2.Http2ServerRequest,
            Http2ServerResponse: GatewayH2Response as typeof http2.Http2ServerResponse,
          },
          handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
        );
      } else {
        server = https.createServer({ ...this.serverOptions, ...tlsOptions }, handler);
      }
    }
    if (listen.http2) {
      server.on('session', (session: http2.ServerHttp2Session) => {
        this.h2Sessions.add(session);
        // An HTTP/2 connection silent for the keep-alive timeout is asked to close (GOAWAY: streams in flight finish).
        session.setTimeout(KEEP_ALIVE_MS, () => session.close());
        session.once('close', () => this.h2Sessions.delete(session));
      });
      server.on('secureConnection', (socket: Socket) => {
        this.h2Sockets.add(socket);
        socket.once('close', () => this.h2Sockets.delete(socket));
      });
    }
    // node:http2 keeps its own defaults for the HTTP/1.1 connections it passes to node:http (no keep-alive timeout,
    // a 300 s request timeout, 2000 header lines): they get the plain listener's.
    if (listen.http2) Object.assign(server, http1Limits(this.serverOptions));
    this.servers.push(server);
    this.watch(server, info);
    return { server, info };
  }

  /** Closes every connection with no request in flight (HTTP/2 ones are asked to finish: GOAWAY). */
  closeIdleConnections(): void {
    for (const s of this.servers) {
      if (s instanceof http.Server || s instanceof https.Server) (s as http.Server).closeIdleConnections();
    }
    for (const session of this.h2Sessions) if (!session.closed) session.close();
  }

  /** Closes every connection now. */
  closeAllConnections(): void {
    for (const s of this.servers) {
      if (s instanceof http.Server || s instanceof https.Server) (s as http.Server).closeAllConnections();
    }
    for (const session of this.h2Sessions) session.destroy();
    for (const socket of this.h2Sockets) socket.destroy();
  }

  /** The TLS connections of `ssl http2` listeners (HTTP/1.1 ones among them have no session to close). */
  private readonly h2Sockets = new Set<Socket>();

  private readonly h2Sessions = new Set<http2.ServerHttp2Session>();

  get current(): Snapshot {
    return this.snapshot;
  }

  setSnapshot(next: Snapshot): void {
    // The contexts first: a handshake that starts after the swap finds the new certificates.
    if (this.tls !== undefined) this.sniContexts = new SniContexts(next, this.sniContexts);
    this.snapshot = next;
  }

  /** Closes the open WebSocket tunnels (at the end of a stop's grace). */
  closeTunnels(): void {
    closeTunnels(this.tunnels);
  }

  /** Serves one request: route, plugins, then the upstream. */
  handle(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo = this.mainListener): void {
    const h2 = listener.tls && isHttp2(req);
    if (!h2 && isOnRefusedConnection(req)) return; // pipelined behind a refused request; the connection is closing
    this.stats.totalRequests++;
    const snapshot = this.snapshot; // the whole request runs on the snapshot it started with
    const startedAt = Date.now();
    const requestId = requestIdOf(req);
    const exchange = this.observer?.begin(req, res, snapshot, requestId, startedAt);
    // Headers the parser may have dropped, then ambiguous framing: refused before anything is routed or forwarded,
    // and the connection is not reused.
    if (hasTooManyHeaderLines(req)) {
      if (!h2) refuseConnection(req.socket);
      return sendError(req, res, 431, MESSAGES.headerTooLarge, requestId, 'json', CLOSE);
    }
    if (isBadlyFramed(req)) {
      if (!h2) refuseConnection(req.socket);
      return sendError(req, res, 400, MESSAGES.badRequest, requestId, 'json', CLOSE);
    }
    let routed: RequestContext | undefined; // for the headers plugins added, once they run
    if (hasBody(req.headers)) {
      const timedOut = () => sendError(req, res, 408, MESSAGES.requestTimeout, requestId, 'json', CLOSE, routed?.responseHeaders);
      watchBody(req, this.timeouts, timedOut);
    }
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* / */) {
      // absolute-form (a client talking to us as a forward proxy): route on its path
      const m = /^https?:\/\/[^/?#]*/i.exec(url);
      if (m === null) return sendError(req, res, 400, MESSAGES.badRequest, requestId);
      url = url.slice(m[0].length) || '/';
      if (url.charCodeAt(0) !== 47) url = `/${url}`;
    }
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? null : url.slice(q + 1);
    const path = normalizePath(rawPath);
    if (path === null) return sendError(req, res, 400, MESSAGES.badRequest, requestId);

    // On a TLS listener, the server name the client asked for ('' when none), which routes' snis match.
    const sni = listener.tls ? ((req.socket as TLSSocket).servername || '') : undefined;
    const match = snapshot.router.match(req.method ?? 'GET', req.headers.host, path, req.headers, undefined, sni);
    if (match === null) return sendError(req, res, 404, MESSAGES.noRoute, requestId);
    const runtime = snapshot.routes.get(match.route.id)!;

    // After routing (routes match the headers as the client sent them), before anything the gateway sets.
    dropConnectionNamed(req.headers);
    stripGatewayAsserted(req.headers);
    req.headers['x-request-id'] = requestId;

    const ctx = new RequestContext(req, res, snapshot, match, runtime, requestId, rawPath, rawQuery, startedAt);
    ctx.clientAddresses = this.clientAddresses;
    if (listener.tls) ctx.scheme = 'https';
    if (h2) void ctx.clientIp; // read now: the stream's socket is gone by the time the access log asks
    routed = ctx;
    if (exchange !== undefined) exchange.ctx = ctx;
    if (this.trace !== undefined) {
      ctx.trace = this.trace;
      this.trace.routed(ctx);
    }
    // kong/runloop/handler.lua: an https-only route refuses plain HTTP (Kong takes a trusted proxy's word that the
    // client's connection was https). A route without https is served on TLS listeners too, as in Kong.
    if (!listener.tls && !match.route.protocols.includes('http') && !(req.headers['x-forwarded-proto'] === 'https' && this.clientAddresses.trustsPeer(req))) {
      return upgradeToHttps(ctx);
    }

    let pending: void | Promise<void>;
    try {
      runOuterPhases(ctx);
      pending = runAccess(ctx);
    } catch (err) {
      return this.pluginFailed(ctx, err);
    }
    if (pending === undefined) this.afterAccess(ctx);
    else pending.then(() => this.afterAccess(ctx), (err) => this.pluginFailed(ctx, err));
  }

  private afterAccess(ctx: RequestContext): void {
    if (ctx.responded) return;
    if (ctx.runtime.upstream === undefined) {
      ctx.refusal = 'no service';
      return ctx.error(503, MESSAGES.noService);
    }
    if (ctx.res instanceof UpgradeResponse) return proxyUpgrade(ctx, ctx.res, this.tunnels);
    this.forward(ctx);
  }

  private pluginFailed(ctx: RequestContext, err: unknown): void {
    if (ctx.responded) return;
    ctx.refusal ??= 'plugin error';
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 600) {
      return ctx.error(status, (err as Error).message);
    }
    log('error', 'plugin failed', { route: ctx.match.route.name ?? ctx.match.route.id, request_id: ctx.requestId, error: (err as Error).message });
    ctx.error(500, MESSAGES.unexpected);
  }
}

function upgradeToHttps(ctx: RequestContext): void {
  ctx.refusal = 'https required';
  const route = ctx.match.route;
  const code = route.https_redirect_status_code;
  if (code === 426) {
    return ctx.error(426, 'Please use HTTPS protocol', { Connection: 'Upgrade', Upgrade: 'TLS/1.2, HTTP/1.1' });
  }
  // Kong's forwarded_host: a trusted proxy's X-Forwarded-Host, else the Host without its port (nginx's $host).
  const forwarded = ctx.clientAddresses.trustsPeer(ctx.req) ? ctx.req.headers['x-forwarded-host'] : undefined;
  const host = typeof forwarded === 'string' ? forwarded : (ctx.req.headers.host ?? '').replace(/:\d+$/, '');
  ctx.respond(code, '', undefined, { Location: `https://${host}${ctx.req.url ?? '/'}` });
}

/** The HTTP/1.1 server settings node:http reads from the server object it serves a connection for. */
function http1Limits(o: http.ServerOptions): Partial<http.Server> {
  return {
    keepAliveTimeout: o.keepAliveTimeout,
    headersTimeout: o.headersTimeout,
    requestTimeout: o.requestTimeout,
    connectionsCheckingInterval: o.connectionsCheckingInterval,
  } as Partial<http.Server>;
}
