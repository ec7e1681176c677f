import type { IncomingMessage, ServerResponse } from 'node:http';
import { SERVER_TOKEN } from '../version';
import { lingerIfBodyPending } from './linger';

export type ErrorBodyType = 'json' | 'text';

/** The exact text Kong answers for its own errors. */
export const MESSAGES = {
  noRoute: 'no Route matched with those values',
  noService: 'no Service found with those values',
  badGateway: 'An invalid response was received from the upstream server',
  timeout: 'The upstream server is timing out',
  unexpected: 'An unexpected error occurred',
  badRequest: 'Bad request',
  requestTimeout: 'Request timeout',
  headerTooLarge: 'Request header or cookie too large',
  payloadTooLarge: 'Payload too large',
  sizeLimit: 'Request size limit exceeded',
} as const;

function wantsJson(req: IncomingMessage, fallback: ErrorBodyType): boolean {
  const accept = req.headers.accept;
  if (accept !== undefined) {
    if (accept.includes('application/json')) return true;
    if (accept.includes('text/plain') || accept.includes('text/html')) return false;
  }
  return fallback === 'json';
}

function escapeJson(s: string): string {
  return JSON.stringify(s);
}

/** Kong's error body for `message` and its content type: JSON or text, chosen by Accept, else by `fallback`. */
export function errorBody(req: IncomingMessage, message: string, requestId: string, fallback: ErrorBodyType): [body: string, type: string] {
  if (wantsJson(req, fallback)) return [`{"message":${escapeJson(message)},"request_id":"${requestId}"}`, 'application/json; charset=utf-8'];
  return [`${message}\nrequest_id: ${requestId}\n`, 'text/plain; charset=utf-8'];
}

/**
 * Answers with a gateway-generated error as Kong does: JSON `{"message","request_id"}` or text, chosen by Accept,
 * else by the status's default type (JSON for plugin and router errors, text for upstream failures).
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string,
  fallback: ErrorBodyType = 'json',
  headers?: Record<string, string>,
  added?: readonly string[],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const [body, type] = errorBody(req, message, requestId, fallback);
  send(req, res, status, body, type, requestId, headers, added);
}

/**
 * Writes a complete gateway-generated response. `added` is what plugins added (RequestContext.responseHeaders);
 * `headers` and the gateway's own headers replace those of the same name.
 */
export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string | undefined,
  requestId: string,
  headers?: Record<string, string | string[]>,
  added?: ReadonlyArray<string | string[]>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.setHeader('X-Request-Id', requestId);
  // appendHeader: a name a response-phase plugin added twice keeps both values.
  if (added !== undefined) for (let i = 0; i < added.length; i += 2) res.appendHeader(added[i] as string, added[i + 1]);
  if (headers !== undefined) for (const name in headers) res.setHeader(name, headers[name]);
  if (contentType !== undefined) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Server', SERVER_TOKEN);
  res.setHeader('X-Kong-Request-Id', requestId);
  res.statusCode = status;
  lingerIfBodyPending(req, res);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
