import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { benchRoute, startBench, type AuthBench } from '../helpers/auth';
import { startGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

// A gateway that answers before reading a request body must still get its answer to the client: closing a socket
// with unread bytes resets the connection, and the client's kernel then drops the answer it had not read yet.

const ROUTES = [
  ...benchRoute('key', '[{name: key-auth}]'),
  ...benchRoute('body', '[{name: key-auth, config: {key_in_body: true}}]'),
  ...benchRoute('stop', '[{name: request-termination, config: {status_code: 403, message: closed}}]'),
];
const CONSUMERS = ['consumers:', '  - username: alice', '    keyauth_credentials: [{key: alice-key}]'];

let bench: AuthBench;
t.before(async () => {
  bench = await startBench(ROUTES, CONSUMERS);
});
t.teardown(() => bench.close());

interface Response {
  status: number;
  headers: string;
  body: string;
}

interface Pushed {
  responses: Response[];
  /** The server closed its side. */
  ended: boolean;
  /** The connection failed (reset) on the client's side. */
  error: string | undefined;
  /** The connection was still open when the client gave up. */
  gaveUp: boolean;
}

/** The complete responses in what a server sent (Content-Length framing only). */
function responsesIn(text: string): Response[] {
  const out: Response[] = [];
  for (;;) {
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
    const split = text.indexOf('\r\n\r\n');
    if (m === null || split === -1) return out;
    const headers = text.slice(0, split);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(headers)?.[1] ?? 0);
    if (text.length < split + 4 + length) return out;
    out.push({ status: Number(m[1]), headers, body: text.slice(split + 4, split + 4 + length) });
    text = text.slice(split + 4 + length);
  }
}

interface PushOptions {
  /** Body bytes written after `head`; Infinity writes until the connection dies. */
  bodyBytes: number;
  /** Written after the body, e.g. the chunked terminator and a next request. */
  after?: string;
  /** Pause between 64 KiB pieces. */
  gapMs?: number;
  /** Read nothing until the body is written: the answer waits in the kernel, where a reset destroys it. */
  readLate?: boolean;
  /** How long to keep the connection after writing, when the server does not close it. */
  giveUpMs?: number;
}

/** Writes `head` and a body of `x`s in pieces on a fresh connection, and collects what the server answers. */
function push(port: number, head: string, opts: PushOptions): Promise<Pushed> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    let writing = true;
    let done = false;
    const finish = (gaveUp: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ responses: responsesIn(Buffer.concat(received).toString('latin1')), ended, error, gaveUp });
    };
    const giveUp = setTimeout(() => finish(true), 20_000);
    // Half-open allowed: the client goes on sending after the server has closed its side, as a real uploader does.
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    if (opts.readLate) socket.pause();
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('end', () => {
      ended = true;
      if (!writing) finish(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('close', () => finish(false));
    const piece = Buffer.alloc(64 * 1024, 'x');
    socket.on('connect', async () => {
      socket.write(head);
      for (let sent = 0; sent < opts.bodyBytes && !socket.destroyed && !done; sent += piece.length) {
        const n = Math.min(piece.length, opts.bodyBytes - sent);
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) await drained(socket);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.after && !socket.destroyed) socket.write(opts.after);
      writing = false;
      socket.resume();
      if (ended) finish(false);
      else giveUp.refresh();
      if (opts.giveUpMs !== undefined) setTimeout(() => finish(true), opts.giveUpMs);
    });
  });
}

function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      socket.off('drain', go);
      socket.off('close', go);
      resolve();
    };
    socket.on('drain', go);
    socket.on('close', go);
  });
}

