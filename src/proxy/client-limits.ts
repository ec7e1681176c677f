import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { MESSAGES } from './respond';
import { DEFAULT_LINGER, isLingering, lingerThenClose, type LingerLimits } from './linger';
import { SERVER_TOKEN } from '../version';

/** How long a client may take, in ms (nginx's client_header_timeout and client_body_timeout; both 60 s there). */
export interface ClientTimeouts {
  /** From the first byte of a request (or the opening of the connection) to the end of its headers. */
  header: number;
  /** The longest silence between two reads of a request body. */
  body: number;
  /** The slowest a body may come; none when absent (as in nginx and Kong). */
  bodyMinRate?: MinBodyRate;
  /** How long the gateway reads on after answering before the request was all read (see linger.ts). */
  lingering: LingerLimits;
}

/**
 * A minimum average rate for request bodies (Apache's RequestReadTimeout `body=…,MinRate=…`): after `graceMs` of
 * reading, the body must have come at `bytesPerSecond` on average, less the grace, i.e. at time t it has sent at
 * least bytesPerSecond × (t − grace) bytes. Only time the gateway spends reading counts, as for the body timeout.
 */
export interface MinBodyRate {
  bytesPerSecond: number;
  graceMs: number;
}

/** Apache's `body=20`: a body's first 20 s are not held to the minimum rate. */
export const DEFAULT_MIN_RATE_GRACE = 20_000;

export const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = { header: 60_000, body: 60_000, lingering: DEFAULT_LINGER };

/** Node's options for the proxy listener that enforce the header timeout. */
export function serverTimeoutOptions(t: ClientTimeouts): http.ServerOptions {
  return {
    headersTimeout: t.header,
    requestTimeout: 0,
    // Node checks the header deadline on this period; a quarter of it keeps the timeout within 25 % of its value.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(t.header / 4))),
  };
}

/**
 * The most header lines a request may have. Node's parser keeps `maxHeadersCount` lines (2000 unless told) and
 * silently drops the rest, so a Content-Length or a second Host past them went unseen. It is told to keep one
 * more (serverHeaderLimits), and a request that has that one is refused with 431.
 */
export const MAX_HEADER_LINES = 2000;

export function serverHeaderLimits(server: http.Server): void {
  server.maxHeadersCount = MAX_HEADER_LINES + 1;
}

/** More header lines than MAX_HEADER_LINES: some of them may have been dropped by the parser. */
export function hasTooManyHeaderLines(req: IncomingMessage): boolean {
  return req.rawHeaders.length > 2 * MAX_HEADER_LINES;
}

/**
 * True when the request's framing is not trusted, so it is refused before it is routed or forwarded. The HTTP
 * parser already refuses Content-Length with Transfer-Encoding and duplicate Content-Lengths; what it lets through
 * and nginx does not: a Transfer-Encoding other than exactly `chunked`, Transfer-Encoding on HTTP/1.0, no Host on
 * HTTP/1.1, and more than one Host.
 */
export function isBadlyFramed(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && ((req.httpVersionMajor === 1 && req.httpVersionMinor === 0) || te.toLowerCase() !== 'chunked')) return true;
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 4 && isHost(name)) hosts++;
  }
  return hosts > 1 || (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor === 1);
}

/** `name` is Host in any case, without the new string toLowerCase makes of `Host`. */
function isHost(name: string): boolean {
  return (
    (name.charCodeAt(0) | 0x20) === 104 /* h */ &&
    (name.charCodeAt(1) | 0x20) === 111 /* o */ &&
    (name.charCodeAt(2) | 0x20) === 115 /* s */ &&
    (name.charCodeAt(3) | 0x20) === 116 /* t */
  );
}

const REFUSED = Symbol('gateway.refused');
interface RefusableSocket extends Socket {
  [REFUSED]?: true;
}

/** Marks a connection whose framing can no longer be trusted: it closes after the current answer. */
export function refuseConnection(socket: Socket): void {
  (socket as RefusableSocket)[REFUSED] = true;
}

/** True for requests read from a connection already refused: they may be smuggled and are never processed. */
export function isOnRefusedConnection(req: IncomingMessage): boolean {
  return (req.socket as RefusableSocket)[REFUSED] === true;
}

/** The longest between two checks of a body's rate, in ms. */
const RATE_CHECK_EVERY = 1000;

/**
 * Enforces the body timeout and the minimum body rate on one request: `onTimeout` runs once the client has sent
 * nothing for `t.body` ms while the gateway was reading, or has fallen behind `t.bodyMinRate`. Time the gateway
 * spends not reading (a plugin still deciding, an upstream applying back-pressure) does not count against the
 * client. One timer per request, checking on a quarter of the timeout (at least every second when a rate is set):
 * nothing is done per chunk. Bytes are counted on the connection from the moment the watch starts.
 */
export function watchBody(req: IncomingMessage, t: ClientTimeouts, onTimeout: () => void): void {
  const socket = req.socket;
  const timeoutMs = t.body;
  const rate = t.bodyMinRate;
  const quarter = Math.max(10, Math.floor(timeoutMs / 4));
  const step = rate === undefined ? quarter : Math.min(quarter, RATE_CHECK_EVERY);
  const bytesAtStart = socket.bytesRead;
  let bytes = bytesAtStart;
  let lastTick = Date.now();
  let quietSince = lastTick;
  let readingMs = 0;
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return clearInterval(timer);
    const now = Date.now();
    const reading = req.readableFlowing === true;
    if (reading) readingMs += now - lastTick;
    lastTick = now;
    let late = false;
    if (socket.bytesRead !== bytes || !reading) {
      bytes = socket.bytesRead;
      quietSince = now;
    } else late = now - quietSince >= timeoutMs;
    if (rate !== undefined && !late) late = (bytes - bytesAtStart) * 1000 < rate.bytesPerSecond * (readingMs - rate.graceMs);
    if (late) {
      clearInterval(timer);
      onTimeout();
    }
  }, step);
  timer.unref();
  req.once('end', () => clearInterval(timer));
}

/** The status and Kong message for an error the HTTP parser raised. */
function parserErrorAnswer(code: string | undefined): [number, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, MESSAGES.headerTooLarge];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, MESSAGES.payloadTooLarge];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, MESSAGES.requestTimeout];
    default:
      return [400, MESSAGES.badRequest];
  }
}

/**
 * Answers a request the HTTP parser refused (malformed, too large, too slow): a JSON 4xx written straight to the
 * socket, then the connection closed, since nothing after the error can be trusted to be framed right. The socket
 * lingers so that the answer is not lost to a reset while the client is still sending. When a response on this
 * connection has already started, it is cut instead, so that no stray bytes join it.
 * Returns the status answered, or undefined when the connection was only closed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, requestId: string): number | undefined {
  if (isLingering(socket)) return undefined; // closing already; what the client sends now is dropped unparsed
  // Node's own server looks at the same field to know whether a response is under way.
  const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || (inFlight != null && inFlight.headersSent)) {
    if (inFlight?.writableEnded && socket.writable) lingerThenClose(socket); // a complete answer is still flushing: let it out
    else socket.destroy();
    return undefined;
  }
  const [status, message] = parserErrorAnswer(err.code);
  const body = `{"message":${JSON.stringify(message)},"request_id":"${requestId}"}`;
  socket.write(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nServer: ${SERVER_TOKEN}\r\nX-Kong-Request-Id: ${requestId}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
  lingerThenClose(socket);
  return status;
}
