// Active health checks: each upstream with a probing interval set checks its targets on its own timer, over HTTP,
// HTTPS or TCP, at most `concurrency` at a time, each within `timeout` seconds. Healthy targets are probed every
// `healthy.interval` seconds, unhealthy ones every `unhealthy.interval` (0: not probed).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Balancer, HealthEvent } from './balancer';

/** One probe of target i: its outcome and a reason for the log. */
export function probe(balancer: Balancer, i: number): Promise<[HealthEvent | undefined, string]> {
  const active = balancer.healthchecks.active;
  const { host, port } = balancer.targets[i].spec;
  const timeoutMs = Math.max(1, active.timeout * 1000);
  return new Promise((resolve) => {
    let settled = false;
    const done = (event: HealthEvent | undefined, reason: string) => {
      if (settled) return;
      settled = true;
      resolve([event, reason]);
    };
    if (active.type === 'tcp') {
      const socket = net.connect({ host, port });
      socket.setTimeout(timeoutMs, () => {
        socket.destroy();
        done('timeout', 'connect timeout');
      });
      socket.once('connect', () => {
        socket.destroy();
        done('success', 'connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => done('tcp_failure', err.code ?? err.message));
      return;
    }
    const isHttps = active.type === 'https';
    const headers: Record<string, string | string[]> = { ...(active.headers ?? {}) };
    if (headers.host === undefined && headers.Host === undefined) headers.host = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const options: https.RequestOptions = { host, port, method: 'GET', path: active.http_path, headers, agent: false, timeout: timeoutMs };
    if (isHttps) {
      options.rejectUnauthorized = active.https_verify_certificate;
      const sni = active.https_sni ?? (net.isIP(host) === 0 ? host : undefined);
      if (sni !== undefined) options.servername = sni;
    }
    const req = (isHttps ? https : http).request(options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      req.destroy();
      if (active.healthy.http_statuses.includes(status)) done('success', `status ${status}`);
      else if (active.unhealthy.http_statuses.includes(status)) done('http_failure', `status ${status}`);
      else done(undefined, `status ${status}`);
    });
    req.once('timeout', () => {
      req.destroy();
      done('timeout', 'timeout');
    });
    req.once('error', (err: NodeJS.ErrnoException) => done('tcp_failure', err.code ?? err.message));
    req.end();
  });
}

/** The probing of one upstream's targets; stopped when the upstream leaves the config. */
export class Prober {
  private timers: NodeJS.Timeout[] = [];
  private running = new Set<number>();

  constructor(private readonly balancer: Balancer) {}

  /** (Re)starts the timers for the balancer's current healthchecks. */
  start(): void {
    this.stop();
    const { healthy, unhealthy } = this.balancer.healthchecks.active;
    if (healthy.interval > 0) this.every(healthy.interval, true);
    if (unhealthy.interval > 0) this.every(unhealthy.interval, false);
  }

  private every(seconds: number, healthy: boolean): void {
    const timer = setInterval(() => void this.round(healthy), seconds * 1000);
    timer.unref();
    this.timers.push(timer);
  }

  /** Probes every weighted target in the given state, `concurrency` at a time. */
  async round(healthy: boolean): Promise<void> {
    const b = this.balancer;
    const queue: number[] = [];
    b.targets.forEach((t, i) => {
      if (t.healthy === healthy && t.spec.weight > 0 && !this.running.has(i)) queue.push(i);
    });
    const concurrency = b.healthchecks.active.concurrency;
    const worker = async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        this.running.add(i);
        const address = b.targets[i].spec.address;
        try {
          const [event, reason] = await probe(b, i);
          // The config may have changed under the probe: report only to the target still at that address.
          const now = b.targets[i]?.spec.address === address ? i : b.indexOf(address);
          if (event !== undefined && now !== -1) b.report(now, event, 'active', reason);
        } finally {
          this.running.delete(i);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
