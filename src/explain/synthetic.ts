import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** A request as a client would send it: what goes on the request line and in the header lines. */
export interface RequestSpec {
  method: string;
  /** origin-form: path and query. */
  target: string;
  /** Header lines in order, as [name, value]. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The port the request is taken to arrive on (what the proxy's socket reports as its local port). */
  port: number;
}

/** What the gateway answered itself. */
export interface RecordedResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
}

/** A ServerResponse with no connection behind it: it keeps what the gateway answers. */
class RecordingResponse extends ServerResponse {
  recorded: RecordedResponse | undefined;
  private chunks: Buffer[] = [];
  private onEnd: (r: RecordedResponse) => void = () => {};
  readonly ended = new Promise<RecordedResponse>((resolve) => (this.onEnd = resolve));

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    this.keep(chunk);
    return super.write(chunk as string, ...(rest as [BufferEncoding]));
  }

  override end(...args: unknown[]): this {
    if (typeof args[0] !== 'function') this.keep(args[0]);
    this.recorded = { status: this.statusCode, headers: this.getHeaders(), body: Buffer.concat(this.chunks).toString('utf8') };
    this.onEnd(this.recorded);
    return super.end(...(args as [() => void]));
  }

  private keep(chunk: unknown): void {
    if (typeof chunk === 'string') this.chunks.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array) this.chunks.push(Buffer.from(chunk));
  }
}

interface HeaderParsing {
  _addHeaderLines(headers: string[], n: number): void;
}

/**
 * An IncomingMessage/ServerResponse pair in memory, for running the real pipeline on a request that is never
 * sent. Headers go through Node's own header-line handling (repeated headers joined or dropped exactly as for a
 * request off the wire); the body is empty.
 */
export function syntheticExchange(spec: RequestSpec): { req: IncomingMessage; res: RecordingResponse } {
  const socket = new Duplex({ read() {}, write: (_chunk, _enc, done) => done() });
  Object.assign(socket, { remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1', localPort: spec.port, encrypted: false });
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = spec.method;
  req.url = spec.target;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const raw = spec.headers.flatMap(([name, value]) => [name, value]);
  (req as unknown as HeaderParsing)._addHeaderLines(raw, raw.length);
  req.push(null);
  req.complete = true;
  return { req, res: new RecordingResponse(req) };
}

export type { RecordingResponse };
