// What a pool's primary and its workers say to each other over the cluster IPC channel.
import type { ReloadSource } from '../gateway';
import type { ListenAddress } from '../cli/listen';
import type { LogFormat, LogLevel } from '../log';
import type { ClientTimeouts } from '../proxy/client-limits';
import type { RealIpOptions } from '../proxy/client-address';
import type { TlsSettings } from '../proxy/tls';
import type { CheckedConfig } from '../config/load-off-thread';

/** What a worker needs to serve as the primary would: the CLI's options, minus what the primary keeps. */
export interface WorkerSettings {
  configFile: string;
  proxyListen: ListenAddress;
  proxyListeners?: ListenAddress[];
  /** The primary's, so that every worker serves the same default certificate and resumes the same tickets. */
  tls?: TlsSettings;
  clientTimeouts?: ClientTimeouts;
  realIp?: RealIpOptions;
  maxConnectionsPerIp?: number | null;
  /** The access log's format; its lines are written by the primary. */
  accessLogFormat: LogFormat;
  accessLog: boolean;
  metrics: boolean;
  metricsPerConsumer: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** This worker's share of --mem-cache-size, in bytes. */
  memCacheSize: number;
}

export interface WorkerStats {
  configuration_hash: string;
  connections_accepted: number;
  connections_refused: number;
  connections_active: number;
  total_requests: number;
}

/**
 * A config the primary accepted, as its workers get it: the primary's checked batches and hash when it checked
 * the file away from its event loop (a worker only reads them), else the text (small, or posted to the Admin API),
 * which a worker loads as the primary did.
 */
export type WorkerConfig = { checked: CheckedConfig } | { text: string };

/** Primary → worker. */
export type ToWorker =
  | { type: 'start'; id: number; settings: WorkerSettings; config: WorkerConfig }
  | { type: 'config'; config: WorkerConfig; name: string; source: ReloadSource }
  | { type: 'stop'; graceMs: number }
  | Call
  | Reply;

/** Worker → primary. */
export type ToPrimary =
  /** Listening for messages: what is sent before this is lost. */
  | { type: 'up' }
  | { type: 'ready'; proxy: ListenAddress }
  | { type: 'failed'; error: string }
  | { type: 'configured'; hash: string }
  | { type: 'access-log'; text: string }
  | { type: 'stopped' }
  | Call
  | Reply;

/** A request that expects one reply with the same id: `stats`, `metrics`, `proxy-cache` (primary → worker), `leases` (worker → primary). */
export interface Call {
  type: 'call';
  id: number;
  name: string;
  body?: unknown;
}

export interface Reply {
  type: 'reply';
  id: number;
  body?: unknown;
  error?: string;
}

/** The calling side of one channel: ids, pending replies, a timeout each. */
export class Calls {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (body: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly send: (message: Call) => void,
    private readonly timeoutMs: number,
  ) {}

  call<T>(name: string, body?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${name} in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (body: unknown) => void, reject, timer });
      try {
        this.send({ type: 'call', id, name, body });
      } catch (err) {
        this.settle({ type: 'reply', id, error: (err as Error).message });
      }
    });
  }

  settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.error !== undefined) p.reject(new Error(reply.error));
    else p.resolve(reply.body);
  }

  /** The other side is gone: every pending call fails now. */
  failAll(reason: string): void {
    for (const id of [...this.pending.keys()]) this.settle({ type: 'reply', id, error: reason });
  }
}

/** Answers one call with `handle`'s result (or its error). */
export function answer(call: Call, handle: (name: string, body: unknown) => unknown, send: (reply: Reply) => void): void {
  Promise.resolve()
    .then(() => handle(call.name, call.body))
    .then(
      (body) => send({ type: 'reply', id: call.id, body }),
      (err) => send({ type: 'reply', id: call.id, error: (err as Error).message }),
    );
}
