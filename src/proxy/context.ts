import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ConsumerEntity } from '../config/entities';
import type { ChainEntry, Snapshot, RouteRuntime } from '../config/snapshot';
import type { RouteMatch } from './router';
import type { Chain } from '../config/snapshot';
import { errorBody, MESSAGES, send, type ErrorBodyType } from './respond';
import { hasResponsePhase, ResponseHead } from './response-head';
import { PEER_ADDRESSES, type ClientAddresses } from './client-address';

/**
 * Why the gateway answered a request itself rather than with the upstream's response: the `reason` of access
 * log lines and metrics. A fixed set, so it can never carry anything a client sent.
 */
export type Refusal =
  | 'no credentials'
  | 'bad credentials'
  | 'acl'
  | 'rate limit'
  | 'termination'
  | 'body too large'
  | 'length required'
  | 'ip not allowed'
  | 'bot'
  | 'auth overloaded'
  | 'https required'
  | 'no route'
  | 'no service'
  | 'bad request'
  | 'upstream error'
  | 'upstream timeout'
  | 'plugin error'
  | 'client closed';

/** The credential an auth plugin accepted. */
export interface AuthenticatedCredential {
  id: string;
  /** Undefined for a credential vouched for without a consumer (ldap-auth). */
  consumerId: string | undefined;
  /** What X-Credential-Identifier carries. */
  identifier: string;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** A body past request-size-limiting's limit, found while a later plugin read it; answered with its status. */
export class RequestSizeExceeded extends Error {
  constructor(readonly status: number) {
    super(MESSAGES.sizeLimit);
  }
}

/** Watches one request go through the pipeline (`gateway explain`); served traffic has none. */
export interface RequestTrace {
  /** A route matched; called before any plugin runs. */
  routed(ctx: RequestContext): void;
  /** A plugin's access phase finished (after its promise, when it returned one). */
  ran(ctx: RequestContext, entry: ChainEntry): void;
  /** What a plugin did that the context does not show (a directory it did not contact); said before `ran`. */
  note(text: string): void;
}

/** Per-request state shared by the plugin chain and the forwarder. Built once per request; fields fixed. */
export class RequestContext {
  consumer: ConsumerEntity | undefined = undefined;
  credential: AuthenticatedCredential | undefined = undefined;
  /** True once the consumer was set as a plugin's `anonymous` fallback. */
  anonymous = false;
  /** Groups an auth plugin vouched for without a consumer's acls (LDAP, OIDC, …); acl prefers them as Kong does. */
  authenticatedGroups: readonly string[] | undefined = undefined;
  responded = false;
  /** Why the gateway answered the request itself, for logs and metrics (never holds a secret). */
  refusal: Refusal | undefined = undefined;
  /** The plugin that refused the request, when one did. */
  refusedBy: string | undefined = undefined;
  /** The request body once a plugin has read it; the forwarder then sends these bytes instead of the stream. */
  body: Buffer | undefined = undefined;
  /** The Host header sent upstream when a plugin set it (request-transformer's `replace.headers: host:…`). */
  upstreamHost: string | undefined = undefined;
  /** Milliseconds since epoch when the request was handed to the upstream. */
  forwardedAt = 0;
  trace: RequestTrace | undefined = undefined;
  /** Milliseconds since epoch when the upstream's response headers arrived; 0 when none did. */
  upstreamRespondedAt = 0;
  /** The upstream's response status; 0 when none came (Kong's upstream_status). */
  upstreamStatus = 0;
  /** The trace id each tracing plugin wrote upstream, by format (Kong's serialize value `trace_id`). */
  traceIds: Partial<Record<string, string>> | undefined = undefined;
  /** The id correlation-id gave the request (Kong's serialize value `correlation_id`). */
  correlationId: string | undefined = undefined;
  /**
   * Headers plugins add to the response, as a flat [name, value, …] list (each name once): the forwarder writes
   * them in its one writeHead, where the upstream's and Kong's headers of the same name win; a gateway-generated
   * answer writes its own over them. Cheaper than res.setHeader, which makes node:http keep a header map.
   */
  responseHeaders: string[] | undefined = undefined;
  /** The plugin chain the request runs on: the route's, or a consumer's once an auth plugin identified one. */
  chain: Chain;
  /** How the client's address is found (the gateway's trusted_ips settings). */
  clientAddresses: ClientAddresses = PEER_ADDRESSES;
  /** The scheme the request arrived with: https on a TLS listener (Kong's ngx.var.scheme). */
  scheme: 'http' | 'https' = 'http';
  /**
   * A byte limit on the request body a plugin set (request-size-limiting) for a body of unknown length: counted as
   * the body streams upstream or is read, answered with `bodyLimitStatus` once passed.
   */
  bodyLimit: number | undefined = undefined;
  bodyLimitStatus = 413;
  private clientIpCache: string | undefined = undefined;
  /** Client headers a plugin took out of the upstream request (hide_credentials), for the plugins after it. */
  private hiddenHeaders: IncomingHttpHeaders | undefined = undefined;
  private queryCache: URLSearchParams | undefined = undefined;
  private bodyPromise: Promise<Buffer> | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly snapshot: Snapshot,
    readonly match: RouteMatch,
    readonly runtime: RouteRuntime,
    readonly requestId: string,
    /** The path as the client sent it, query removed. */
    readonly rawPath: string,
    /** The raw query string without `?`, or null when the URL had no `?`. */
    public rawQuery: string | null,
    readonly startedAt: number,
  ) {
    this.chain = runtime.chain;
  }

