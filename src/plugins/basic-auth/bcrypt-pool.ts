import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

// bcryptjs runs in worker threads, never on the event loop. Its async API only slices the same work into
// main-thread ticks: ~75 ms of CPU per check would still be taken from every other request.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', (job) => {
  let ok = false;
  try { ok = bcrypt.compareSync(job.password, job.hash); } catch {}
  parentPort.postMessage(ok);
});
`;

interface Job {
  password: string;
  hash: string;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

/** A fixed number of bcrypt workers and a bounded queue: beyond `maxPending` checks, new ones are refused. */
export class BcryptPool {
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];

  constructor(
    readonly size: number,
    readonly maxPending: number,
  ) {}

  /** Checks queued or running. */
  get pending(): number {
    return this.queue.length + this.busy.size;
  }

  /** Whether `password` matches the bcrypt `hash`; undefined when `maxPending` checks are already waiting. */
  compare(password: string, hash: string): Promise<boolean> | undefined {
    if (this.pending >= this.maxPending) return undefined;
    return new Promise((resolve, reject) => {
      this.queue.push({ password, hash, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.workers.size < this.size ? this.spawn() : undefined);
      if (worker === undefined) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.ref(); // a check in progress keeps the process alive; an idle worker does not
      worker.postMessage({ password: job.password, hash: job.hash });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: require.resolve('bcryptjs') } });
    this.workers.add(worker);
    worker.on('message', (ok: boolean) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      job?.resolve(ok === true);
      this.dispatch();
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', () => this.lost(worker, new Error('bcrypt worker exited')));
    return worker;
  }

  /** A worker died: its check fails (500 for that request), a new worker takes the queue. */
  private lost(worker: Worker, err: Error): void {
    if (!this.workers.delete(worker)) return;
    const job = this.busy.get(worker);
    this.busy.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i !== -1) this.idle.splice(i, 1);
    job?.reject(err);
    this.dispatch();
  }
}

/**
 * One worker per spare core, at most 4 (at least 1), and 16 queued checks per worker: at bcrypt cost 10
 * (~75 ms) a check waits at most ~1.2 s before it runs; anything beyond is refused at once.
 */
export const WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1));
export const MAX_PENDING = 16 * WORKERS;

export const bcryptPool = new BcryptPool(WORKERS, MAX_PENDING);
