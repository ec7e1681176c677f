import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { RequestContext } from './context';
import { MESSAGES, sendError } from './respond';
import { VIA_TOKEN } from '../version';

// Shared by every snapshot, so a reload keeps upstream connections warm.
const agentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy', 'proxy-connection', 'upgrade', 'te', 'trailer'];
const HOP_BY_HOP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

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

/**
 * Sends the request to the route's service and streams the answer back: node:http straight, with the
 * request's headers handed over as one flat list (no per-header setHeader on either side).
 */
export function forward(ctx: RequestContext): void {
  const req = ctx.req;
  const res = ctx.res;
  const upstream = ctx.runtime.upstream!;
  upstreamHeaders(ctx);
  const method = req.method!;
  const h = req.headers;
  if ((method === 'DELETE' || method === 'OPTIONS') && !h['content-length']) {
    // A body-less DELETE/OPTIONS is framed explicitly, so the upstream does not wait for one.
    h['content-length'] = '0';
    delete h['transfer-encoding'];
  }
  const path = ctx.rawQuery === null ? ctx.match.upstreamPath : `${ctx.match.upstreamPath}?${ctx.rawQuery}`;
  const isHttps = upstream.protocol === 'https:';
  const options: http.RequestOptions & https.RequestOptions = {
    host: upstream.host,
    port: upstream.port,
    method,
    path,
    headers: headerList(h) as unknown as OutgoingHttpHeaders,
    agent: isHttps ? httpsAgent : httpAgent,
  };
  if (isHttps) options.servername = serverName(h.host ?? upstream.host);
  ctx.forwardedAt = Date.now();
  const out = (isHttps ? https : http).request(options);
  let timedOut = false;
  const onTimeout = () => {
    timedOut = true;
    out.destroy(new Error('upstream timed out'));
  };
  const onError = (err: NodeJS.ErrnoException) => {
    if (req.socket.destroyed && err.code === 'ECONNRESET') {
      // The client went away: nothing to answer.
      out.destroy();
      return;
    }
    if (res.headersSent) {
      // The status line is gone: all that is left is to cut the stream so the client sees it is incomplete.
      res.destroy(err);
      return;
    }
    const upstreamTimedOut = timedOut || err.code === 'ETIMEDOUT';
    ctx.refusal = upstreamTimedOut ? 'upstream timeout' : 'upstream error';
    sendError(req, res, upstreamTimedOut ? 504 : 502, upstreamTimedOut ? MESSAGES.timeout : MESSAGES.badGateway, ctx.requestId, 'text');
  };
  // An idle timeout: Kong's read_timeout is the longest wait between two reads from the upstream.
  out.setTimeout(upstream.readTimeout, onTimeout);
  out.once('socket', (socket: Socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(onTimeout, upstream.connectTimeout);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  out.on('error', onError);
  req.on('error', onError);
  req.once('aborted', () => out.destroy());
  out.once('response', (upRes: IncomingMessage) => respond(ctx, upRes));
  if (ctx.body !== undefined) out.end(ctx.body);
  else req.pipe(out);
}

/**
 * Writes the upstream's status and headers (plus Kong's own) and streams its body to the client. The
 * upstream's hop-by-hop headers stay on the upstream connection: framing and keep-alive towards the client
 * are decided for the client's own connection.
 */
function respond(ctx: RequestContext, upRes: IncomingMessage): void {
  const res = ctx.res;
  const h = upRes.headers;
  const connection = h['connection'];
  if (connection !== undefined) {
    for (const name of connection.split(',')) {
      const n = name.trim().toLowerCase();
      if (n !== '') delete h[n];
    }
  }
  for (const name of HOP_BY_HOP_RESPONSE) if (h[name] !== undefined) delete h[name];
  h['via'] = h['via'] === undefined ? VIA_TOKEN : `${h['via']}, ${VIA_TOKEN}`;
  h['x-kong-upstream-latency'] = String(Date.now() - ctx.forwardedAt);
  h['x-kong-proxy-latency'] = String(ctx.forwardedAt - ctx.startedAt);
  h['x-kong-request-id'] = ctx.requestId;
  const list = headerList(h);
  if (upRes.statusMessage) res.writeHead(upRes.statusCode!, upRes.statusMessage, list);
  else res.writeHead(upRes.statusCode!, list);
  // An upstream that breaks off mid-body: cut the client's response too, so it cannot pass for complete.
  upRes.on('error', (err) => res.destroy(err));
  upRes.pipe(res);
}

/** Headers as the flat [name, value, …] list node:http writes without re-validating each through setHeader. */
function headerList(h: NodeJS.Dict<string | string[]>): Array<string | string[]> {
  const list: Array<string | string[]> = [];
  for (const name in h) {
    const value = h[name];
    if (value !== undefined) list.push(name, value);
  }
  return list;
}

/** The TLS server name: the Host header sent upstream, port removed; none for an IP address (as node:https). */
function serverName(hostHeader: string): string {
  let name: string;
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    name = end === -1 ? hostHeader : hostHeader.slice(1, end);
  } else {
    const colon = hostHeader.indexOf(':');
    name = colon === -1 ? hostHeader : hostHeader.slice(0, colon);
  }
  return isIP(name) === 0 ? name : '';
}

/** Closes pooled upstream connections (on shutdown). */
export function closeUpstreamConnections(): void {
  httpAgent.destroy();
  httpsAgent.destroy();
}
