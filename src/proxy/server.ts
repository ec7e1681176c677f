import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
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

const CLOSE = { Connection: 'close' };

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

  constructor(snapshot: Snapshot, options: ProxyServerOptions = {}) {
    this.snapshot = snapshot;
    const timeouts = options.clientTimeouts ?? DEFAULT_CLIENT_TIMEOUTS;
    this.timeouts = timeouts;
    this.forward = options.forward ?? forward;
    this.trace = options.trace;
    this.observer = options.observer;
    this.clientAddresses = options.clientAddresses ?? PEER_ADDRESSES;
    // requireHostHeader off: a missing Host gets the gateway's JSON 400 (isBadlyFramed) rather than Node's bare one.
    const serverOptions = { keepAliveTimeout: 60_000, requireHostHeader: false, ...serverTimeoutOptions(timeouts) };
    this.server = http.createServer(serverOptions, (req, res) => this.handle(req, res));
    setLingerLimits(this.server, timeouts.lingering);
    serverHeaderLimits(this.server);
    const max = options.maxConnectionsPerIp === undefined ? DEFAULT_MAX_CONNECTIONS_PER_IP : options.maxConnectionsPerIp;
    this.maxConnectionsPerIp = max;
    const perIp = max === null ? undefined : new ConnectionsPerIp(max);
    this.server.on('connection', (socket: Socket) => {
      this.stats.connectionsAccepted++;
      // A trusted proxy carries many clients on its connections: it is not held to one client's cap.
      if (perIp !== undefined && !this.clientAddresses.trustsAddress(socket.remoteAddress) && !perIp.admit(socket)) {
        this.stats.connectionsRefused++;
        return;
      }
      this.stats.connectionsActive++;
      socket.once('close', () => this.stats.connectionsActive--);
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const requestId = generateRequestId();
      const status = answerClientError(err, socket, requestId);
      if (status !== undefined) this.observer?.clientError(socket, status, requestId);
    });
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  setSnapshot(next: Snapshot): void {
    this.snapshot = next;
  }

  /** Serves one request: route, plugins, then the upstream. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (isOnRefusedConnection(req)) return; // pipelined behind a refused request; the connection is closing
    this.stats.totalRequests++;
    const snapshot = this.snapshot; // the whole request runs on the snapshot it started with
    const startedAt = Date.now();
    const requestId = requestIdOf(req);
    const exchange = this.observer?.begin(req, res, snapshot, requestId, startedAt);
    // Headers the parser may have dropped, then ambiguous framing: refused before anything is routed or forwarded,
    // and the connection is not reused.
    if (hasTooManyHeaderLines(req)) {
      refuseConnection(req.socket);
      return sendError(req, res, 431, MESSAGES.headerTooLarge, requestId, 'json', CLOSE);
    }
    if (isBadlyFramed(req)) {
      refuseConnection(req.socket);
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

    const match = snapshot.router.match(req.method ?? 'GET', req.headers.host, path, req.headers);
    if (match === null) return sendError(req, res, 404, MESSAGES.noRoute, requestId);
    const runtime = snapshot.routes.get(match.route.id)!;

    // After routing (routes match the headers as the client sent them), before anything the gateway sets.
    dropConnectionNamed(req.headers);
    stripGatewayAsserted(req.headers);
    req.headers['x-request-id'] = requestId;

    const ctx = new RequestContext(req, res, snapshot, match, runtime, requestId, rawPath, rawQuery, startedAt);
    ctx.clientAddresses = this.clientAddresses;
    routed = ctx;
    if (exchange !== undefined) exchange.ctx = ctx;
    if (this.trace !== undefined) {
      ctx.trace = this.trace;
      this.trace.routed(ctx);
    }
    // Kong takes a trusted proxy's word that the client's connection was https.
    if (!match.route.protocols.includes('http') && !(req.headers['x-forwarded-proto'] === 'https' && this.clientAddresses.trustsPeer(req))) {
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
  const host = ctx.req.headers.host ?? '';
  ctx.respond(code, '', undefined, { Location: `https://${host.replace(/:\d+$/, '')}${ctx.req.url ?? '/'}` });
}
