import type { RequestContext } from '../../proxy/context';
import { boundaryOf, multipartField, removeMultipartField } from './multipart';
import { findParam, removeParam, type Found } from './params';

/** The most key-auth reads of a body (key_in_body); a larger body is refused with 413. */
export const KEY_BODY_LIMIT = 1024 * 1024;

/** A request body as key-auth sees it: a value by name, and the bytes without a name (hide_credentials). */
export interface KeyBody {
  get(name: string): Found;
  /** The body without `name`, or undefined when there was nothing to remove. */
  without(name: string): Buffer | undefined;
}

const EMPTY: KeyBody = { get: () => undefined, without: () => undefined };

function jsonBody(buf: Buffer): KeyBody {
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch {
    return EMPTY; // Kong treats an unreadable body as one without a key
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return EMPTY;
  const obj = doc as Record<string, unknown>;
  return {
    get: (name) => (Object.hasOwn(obj, name) && typeof obj[name] === 'string' ? (obj[name] as string) : undefined),
    without: (name) => {
      if (!Object.hasOwn(obj, name)) return undefined;
      const { [name]: _removed, ...rest } = obj;
      return Buffer.from(JSON.stringify(rest));
    },
  };
}

function formBody(buf: Buffer): KeyBody {
  const raw = buf.toString('utf8');
  return {
    get: (name) => findParam(raw, name),
    without: (name) => {
      const kept = removeParam(raw, name);
      return kept.length === raw.length ? undefined : Buffer.from(kept);
    },
  };
}

function multipartBody(buf: Buffer, boundary: string): KeyBody {
  return {
    get: (name) => multipartField(buf, boundary, name),
    without: (name) => removeMultipartField(buf, boundary, name),
  };
}

/** What key-auth can read in a body with this Content-Type, before reading it: unsupported types are not read. */
function parserFor(contentType: string | undefined): ((buf: Buffer) => KeyBody) | undefined {
  if (contentType === undefined) return undefined;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  if (type === 'application/json') return jsonBody;
  if (type === 'application/x-www-form-urlencoded') return formBody;
  if (type === 'multipart/form-data') {
    const boundary = boundaryOf(contentType);
    return boundary === undefined ? undefined : (buf) => multipartBody(buf, boundary);
  }
  return undefined;
}

/** Reads the body (once per request, at most KEY_BODY_LIMIT bytes) when its type can carry a key. */
export function readKeyBody(ctx: RequestContext): KeyBody | Promise<KeyBody> {
  const parse = parserFor(ctx.req.headers['content-type']);
  if (parse === undefined) return EMPTY;
  return ctx.readBody(KEY_BODY_LIMIT).then(parse);
}
