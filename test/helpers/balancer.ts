// Three real upstream servers and a gateway balancing over them, for the load-balancing tests.
import http from 'node:http';
import { startUpstream, type Upstream } from './http';

/** Sends `n` GETs, `concurrency` at a time on kept-alive connections; returns the X-Served-By of each answer. */
export async function fire(port: number, n: number, concurrency: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out: string[] = new Array(n);
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/lb/${i}`, agent, headers: headers(i) }, (res) => {
          res.resume();
          res.on('end', () => {
            out[i] = res.statusCode === 200 ? String(res.headers['x-served-by']) : `status ${res.statusCode}`;
            resolve();
          });
        })
        .on('error', reject);
    });
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await one(i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return out;
}

export function countBy(names: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of names) c[n] = (c[n] ?? 0) + 1;
  return c;
}

/** Three upstream servers named a, b, c; `delayMs` slows each one's answers. */
export async function startServers(delayMs: Record<string, number> = {}): Promise<Upstream[]> {
  return Promise.all(
    ['a', 'b', 'c'].map((name) =>
      startUpstream((_req, res) => {
        const answer = () => {
          res.writeHead(200, { 'X-Served-By': name, 'Content-Type': 'text/plain' });
          res.end(name);
        };
        const delay = delayMs[name] ?? 0;
        if (delay > 0) setTimeout(answer, delay);
        else answer();
      }),
    ),
  );
}

export function config(servers: Upstream[], upstream: object, weights = [100, 100, 100], service: object = {}): string {
  return JSON.stringify({
    _format_version: '3.0',
    upstreams: [{ name: 'backend', ...upstream, targets: servers.map((s, i) => ({ target: `127.0.0.1:${s.port}`, weight: weights[i] })) }],
    services: [{ name: 'svc', host: 'backend', ...service, routes: [{ name: 'lb', paths: ['/lb'] }] }],
  });
}


export interface NamedServer {
  port: number;
  /** Requests it answered. */
  hits: number;
  close(): Promise<void>;
}

/** A server answering 200 with X-Served-By: name (and `status` on /health), on `port` or an ephemeral one. */
export function namedServer(name: string, port = 0, status = () => 200): Promise<NamedServer> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(status());
        return res.end();
      }
      out.hits++;
      res.writeHead(200, { 'X-Served-By': name });
      res.end(name);
    });
  });
  const out: NamedServer = {
    port,
    hits: 0,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      out.port = (server.address() as { port: number }).port;
      resolve(out);
    });
  });
}
