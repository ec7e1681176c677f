import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { ReloadSource } from '../gateway';
import type { ListenAddress } from '../cli/listen';
import { log } from '../log';
import { NODE_ID, NODE_ID_ENV } from '../node-id';
import type { AccessSink } from '../observe/access-log';
import type { GatewayMetrics } from '../observe/metrics';
import { grantLease, type LeaseRequest } from '../plugins/rate-limiting/leases';
import { answer, Calls, type Call, type Reply, type ToPrimary, type ToWorker, type WorkerConfig, type WorkerSettings, type WorkerStats } from './messages';

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A worker that served this long before dying is replaced at once: its death says nothing about the next one. */
const STABLE_AFTER_MS = 10_000;
const CALL_TIMEOUT_MS = 2_000;
/** How long POST /config waits for every worker to say it serves the new config. */
const SETTLE_TIMEOUT_MS = 10_000;

/** One place in the pool: its worker process, replaced when it dies. */
class Slot {
  worker: Worker | undefined;
  /** The worker listens for messages (before that, they are lost). */
  up = false;
  calls: Calls | undefined;
  startedAt = new Date();
  ready = false;
  restarts = 0;
  backoffMs = FIRST_BACKOFF_MS;
  /** Configs sent to the current worker, and how many it has applied. */
  sent = 0;
  applied = 0;

  constructor(readonly id: number) {}

  send(message: ToWorker): void {
    if (this.up && this.worker?.isConnected()) this.worker.send(message);
  }
}

export interface WorkerView extends Partial<WorkerStats> {
  id: number;
  pid: number | undefined;
  started_at: string;
  restarts: number;
}

type Sample = MetricValue<string>;

