import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway';
import type { Snapshot } from '../config/snapshot';

/** One Admin API request. `snapshot` is read once, so every answer comes from one whole config. */
export interface AdminRequest {
  req: IncomingMessage;
  res: ServerResponse;
  gateway: Gateway;
  snapshot: Snapshot;
  /** The path as requested (still percent-encoded), for `next` links. */
  path: string;
  query: URLSearchParams;
  /** --admin-show-secrets: keys and passwords shown as they are. */
  revealSecrets: boolean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export const notFound = (r: AdminRequest) => sendJson(r.res, 404, { message: 'Not found' });

/** Kong's error codes (kong/db/errors.lua) used by the Admin API. */
export const ERROR_CODES = {
  invalidOffset: { code: 7, name: 'invalid offset' },
  invalidSize: { code: 9, name: 'invalid size' },
  operationUnsupported: { code: 12, name: 'operation unsupported' },
  declarativeConfig: { code: 14, name: 'invalid declarative configuration' },
} as const;

export class BodyTooLarge extends Error {}

/** Buffers the request body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`request body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
