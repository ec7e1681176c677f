import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

/**
 * Closing a socket while the client's bytes are still arriving makes the kernel reset the connection, and the
 * client's kernel then throws away the answer it had not read yet (curl: "connection reset", Node: EPIPE). So after
 * answering a request whose body it did not read to the end, the gateway reads on and drops what comes, within
 * these bounds, before it closes (nginx's lingering close). On a connection kept alive, the rest of the body is
 * dropped the same way, and the connection serves its next request once the body has ended.
 */
export interface LingerLimits {
  /** The longest the gateway reads on after its answer, in ms (nginx lingering_time). */
  time: number;
  /** The longest silence from the client it waits through, in ms (nginx lingering_timeout). */
  idle: number;
}

export const DEFAULT_LINGER: LingerLimits = { time: 2000, idle: 1000 };

/** The most bytes dropped after an early answer; a client still sending beyond it is cut. */
export const LINGER_MAX_BYTES = 8 * 1024 * 1024;

const LIMITS = Symbol('gateway.lingerLimits');
interface LingeringServer extends Server {
  [LIMITS]?: LingerLimits;
}

/** The bounds for the connections `server` accepts (the defaults otherwise). */
export function setLingerLimits(server: Server, limits: LingerLimits): void {
  (server as LingeringServer)[LIMITS] = limits;
}

function limitsOf(socket: Socket): LingerLimits {
  return (socket as Socket & { server?: LingeringServer }).server?.[LIMITS] ?? DEFAULT_LINGER;
}

/** True when the request's headers say a body follows them. */
export function hasBody(h: IncomingHttpHeaders): boolean {
  const length = h['content-length'];
  return h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads and drops what arrives on `source` until a bound is passed, which calls `cut`. Returns the function that
 * stops the watch without cutting (the body ended, the socket closed).
 */
function drain(source: NodeJS.ReadableStream, limits: LingerLimits, cut: () => void): () => void {
  let dropped = 0;
  const stop = () => {
    clearTimeout(deadline);
    clearTimeout(quiet);
    source.removeListener('data', onData);
  };
  const giveUp = () => {
    stop();
    cut();
  };
  const onData = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_MAX_BYTES) giveUp();
    else quiet.refresh();
  };
  const deadline = setTimeout(giveUp, limits.time);
  const quiet = setTimeout(giveUp, Math.min(limits.idle, limits.time));
  deadline.unref();
  quiet.unref();
  source.on('data', onData);
  source.resume();
  return stop;
}

const LINGERING = Symbol('gateway.lingering');
type ClosingSocket = Socket & { [LINGERING]?: true };

/** True once `socket` is lingering: what the client sends is dropped and the socket closes by itself. */
export function isLingering(socket: Socket): boolean {
  return (socket as ClosingSocket)[LINGERING] === true;
}

/**
 * Ends `socket` once what was written to it is sent, and reads and drops whatever the client still sends until
 * the client closes its side or a bound is passed; then closes it.
 */
export function lingerThenClose(socket: Socket): void {
  if (socket.destroyed || isLingering(socket)) return;
  (socket as ClosingSocket)[LINGERING] = true;
  // Whatever comes now is never parsed: the HTTP parser's listener goes, and so does its direct hold on the socket
  // (node:http hands reads back to 'data' events once a listener is added).
  socket.removeAllListeners('data');
  const stop = drain(socket, limitsOf(socket), () => socket.destroy());
  socket.once('close', stop);
  // The client is done sending: close once the answer is handed to the kernel (the bounds still apply).
  socket.once('end', () => (socket.writableFinished ? socket.destroy() : socket.once('finish', () => socket.destroy())));
  socket.end();
}

/**
 * Called as the gateway answers a request itself, before the answer is written: when the request's body may still
 * be arriving, makes sure the answer reaches the client. If node:http is to close the connection after it, the
 * socket lingers rather than closing at once; if the connection stays open, the rest of the body is dropped within
 * the same bounds (the connection is closed when they are passed), so the next request on it is read cleanly.
 */
export function lingerIfBodyPending(req: IncomingMessage, res: ServerResponse): void {
  // An HTTP/2 stream's unread body ends with the stream; the connection carries on by itself.
  if (req.complete || !hasBody(req.headers) || req.httpVersionMajor === 2) return;
  const socket = req.socket as ClosingSocket;
  if (socket.destroyed) return;
  let closing = false;
  // node:http closes the socket of a connection's last answer with destroySoon, once the answer is written.
  const restore = () => delete (socket as { destroySoon?: unknown }).destroySoon; // the prototype's again
  socket.destroySoon = () => {
    restore();
    if (req.complete) return socket.destroySoon();
    closing = true;
    lingerThenClose(socket);
  };
  res.once('finish', () => {
    restore();
    if (closing || req.complete || socket.destroyed) return;
    // Kept alive: whoever was reading the body has stopped; node:http parses the rest and it is dropped here.
    req.unpipe(); // a pipe left behind would pause the body again when its destination closes
    req.removeAllListeners('data');
    const stop = drain(req, limitsOf(socket), () => socket.destroy());
    req.once('end', stop);
    req.once('close', stop);
  });
}
