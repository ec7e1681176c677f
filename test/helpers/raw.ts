import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';

export interface RawReply {
  /** Everything the server sent, latin1. */
  text: string;
  /** The server closed the connection (rather than the wait running out). */
  closed: boolean;
  /** The status code of the first response, or 0. */
  status: number;
  /** The body of the first response (after the blank line; de-chunked). */
  body: string;
}

function dechunk(s: string): string {
  let out = '';
  for (;;) {
    const eol = s.indexOf('\r\n');
    const size = eol === -1 ? 0 : parseInt(s.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    s = s.slice(eol + 4 + size);
  }
}

function parse(text: string, closed: boolean): RawReply {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  let body = split === -1 ? '' : text.slice(split + 4);
  if (/\r\ntransfer-encoding: chunked\r\n/i.test(`${head}\r\n`)) body = dechunk(body);
  return { text, closed, status: m ? Number(m[1]) : 0, body };
}

/**
 * Writes `parts` to a fresh connection (waiting `gapMs` between parts) and collects what comes back until the
 * server closes or `waitMs` passes.
 */
export function rawExchange(port: number, parts: Array<string | Buffer> | string, opts: { gapMs?: number; waitMs?: number } = {}): Promise<RawReply> {
  const list = typeof parts === 'string' ? [parts] : parts;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks).toString('latin1'), closed));
    };
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (let i = 0; i < list.length && !done; i++) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        const part = list[i];
        if (!socket.destroyed) socket.write(typeof part === 'string' ? Buffer.from(part, 'latin1') : part);
      }
    });
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 5000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

export interface TcpServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A plain TCP server on loopback; `onConnection` decides what each connection gets (or does not get). */
export function startTcpServer(onConnection: (socket: net.Socket) => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        get connections() {
          return connections;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

export interface RawUpstream extends TcpServer {
  /** Every byte every connection sent, in arrival order. */
  received(): string;
}

/**
 * A byte-recording upstream: answers each request head it sees with `200 ok`. It proves what reached an upstream
 * at all, not just what an HTTP parser made of it.
 */
export async function startRawUpstream(): Promise<RawUpstream> {
  const got: Buffer[] = [];
  const server = await startTcpServer((socket) => {
    let pending = '';
    socket.on('data', (d: Buffer) => {
      got.push(d);
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        pending = pending.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  return Object.assign(server, { received: () => Buffer.concat(got).toString('latin1') });
}

/** A port nobody listens on: bind, note the port, close. */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** How many file descriptors a process (on this machine) has open. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Polls `check` until it returns true or `timeoutMs` passes; resolves with its last answer. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, stepMs = 50): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * A listener whose accept queue is full and whose process never accepts (its event loop is blocked): the kernel
 * drops further SYNs, so connecting to it hangs until the client gives up. A connect timeout, on loopback.
 */
export async function startBlackHole(): Promise<{ port: number; fillers: net.Socket[]; proc: ChildProcess } | undefined> {
  const script =
    "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{" +
    "require('fs').writeSync(1,s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})";
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // no test-runner hooks in this child
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'], env });
  const port = await new Promise<number>((resolve) => proc.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      s.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    if (!connected) return { port, fillers, proc };
  }
  for (const s of fillers) s.destroy();
  proc.kill('SIGKILL');
  return undefined;
}
