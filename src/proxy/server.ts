import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Snapshot } from '../config/snapshot';
import { RequestContext } from './context';
import { forward } from './forward';
import { normalizePath } from './paths';
import { runAccess } from './pipeline';
import { MESSAGES, sendError } from './respond';
import { log } from '../log';
import type { Observer } from '../observe/observer';
import { generateRequestId, requestIdOf } from '../observe/request-id';

// Client-sent copies of what only the gateway may assert about a caller.
const GATEWAY_ASSERTED_HEADERS = [
  'x-consumer-id',
  'x-consumer-custom-id',
  'x-consumer-username',
  'x-credential-identifier',
  'x-credential-username',
  'x-anonymous-consumer',
  'x-consumer-groups',
  'x-authenticated-groups',
];

export interface ProxyStats {
  connectionsAccepted: number;
  connectionsActive: number;
  totalRequests: number;
}

/** The proxy listener. Reads only from the snapshot it holds; `setSnapshot` swaps it in one assignment. */
export class ProxyServer {
  readonly server: http.Server;
  readonly stats: ProxyStats = { connectionsAccepted: 0, connectionsActive: 0, totalRequests: 0 };
  private snapshot: Snapshot;

  constructor(
    snapshot: Snapshot,
    /** Access log and metrics; none when both are off. */
    private readonly observer?: Observer,
  ) {
    this.snapshot = snapshot;
    this.server = http.createServer({ keepAliveTimeout: 60_000, headersTimeout: 60_000, requestTimeout: 0 }, (req, res) =>
      this.handle(req, res),
    );
    this.server.on('connection', (socket: Socket) => {
      this.stats.connectionsAccepted++;
      this.stats.connectionsActive++;
      socket.once('close', () => this.stats.connectionsActive--);
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, this.observer));
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  setSnapshot(next: Snapshot): void {
    this.snapshot = next;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.stats.totalRequests++;
    const snapshot = this.snapshot; // the whole request runs on the snapshot it started with
    const startedAt = Date.now();
    const requestId = requestIdOf(req);
    res.setHeader('X-Request-Id', requestId);
    const exchange = this.observer?.begin(req, res, snapshot, requestId, startedAt);
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

    const h = req.headers;
    for (let i = 0; i < GATEWAY_ASSERTED_HEADERS.length; i++) {
      if (h[GATEWAY_ASSERTED_HEADERS[i]] !== undefined) delete h[GATEWAY_ASSERTED_HEADERS[i]];
    }
    h['x-request-id'] = requestId; // after routing: routes match the header as the client sent it

    const ctx = new RequestContext(req, res, snapshot, match, runtime, requestId, rawPath, rawQuery, startedAt);
    if (exchange !== undefined) exchange.ctx = ctx;
    if (!match.route.protocols.includes('http')) return upgradeToHttps(ctx);

    let pending: void | Promise<void>;
    try {
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
    forward(ctx);
  }

  private pluginFailed(ctx: RequestContext, err: unknown): void {
    if (ctx.responded) return;
    ctx.refusal = 'plugin error';
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

/** Malformed requests the HTTP parser refused: a JSON 4xx and the connection closed. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, observer: Observer | undefined): void {
  if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message = tooLarge ? 'Request header or cookie too large' : status === 408 ? 'Request timeout' : MESSAGES.badRequest;
  const requestId = generateRequestId();
  const body = JSON.stringify({ message, request_id: requestId });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nX-Kong-Request-Id: ${requestId}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  observer?.clientError(socket, status, requestId);
}