  /** The client's address: the peer's, or the one a trusted proxy named (see ClientAddresses); found on first use. */
  get clientIp(): string {
    if (this.clientIpCache === undefined) this.clientIpCache = this.clientAddresses.of(this.req);
    return this.clientIpCache;
  }

  /** The parsed query string; parsed on first use. */
  get query(): URLSearchParams {
    if (this.queryCache === undefined) this.queryCache = new URLSearchParams(this.rawQuery ?? '');
    return this.queryCache;
  }

  /** Replaces the query string sent upstream (e.g. hide_credentials); a string is taken as raw, already encoded. */
  setQuery(params: URLSearchParams | string): void {
    this.queryCache = typeof params === 'string' ? undefined : params;
    const s = params.toString();
    this.rawQuery = s === '' ? null : s;
  }

  /**
   * A request header as the client sent it. Kong's plugins read the client's request and change only the one
   * going upstream, so a header an earlier plugin hid (basic-auth's hide_credentials on Authorization) is still
   * there for the next one (hmac-auth, on the same header).
   */
  clientHeader(name: string): string | string[] | undefined {
    const v = this.req.headers[name];
    return v !== undefined || this.hiddenHeaders === undefined ? v : this.hiddenHeaders[name];
  }

  /** Takes a header out of the upstream request; clientHeader still reads it. */
  hideHeader(name: string): void {
    const h = this.req.headers;
    const v = h[name];
    if (v === undefined) return;
    (this.hiddenHeaders ??= {})[name] = v;
    delete h[name];
  }

  /** Adds a header to the response, whoever writes it (see responseHeaders). */
  addResponseHeader(name: string, value: string): void {
    if (this.responseHeaders === undefined) this.responseHeaders = [name, value];
    else this.responseHeaders.push(name, value);
  }

  /** Ends the request with a gateway-generated response; plugins stop after this. */
  respond(status: number, body: string | Buffer, contentType: string | undefined, headers?: Record<string, string | string[]>): void {
    this.responded = true;
    if (!hasResponsePhase(this.chain)) {
      send(this.req, this.res, status, body, contentType, this.requestId, headers, this.responseHeaders);
      return;
    }
    const list: Array<string | string[]> = this.responseHeaders === undefined ? [] : [...this.responseHeaders];
    const head = new ResponseHead(status, list, false);
    if (headers !== undefined) for (const name in headers) head.set(name, headers[name]);
    if (contentType !== undefined) head.set('content-type', contentType);
    head.runHeaderFilters(this, this.chain);
    if (head.bodyFilters !== undefined) body = head.filterBody(this, typeof body === 'string' ? Buffer.from(body) : body);
    send(this.req, this.res, head.status, body, undefined, this.requestId, undefined, head.headers);
  }

  /** Ends the request with Kong's error body (`{"message": …}`). */
  error(status: number, message: string, headers?: Record<string, string>, fallback: ErrorBodyType = 'json'): void {
    const [body, type] = errorBody(this.req, message, this.requestId, fallback);
    this.respond(status, body, type, headers);
  }

  /**
   * Reads the whole request body, at most `limit` bytes (BodyTooLargeError beyond it), once per request;
   * the bytes are replayed to the upstream.
   */
  readBody(limit: number): Promise<Buffer> {
    if (this.bodyPromise === undefined) {
      const sizeLimit = this.bodyLimit;
      if (sizeLimit !== undefined && sizeLimit < limit) {
        // request-size-limiting's limit is the tighter one: passing it is its refusal, not the reader's.
        this.bodyPromise = readLimited(this.req, sizeLimit).then(
          (b) => (this.body = b),
          (err) => {
            if (!(err instanceof BodyTooLargeError)) throw err;
            this.refusal = 'body too large';
            this.refusedBy = 'request-size-limiting';
            throw new RequestSizeExceeded(this.bodyLimitStatus);
          },
        );
      } else this.bodyPromise = readLimited(this.req, limit).then((b) => (this.body = b));
    }
    return this.bodyPromise;
  }

  /** Replaces the body sent upstream (e.g. hide_credentials in a body), keeping the framing headers true. */
  replaceBody(body: Buffer): void {
    this.body = body;
    const h = this.req.headers;
    delete h['transfer-encoding'];
    h['content-length'] = String(body.length);
  }
}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onAborted = () => onError(new Error('client aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
