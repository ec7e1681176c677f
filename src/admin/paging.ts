import { ERROR_CODES, sendJson, type AdminRequest } from './http';

const DEFAULT_SIZE = 100;
const MAX_SIZE = 1000;

// Offsets are opaque to clients, as in Kong: the position of the next item, base64url-encoded.
const encodeOffset = (position: number) => Buffer.from(String(position)).toString('base64url');

function decodeOffset(offset: string): number | 'bad base64 encoding' | 'unknown offset' {
  if (!/^[A-Za-z0-9_-]+$/.test(offset) || offset.length % 4 === 1) return 'bad base64 encoding';
  const text = Buffer.from(offset, 'base64url').toString('utf8');
  return /^\d{1,15}$/.test(text) && encodeOffset(Number(text)) === offset ? Number(text) : 'unknown offset';
}

/** Answers a list in Kong's shape, `{"data":[…],"next":null}` or with `offset` and `next` when more remain. */
export function sendPage<T>(r: AdminRequest, items: readonly T[], view: (e: T) => unknown): void {
  let size = DEFAULT_SIZE;
  const sizeParam = r.query.get('size');
  if (sizeParam !== null) {
    const n = sizeParam.trim() === '' ? NaN : Number(sizeParam);
    if (Number.isNaN(n)) return sendJson(r.res, 400, { ...ERROR_CODES.invalidSize, message: 'size must be a number' });
    if (!Number.isInteger(n) || n < 1 || n > MAX_SIZE) {
      return sendJson(r.res, 400, { ...ERROR_CODES.invalidSize, message: `size must be an integer between 1 and ${MAX_SIZE}` });
    }
    size = n;
  }
  let start = 0;
  const offset = r.query.get('offset');
  if (offset !== null) {
    const position = decodeOffset(offset);
    if (typeof position === 'string') {
      return sendJson(r.res, 400, { ...ERROR_CODES.invalidOffset, message: `'${offset}' is not a valid offset: ${position}` });
    }
    start = position;
  }
  const end = start + size;
  const data = items.slice(start, end).map(view);
  if (end >= items.length) return sendJson(r.res, 200, { data, next: null });
  const next = encodeOffset(end);
  sendJson(r.res, 200, { data, offset: next, next: `${r.path}?offset=${encodeURIComponent(next)}&size=${size}` });
}