/**
 * The primary's side of `--workers N`: forks the workers, hands each the accepted config, replaces a worker that
 * dies (backing off 100 ms, doubling to 10 s), writes their access lines, owns the local rate-limiting counters
 * they lease from, and gathers their counters for the Admin API.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  /**
   * The config accepted last, which a worker starting now (or replacing one that died) starts from. Checked
   * batches are kept rather than the text: about twice the text's size, but a replaced worker then starts
   * without checking the file (a check's peak memory is many times that, and it comes when a worker died).
   */
  private latest: WorkerConfig | undefined;
  private stopping = false;
  private settleWaiters: Array<() => void> = [];

  constructor(
    readonly size: number,
    private readonly settings: WorkerSettings,
    private readonly accessSink: AccessSink | undefined,
  ) {
    for (let i = 1; i <= size; i++) this.slots.push(new Slot(i));
    // 'advanced': a config's checked batches are Uint8Arrays, which JSON would make arrays of numbers.
    cluster.setupPrimary({ exec: join(__dirname, 'worker.js'), args: [], silent: false, serialization: 'advanced' });
  }

  /** Forks every worker (on the config accepted last); resolves with the proxy address once all serve, rejects when one cannot start. */
  start(): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      let waiting = this.size;
      for (const slot of this.slots) {
        this.fork(slot, {
          ready: (proxy) => {
            if (--waiting === 0) resolve(proxy);
          },
          failed: reject,
        });
      }
    });
  }

  /** An accepted config: every worker applies it, in the order configs were accepted. */
  configure(config: WorkerConfig, name: string, source: ReloadSource): void {
    this.latest = config;
    for (const slot of this.slots) {
      // A worker not up yet gets the latest config with its start.
      if (!slot.up) continue;
      slot.sent++;
      slot.send({ type: 'config', config, name, source });
    }
  }

  /** Resolves once every live worker serves the last config sent (or after SETTLE_TIMEOUT_MS). */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, SETTLE_TIMEOUT_MS);
      this.settleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Each worker's counters as it answers now; a worker that does not answer is listed without them. */
  async workers(): Promise<WorkerView[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        const view: WorkerView = { id: slot.id, pid: slot.worker?.process.pid, started_at: slot.startedAt.toISOString(), restarts: slot.restarts };
        if (!slot.ready || slot.calls === undefined) return view;
        try {
          return { ...view, ...(await slot.calls.call<WorkerStats>('stats')) };
        } catch {
          return view;
        }
      }),
    );
  }

  /** The Prometheus text of the primary's registry and every worker's, added up (one node_id: the primary's). */
  async metrics(own: GatewayMetrics): Promise<string> {
    const { answers } = await this.callEach<MetricObjectWithValues<Sample>[]>('metrics');
    const all = [await own.registry.getMetricsAsJSON(), ...answers];
    return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /** Asks every serving worker the same: the answers given, and how many workers gave none (in time). */
  async callEach<T>(name: string, body?: unknown): Promise<{ answers: T[]; failed: number }> {
    const settled = await Promise.allSettled(this.slots.filter((s) => s.ready && s.calls !== undefined).map((s) => s.calls!.call<T>(name, body)));
    const answers: T[] = [];
    for (const a of settled) if (a.status === 'fulfilled') answers.push(a.value);
    return { answers, failed: settled.length - answers.length };
  }

  /** Drains every worker (each for up to `graceMs`), then resolves once all have exited. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.slots
      .filter((s) => s.worker !== undefined && s.worker.exitedAfterDisconnect !== true && s.worker.process.exitCode === null)
      .map((s) => {
        const worker = s.worker!;
        return new Promise<void>((resolve) => {
          worker.once('exit', () => resolve());
          // A worker not listening for messages yet would miss the word: it gets the signal instead.
          if (s.up && worker.isConnected()) worker.send({ type: 'stop', graceMs } satisfies ToWorker);
          else worker.process.kill('SIGTERM');
          // A worker that does not finish its drain in time is ended.
          setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 2_000).unref();
        });
      });
    await Promise.all(exits);
    this.accessSink?.flush();
  }

  private fork(slot: Slot, starting?: { ready(proxy: ListenAddress): void; failed(err: Error): void }): void {
    const worker = cluster.fork({ [NODE_ID_ENV]: NODE_ID });
    slot.worker = worker;
    slot.calls = new Calls((m) => worker.send(m), CALL_TIMEOUT_MS);
    slot.startedAt = new Date();
    slot.up = false;
    slot.ready = false;
    slot.sent = 0;
    slot.applied = 0;
    const calls = slot.calls;
    worker.on('message', (message: ToPrimary) => {
      switch (message.type) {
        case 'up':
          slot.up = true;
          slot.send({ type: 'start', id: slot.id, settings: this.settings, config: this.latest! });
          return;
        case 'ready':
          slot.ready = true;
          starting?.ready(message.proxy);
          return;
        case 'failed':
          if (starting === undefined) log('error', 'worker could not start', { worker: slot.id, error: message.error });
          starting?.failed(new Error(message.error));
          starting = undefined;
          return;
        case 'configured':
          slot.applied++;
          return this.checkSettled();
        case 'access-log':
          this.accessSink?.write(Buffer.from(message.text));
          return;
        case 'call':
          return answer(message as Call, (name, body) => this.answer(name, body), (reply) => worker.isConnected() && worker.send(reply));
        case 'reply':
          return calls.settle(message as Reply);
      }
    });
    worker.on('exit', (code, signal) => {
      calls.failAll('the worker exited');
      if (slot.worker === worker) {
        slot.worker = undefined;
        slot.up = false;
        slot.ready = false;
      }
      this.checkSettled();
      if (starting !== undefined && !slot.ready) {
        starting.failed(new Error(`worker ${slot.id} exited before serving (${signal ?? `code ${code}`})`));
        starting = undefined;
      }
      if (this.stopping) return;
      this.replace(slot, worker, code, signal);
    });
  }

  private replace(slot: Slot, dead: Worker, code: number | null, signal: string | null): void {
    const served = Date.now() - slot.startedAt.getTime();
    if (served >= STABLE_AFTER_MS) slot.backoffMs = FIRST_BACKOFF_MS;
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(MAX_BACKOFF_MS, slot.backoffMs * 2);
    log('error', 'worker exited; starting another', { worker: slot.id, pid: dead.process.pid, code, signal, restart_in_ms: delay });
    setTimeout(() => {
      if (this.stopping) return;
      slot.restarts++;
      this.fork(slot);
    }, delay);
  }

  private answer(name: string, body: unknown): unknown {
    if (name === 'leases') {
      const now = Date.now();
      return (body as LeaseRequest[]).map((request) => grantLease(request, this.size, now));
    }
    throw new Error(`unknown call ${name}`);
  }

  private isSettled(): boolean {
    return this.slots.every((s) => !s.up || s.applied >= s.sent);
  }

  private checkSettled(): void {
    if (this.settleWaiters.length === 0 || !this.isSettled()) return;
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of waiters) w();
  }
}
