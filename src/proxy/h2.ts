// HTTP/2 clients through the same pipeline as HTTP/1.1 ones, by node:http2's compatibility API: a request's
// pseudo-headers become what HTTP/1.1 carries (`:authority` is the Host) and never reach the upstream, and a
// response drops the connection-specific headers HTTP/2 forbids (RFC 9113 8.2.2), which the pipeline writes for
// HTTP/1.1 clients (Connection, Keep-Alive, Transfer-Encoding, …).
import http2, { type Http2ServerRequest } from 'node:http2';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** A response to an HTTP/2 client that takes what the pipeline writes for HTTP/1.1 clients. */
export class GatewayH2Response extends http2.Http2ServerResponse {
  /** The stream's fate is not a connection's: the pipeline's "keep the connection open" is always true here. */
  get shouldKeepAlive(): boolean {
    return true;
  }

  setHeader(name: string, value: number | string | readonly string[]): void {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) super.setHeader(name, value);
  }

  appendHeader(name: string, value: string | string[]): void {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) super.appendHeader(name, value);
  }

  // node:http's forms: (status, headers), (status, message, headers); headers an object or a flat [name, value, …]
  // list. HTTP/2 has no reason phrase: it is dropped.
  writeHead(statusCode: number, ...rest: unknown[]): this {
    const headers = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as OutgoingHttpHeaders | Array<string | string[]> | undefined;
    if (Array.isArray(headers)) {
      const written = new Set<string>();
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const name = String(headers[i]).toLowerCase();
        if (CONNECTION_SPECIFIC.has(name)) continue;
        const value = headers[i + 1] as string | string[];
        // A name repeated in the list adds to its first value; the first replaces what setHeader put there.
        if (written.has(name)) super.appendHeader(name, value);
        else super.setHeader(name, value);
        written.add(name);
      }
    } else if (headers !== undefined && headers !== null) {
      for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value);
    }
    super.writeHead(statusCode);
    return this;
  }
}

/**
 * A request from an HTTP/2 client whose `headers` are those an HTTP/1.1 one has: Host from `:authority`,
 * pseudo-headers left out (so no plugin sees them and none is copied upstream). A copy, made on first use: the
 * stream's own map keeps them, which `method` and `url` read.
 */
export class GatewayH2Request extends http2.Http2ServerRequest {
  private http1Headers: IncomingHttpHeaders | undefined;

  // @ts-expect-error node:http2 declares `headers` a field; it is an accessor on the prototype
  get headers(): IncomingHttpHeaders {
    if (this.http1Headers === undefined) {
      const h2 = Reflect.get(http2.Http2ServerRequest.prototype, 'headers', this) as Record<string, string | string[] | undefined>;
      const h: Record<string, string | string[] | undefined> = {};
      for (const name of Object.keys(h2)) if (name.charCodeAt(0) !== 58 /* : */) h[name] = h2[name];
      const authority = h2[':authority'];
      if (h.host === undefined && typeof authority === 'string') h.host = authority;
      // A body without a length (HTTP/2 frames it by itself) goes upstream chunked, as HTTP/1.1 frames it.
      if (!this.stream.endAfterHeaders && h['content-length'] === undefined) h['transfer-encoding'] = 'chunked';
      this.http1Headers = h as IncomingHttpHeaders;
    }
    return this.http1Headers;
  }

  set headers(value: IncomingHttpHeaders) {
    this.http1Headers = value;
  }
}

export function isHttp2(req: IncomingMessage | Http2ServerRequest): boolean {
  return req.httpVersionMajor === 2;
}
