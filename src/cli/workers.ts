import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';

/** Kong's nginx worker_processes setting, as an environment variable. */
export const WORKERS_ENV = 'KONG_NGINX_WORKER_PROCESSES';
export const MAX_WORKERS = 1024;

/** `--workers`: a count, or `auto` for one per core. */
export function workerCount(value: string): number {
  if (value === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_WORKERS}, or 'auto'`);
  return n;
}