const MiB = 1024 * 1024;
/** A request after the refused one on the same connection: it must be read as a request of its own. */
const NEXT = 'GET /key HTTP/1.1\r\nHost: gw\r\napikey: alice-key\r\nConnection: close\r\n\r\n';
const post = (path: string, framing: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n${framing}\r\n${extra}\r\n`;

t.test('a 413 sent while the client still writes its body arrives whole, with its JSON body', async (t) => {
  const r = await push(bench.gw.proxyPort, post('/body', `Content-Length: ${3 * MiB}`, 'Connection: close\r\n'), { bodyBytes: 3 * MiB, gapMs: 5, readLate: true });
  t.equal(r.error, undefined, 'no reset');
  t.equal(r.responses.length, 1);
  t.equal(r.responses[0]?.status, 413);
  t.equal(JSON.parse(r.responses[0]?.body ?? '{}').message, 'Request body too large');
  t.ok(r.ended, 'then the gateway closes');
});

t.test('a 413 for a body found too large while reading it arrives whole, and the connection serves the next request', async (t) => {
  const r = await push(bench.gw.proxyPort, `${post('/body', 'Transfer-Encoding: chunked')}${(2 * MiB).toString(16)}\r\n`, {
    bodyBytes: 2 * MiB,
    after: `\r\n0\r\n\r\n${NEXT}`,
    readLate: true,
  });
  t.equal(r.error, undefined, 'no reset');
  t.same(
    r.responses.map((x) => x.status),
    [413, 200],
  );
  t.equal(JSON.parse(r.responses[0].body).message, 'Request body too large');
});

t.test('a refusal before the body is read (401, request-termination) arrives, and the rest of the body does not spoil the next request', async (t) => {
  for (const [path, status] of [
    ['/key', 401],
    ['/stop', 403],
  ] as const) {
    const r = await push(bench.gw.proxyPort, post(path, `Content-Length: ${MiB}`), { bodyBytes: MiB, gapMs: 2, after: NEXT, readLate: true });
    t.equal(r.error, undefined, `${path}: no reset`);
    t.same(
      r.responses.map((x) => x.status),
      [status, 200],
      `${path}: the refusal, then the next request's answer`,
    );
  }
});

t.test('a request the parser refuses (header too large) gets its 431 whole while the client still sends', async (t) => {
  const r = await push(bench.gw.proxyPort, 'GET /key HTTP/1.1\r\nHost: gw\r\nX-Pad: ', { bodyBytes: 2 * MiB, gapMs: 2, readLate: true });
  t.equal(r.error, undefined, 'no reset');
  t.equal(r.responses[0]?.status, 431);
  t.equal(JSON.parse(r.responses[0]?.body ?? '{}').message, 'Request header or cookie too large');
  t.ok(r.ended);
});

t.test("an upstream's answer sent before the body reached it arrives whole, and the connection serves the next request", async (t) => {
  // Answers /early at once, without reading the body; anything else once the body is read.
  const upstream = http.createServer((req, res) => {
    if (req.url === '/early') return res.writeHead(413, { 'Content-Type': 'text/plain', 'Content-Length': 16 }).end('upstream says no');
    req.resume().on('end', () => res.end('fine'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => upstream.close());
  const { port } = upstream.address() as net.AddressInfo;
  const gw = await startGateway(yaml('_format_version: "3.0"', 'services:', '  - name: up', `    url: http://127.0.0.1:${port}`, '    routes:', '      - paths: [/]', '        strip_path: false'));
  t.teardown(() => gw.stop());
  const closing = await push(gw.proxyPort, post('/early', `Content-Length: ${3 * MiB}`, 'Connection: close\r\n'), { bodyBytes: 3 * MiB, gapMs: 5, readLate: true });
  t.equal(closing.error, undefined, 'no reset');
  t.equal(closing.responses[0]?.status, 413);
  t.equal(closing.responses[0]?.body, 'upstream says no');
  const next = 'POST /fine HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi';
  const kept = await push(gw.proxyPort, post('/early', `Content-Length: ${MiB}`), { bodyBytes: MiB, gapMs: 2, after: next, readLate: true });
  t.equal(kept.error, undefined, 'no reset');
  t.same(
    kept.responses.map((x) => x.body),
    ['upstream says no', 'fine'],
  );
});

t.test('a client that never stops sending is cut once the lingering bound passes', async (t) => {
  const gw = await startGateway('', { file: bench.gw.configFile, args: ['--lingering-time', '300', '--lingering-timeout', '5000'] });
  t.teardown(() => gw.stop());
  const slowly = { bodyBytes: Infinity, gapMs: 20 };
  const closing = await push(gw.proxyPort, post('/body', `Content-Length: ${100 * MiB}`, 'Connection: close\r\n'), slowly);
  t.equal(closing.responses[0]?.status, 413, 'the answer arrived');
  t.notOk(closing.gaveUp, 'the gateway closed the connection');
  const kept = await push(gw.proxyPort, post('/key', `Content-Length: ${100 * MiB}`), slowly);
  t.equal(kept.responses[0]?.status, 401, 'the answer arrived');
  t.notOk(kept.gaveUp, 'the gateway closed the kept-alive connection too');
});
