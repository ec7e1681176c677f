import http from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';
import { activateUpstreams } from './balancer/registry';
import { configHashInSlices, loadConfigText } from './config/load';
import { loadConfigBytesOffThread, loadConfigFileBehindRequests, readCheckedConfig, type LoadedOffThread, type LoadedWithBatches } from './config/load-off-thread';
import { ConfigError, formatIssue, warningsLogged } from './config/errors';
import { hashConfigFile, readConfigBytes } from './config/source';
import { retireSnapshot, type Snapshot } from './config/snapshot';
import { collectRetiredSoon } from './config/collect-soon';
import { watchConfigFile, type ConfigWatcher } from './config/watch';
import type { EntitySet } from './config/entities';
import { ProxyServer } from './proxy/server';
import type { ClientTimeouts } from './proxy/client-limits';
import { ClientAddresses, type RealIpOptions } from './proxy/client-address';
import { openFilesLimit } from './proxy/connections-per-ip';
import { closeUpstreamConnections } from './proxy/forward';
import { setCacheBudget } from './plugins/proxy-cache/memory';
import { adminRequestHandler } from './admin/server';
import { checkAdminExposure, checkAdminToken } from './admin/token';
import { describeListener, formatListen, type ListenAddress } from './cli/listen';
import { tlsServerOptions, type TlsSettings } from './proxy/tls';
import { log, type LogFormat } from './log';
import { createAccessLog, type AccessLogTarget, type AccessSink } from './observe/access-log';
import { GatewayMetrics } from './observe/metrics';
import { Observer } from './observe/observer';
import { drainQueues } from './observe/queue';
import type { WorkerPool } from './cluster/pool';
import type { WorkerConfig } from './cluster/messages';

export interface GatewayOptions {
  configFile: string;
  /** A pool's worker: the config its primary accepted, to start from; configFile then names it. */
  accepted?: WorkerConfig;
  /** null: this process serves no traffic itself (a worker pool's primary). */
  proxyListen: ListenAddress | null;
  /** Every proxy listener, `proxyListen` first (just it when absent). */
  proxyListeners?: ListenAddress[];
  adminListen: ListenAddress | null;
  /** Every Admin API listener, `adminListen` first (just it when absent). */
  adminListeners?: ListenAddress[];
  /** The default certificate and session ticket keys; required when a listener has `ssl`. */
  tls?: TlsSettings;
  /** Required on every Admin API request when set; mandatory when the admin address is not loopback. */
  adminToken?: string;
  /** Kong's (nginx's) 60 s each when absent. */
  clientTimeouts?: ClientTimeouts;
  /** Kong's trusted_ips, real_ip_header, real_ip_recursive: no proxy is trusted when absent. */
  realIp?: RealIpOptions;
  /** Connections one client address may have open on the proxy (DEFAULT_MAX_CONNECTIONS_PER_IP when absent); null: no cap. */
  maxConnectionsPerIp?: number | null;
  /** Show key-auth keys and other secrets in Admin API output (masked by default). */
  adminShowSecrets?: boolean;
  /** `off` (default here; the CLI defaults to stdout), `stdout`, or a file to append to. */
  accessLog?: AccessLogTarget | AccessSink;
  accessLogFormat?: LogFormat;
  /** Prometheus metrics on the Admin API's /metrics (default on; nothing is counted without an Admin API). */
  metrics?: boolean;
  /** Kong's `per_consumer`: a consumer label on request and bandwidth metrics. */
  metricsPerConsumer?: boolean;
  /** A pool's primary: every accepted config goes to these workers; /status and /metrics add up theirs. */
  workers?: WorkerPool;
  /** One of a pool's workers: its primary watches the file, logs reloads and serves the Admin API. */
  isWorker?: boolean;
  /** Bytes the proxy-cache plugin's caches may hold together in this process (Kong's mem_cache_size; 128 MiB). */
  memCacheSize?: number;
}

/** What asked for a new config: the file watcher, SIGHUP, or POST /config. */
export type ReloadSource = 'file' | 'signal' | 'admin';

export interface ReloadRecord {
  at: string;
  source: ReloadSource;
  accepted: boolean;
  ms: number;
  configuration_hash?: string;
  errors?: string[];
}

/** Files this large or larger are checked away from the event loop (a worker thread at start, a child process on a reload). */
export const OFF_THREAD_BYTES = 256 * 1024;

export interface ApplyOutcome {
  record: ReloadRecord;
  loaded?: LoadedOffThread;
  /** The located errors of a rejected config. */
  error?: ConfigError;
}

function counts(e: EntitySet) {
  return {
    services: e.services.length,
    routes: e.routes.length,
    consumers: e.consumers.length,
    plugins: e.plugins.length,
    credentials: e.keyauth_credentials.length + e.basicauth_credentials.length + e.jwt_secrets.length + e.hmacauth_credentials.length + e.acls.length,
  };
}

/** A running gateway: one config file, one proxy listener, an optional admin listener. */
export class Gateway {
  readonly proxy: ProxyServer;
  /** Undefined when metrics are off or there is no Admin API to serve them. */
  readonly metrics: GatewayMetrics | undefined;
  private readonly observer: Observer;
  admin: Server | undefined;
  /** Every Admin API server, `admin` first. */
  private adminServers: Server[] = [];
  /** The proxy's listeners as bound (port 0 resolved), in the order given. */
  private proxyBound: ListenAddress[] = [];
  lastReload: ReloadRecord | undefined;
  lastReloadError: ReloadRecord | undefined;
  private watcher: ConfigWatcher | undefined;
  /** Hash of the file text last tried (or why it could not be read): an event that changes neither is skipped. */
  private fileState: string;
  /** The reload running now, if any. */
  private reloading: Promise<ReloadRecord | undefined> | undefined;
  /** The one reload to run after it, standing for every request made meanwhile. */
  private reloadNext: { source: ReloadSource; force: boolean; done: Promise<ReloadRecord | undefined> } | undefined;
  /** The last config change asked for (a reload or a POST /config): the next one starts once it is over. */
  private changing: Promise<unknown> = Promise.resolve();
  /** Set by stop(): a reload that finishes afterwards is not served. */
  private stopped = false;

  private constructor(readonly options: GatewayOptions, loaded: LoadedOffThread) {
    const accessLog = createAccessLog(options.accessLog ?? 'off', options.accessLogFormat ?? 'json');
    if (options.metrics !== false && (options.adminListen || options.isWorker)) {
      this.metrics = new GatewayMetrics({
        perConsumer: options.metricsPerConsumer === true,
        // The config and its reloads are the primary's to count, once.
        node: options.isWorker !== true,
        stats: () => this.proxy.stats,
        configHash: () => this.proxy.current.hash,
      });
    }
    const clientAddresses = new ClientAddresses(options.realIp);
    // Always there: it decides per config whether anything (access log, metrics, log plugins) needs a request observed.
    this.observer = new Observer(accessLog, this.metrics, clientAddresses, () => this.proxy.current);
    this.proxy = new ProxyServer(loaded.snapshot, {
      clientTimeouts: options.clientTimeouts,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      observer: this.observer,
      clientAddresses,
      tls: options.tls,
    });
    // Health checks run for the config that serves (explain builds a proxy too, and probes nothing).
    activateUpstreams(loaded.snapshot.upstreams);
    this.fileState = loaded.hash;
  }

  get configFile(): string {
    return this.options.configFile;
  }

  /** Loads the file (throws ConfigError before any port is opened), starts listening and watching the file. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    if (options.adminToken !== undefined) checkAdminToken(options.adminToken);
    if (options.adminListen) checkAdminExposure(options.adminListen.host, options.adminToken);
    if (options.memCacheSize !== undefined) setCacheBudget(options.memCacheSize);
    const file = options.configFile;
    let loaded: LoadedWithBatches;
    if (options.accepted !== undefined) loaded = await loadAccepted(options.accepted, file);
    else {
      const bytes = await readConfigBytes(file);
      // A pool's primary keeps the checked batches: its workers start from them (none is up yet).
      loaded = await loadConfigBytes(bytes, file, undefined, false, options.workers !== undefined);
      options.workers?.configure(handOn(loaded, bytes), file, 'file');
    }
    const gateway = new Gateway(options, loaded);
    if (options.proxyListen) {
      for (const at of options.proxyListeners ?? [options.proxyListen]) {
        const { server, info } = gateway.proxy.serverFor(at);
        await listen(server, at);
        info.port = boundAddress(server).port;
        gateway.proxyBound.push({ ...at, host: boundAddress(server).host, port: info.port });
      }
    }
    if (options.adminListen) {
      const handler = adminRequestHandler(gateway);
      for (const at of options.adminListeners ?? [options.adminListen]) {
        // The Admin API speaks HTTP/1.1, over TLS on an `ssl` listener (with the default certificate).
        const server = at.ssl ? https.createServer(tlsServerOptions(gateway.tlsFor(at), () => undefined), handler) : http.createServer(handler);
        await listen(server, at);
        gateway.adminServers.push(server);
      }
      gateway.admin = gateway.adminServers[0];
    }
    if (options.isWorker) return gateway;
    gateway.watcher = await watchConfigFile(options.configFile, async () => {
      await gateway.reloadFile('file', false);
    });
    // Warnings never stop a start; they are said once here (`gateway validate --strict` makes them errors).
    if (loaded.warnings.length > 0) log('warn', 'config warnings', warningsLogged(loaded.warnings));
    if (options.proxyListen) gateway.announce(gateway.proxyAddress);
    return gateway;
  }

  private tlsFor(at: ListenAddress): TlsSettings {
    if (this.options.tls === undefined) throw new Error(`${describeListener(at)}: no TLS settings`);
    return this.options.tls;
  }

  /** The start line, once the proxy is listening (a pool's primary says it when its workers are). */
  announce(proxy: ListenAddress, extra: Record<string, unknown> = {}): void {
    const snapshot = this.proxy.current;
    const files = openFilesLimit();
    log('info', 'gateway listening', {
      proxy: formatListen(proxy),
      admin: this.adminAddress ? formatListen(this.adminAddress) : 'off',
      ...proxyListenersField(this.proxyBound.length > 0 ? this.proxyBound : (this.options.workers !== undefined ? (this.options.proxyListeners ?? []) : [])),
      ...(this.adminServers.length > 1 ? { admin_listeners: this.adminServers.map((s, i) => describeListener({ ...this.adminListeners[i], ...boundAddress(s) })) } : {}),
      config: this.options.configFile,
      configuration_hash: snapshot.hash,
      ...counts(snapshot.entities),
      ...extra,
      ...(files === undefined ? {} : { open_files_limit: files.soft }),
    });
    if (files === undefined) return;
    if (files.soft < files.hard) log('warn', 'the open files limit could not be raised to its hard limit', { soft: files.soft, hard: files.hard });
    const perIp = this.proxy.maxConnectionsPerIp;
    if (perIp !== null && perIp >= files.soft) {
      log('warn', 'one client address may open as many connections as the process may open files', {
        max_connections_per_ip: perIp,
        open_files_limit: files.soft,
      });
    }
  }

  get proxyAddress(): ListenAddress {
    const first = this.proxyBound[0];
    return first === undefined ? boundAddress(this.proxy.server) : { host: first.host, port: first.port };
  }

  private get adminListeners(): ListenAddress[] {
    return this.options.adminListeners ?? (this.options.adminListen ? [this.options.adminListen] : []);
  }

  get adminAddress(): ListenAddress | undefined {
    return this.admin ? boundAddress(this.admin) : undefined;
  }

  /** SIGHUP: re-reads the file even when unchanged; a bad file is rejected and the live snapshot keeps serving. */
  async reload(): Promise<ReloadRecord> {
    return (await this.reloadFile('signal', true))!;
  }

  /**
   * Re-reads the file; unless `force`, does nothing (undefined) when its text is what was last tried. One reload
   * runs at a time: asked for while one runs, it runs once after it, however often it was asked for meanwhile
   * (forced if any of those asked so), and every one of those callers gets that run's record.
   */
  reloadFile(source: ReloadSource, force: boolean): Promise<ReloadRecord | undefined> {
    const next = this.reloadNext;
    if (next !== undefined) {
      next.source = source;
      next.force ||= force;
      return next.done;
    }
    if (this.reloading === undefined) return this.startReload(source, force);
    const queued = { source, force } as { source: ReloadSource; force: boolean; done: Promise<ReloadRecord | undefined> };
    const after = () => {
      this.reloadNext = undefined;
      return this.startReload(queued.source, queued.force);
    };
    queued.done = this.reloading.then(after, after);
    this.reloadNext = queued;
    return queued.done;
  }

  private startReload(source: ReloadSource, force: boolean): Promise<ReloadRecord | undefined> {
    const running = this.oneAtATime(() => this.reloadNow(source, force)).finally(() => {
      if (this.reloading === running) this.reloading = undefined;
    });
    this.reloading = running;
    return running;
  }

  private async reloadNow(source: ReloadSource, force: boolean): Promise<ReloadRecord | undefined> {
    const file = this.options.configFile;
    const keepBatches = this.options.workers !== undefined;
    let bytes: Uint8Array | undefined;
    let hash: string;
    try {
      // A large file, unless a pool's workers need its text: only hashed here, and read by the checking process.
      // A small one is read and checked here, and its hash is that of the bytes read.
      const digest = keepBatches ? undefined : await hashConfigFile(file);
      if (digest === undefined || digest.size < OFF_THREAD_BYTES) bytes = await readConfigBytes(file);
      hash = bytes === undefined ? digest!.hash : await configHashInSlices(bytes);
    } catch (err) {
      const state = `unreadable: ${(err as Error).message}`;
      if (!force && state === this.fileState) return undefined;
      this.fileState = state;
      return (
        await this.apply(
          () => {
            throw err;
          },
          source,
          file,
          '',
        )
      ).record;
    }
    if (!force && hash === this.fileState) return undefined;
    this.fileState = hash;
    if (bytes === undefined) return (await this.apply((previous) => loadConfigFileBehindRequests(file, previous), source, file)).record;
    // The bytes go to the check and are not held here meanwhile, except for a pool, whose workers get the text of
    // a file too small to be checked apart.
    const content = keepBatches ? bytes : undefined;
    let toCheck: Uint8Array | undefined = bytes;
    bytes = undefined;
    const load = (previous: () => Snapshot) => {
      const given = toCheck!;
      toCheck = undefined;
      return loadConfigBytes(given, file, previous, true, keepBatches);
    };
    return (await this.apply(load, source, file, content)).record;
  }

  /**
   * POST /config: a config given as text goes live in memory only (the next file change wins). Checked as a file
   * of its size is on a reload: a large one away from the event loop, so the proxy keeps answering meanwhile.
   */
  applyConfigText(text: string, name: string): Promise<ApplyOutcome> {
    const keepBatches = this.options.workers !== undefined;
    return this.oneAtATime(() => this.apply((previous) => loadConfigBytes(Buffer.from(text), name, previous, true, keepBatches), 'admin', name, text));
  }

  /**
   * A pool's worker: the config its primary accepted. Its checked batches are read paced, as the primary read
   * them; a text is loaded as the primary did (off the event loop when large).
   */
  applyAcceptedConfig(config: WorkerConfig, name: string, source: ReloadSource): Promise<ApplyOutcome> {
    return this.apply((previous) => loadAccepted(config, name, previous, true), source, name);
  }

  /** Runs config changes one after the other, in the order asked for: the last asked for is the last served. */
  private oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changing.then(change, change);
    this.changing = run.catch(() => undefined);
    return run;
  }

  /**
   * Load, validate and compile beside the serving path, then swap in one assignment. Requests already running
   * finish on the snapshot they started with. Logs one line either way.
   */
  private async apply(
    load: (previous: () => Snapshot) => LoadedWithBatches | Promise<LoadedWithBatches>,
    source: ReloadSource,
    name: string,
    content?: Uint8Array | string,
  ): Promise<ApplyOutcome> {
    const started = stopwatch();
    let loaded: LoadedWithBatches;
    try {
      loaded = await load(() => this.proxy.current);
    } catch (err) {
      return this.reject(err, source, name, started);
    }
    if (this.stopped) {
      // Loaded in a worker while the gateway stopped: its plugin state is released, never served.
      retireSnapshot(loaded.snapshot, undefined);
      return { record: { at: started.at, source, accepted: false, ms: started.ms(), errors: ['the gateway stopped while this config was loading'] } };
    }
    return this.accept(loaded, source, name, started, content);
  }

  /** `content`: what the config was loaded from, which a pool's workers get unless its checked batches were kept. */
  private accept(loaded: LoadedWithBatches, source: ReloadSource, name: string, started: Stopwatch, content?: Uint8Array | string): ApplyOutcome {
    const old = this.proxy.current;
    this.proxy.setSnapshot(loaded.snapshot);
    activateUpstreams(loaded.snapshot.upstreams);
    const record: ReloadRecord = { at: started.at, source, accepted: true, ms: started.ms(), configuration_hash: loaded.hash };
    this.lastReload = record;
    this.metrics?.configApplied(source, true);
    // Only once accepted here: a config this process rejects never reaches a worker.
    if (this.options.workers !== undefined) this.options.workers.configure(handOn(loaded, content!), name, source);
    loaded.checked = undefined; // the pool's alone now: the outcome returned must not hold them
    if (!this.options.isWorker) log('info', 'config reloaded', { source, configuration_hash: loaded.hash, ms: record.ms, ...counts(loaded.entities) });
    try {
      retireSnapshot(old, loaded.snapshot);
    } catch (err) {
      log('warn', 'releasing the previous config failed', { error: (err as Error).message });
    }
    collectRetiredSoon(); // the previous snapshot is garbage that an idle process would otherwise keep
    return { record, loaded };
  }

  private reject(err: unknown, source: ReloadSource, name: string, started: Stopwatch): ApplyOutcome {
    // Anything thrown while compiling rejects the config too: the process never exits on a bad edit.
    const error = err instanceof ConfigError ? err : new ConfigError([{ file: name, line: 1, col: 1, path: '', message: String((err as Error).message) }]);
    const errors = error.issues.filter((i) => i.severity !== 'warning').map(formatIssue);
    const record: ReloadRecord = { at: started.at, source, accepted: false, ms: started.ms(), errors };
    this.lastReload = record;
    this.lastReloadError = record;
    this.metrics?.configApplied(source, false);
    log('error', 'config rejected; previous config keeps serving', { source, ms: record.ms, errors });
    return { record, error };
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left. */
  async stop(graceMs = 10_000): Promise<void> {
    const deadline = Date.now() + graceMs;
    this.stopped = true;
    await this.watcher?.close();
    const servers = [...this.proxy.servers, ...this.adminServers].filter((s) => s.listening);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.proxy.closeIdleConnections();
    for (const s of this.adminServers) (s as http.Server).closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.proxy.closeAllConnections();
        for (const s of this.adminServers) (s as http.Server).closeAllConnections();
        this.proxy.closeTunnels();
        resolve();
      }, graceMs);
      timer.unref();
    });
    // Connections that become idle after their last response must not hold shutdown open.
    const sweeper = setInterval(() => {
      this.proxy.closeIdleConnections();
      for (const s of this.adminServers) (s as http.Server).closeIdleConnections();
    }, 50);
    await Promise.race([closed, graceOver]);
    clearInterval(sweeper);
    clearTimeout(timer);
    retireSnapshot(this.proxy.current, undefined);
    closeUpstreamConnections();
    // What log plugins still queue is sent in the grace left (their instances were closed as the snapshot retired).
    await drainQueues(deadline - Date.now());
    this.observer.flush();
  }
}

/**
 * A config file's bytes to a snapshot: away from the event loop when large (in a child process behind the
 * requests being served, on a reload; in a worker thread at start), here when small (quicker to set up).
 * `keepBatches`: a large file's checked batches come back with it (see loadConfigBytesOffThread).
 */
function loadConfigBytes(bytes: Uint8Array, file: string, previous?: () => Snapshot, reload = false, keepBatches = false): LoadedWithBatches | Promise<LoadedWithBatches> {
  if (bytes.byteLength >= OFF_THREAD_BYTES) return loadConfigBytesOffThread(bytes, file, previous, reload, keepBatches);
  return loadConfigText(textOf(bytes), file, previous?.());
}

/** A config a pool's primary accepted, in one of its workers: only read when checked already, else loaded. */
function loadAccepted(config: WorkerConfig, name: string, previous?: () => Snapshot, reload = false): LoadedWithBatches | Promise<LoadedWithBatches> {
  if ('checked' in config) return readCheckedConfig(config.checked, previous, reload);
  return loadConfigBytes(Buffer.from(config.text), name, previous, reload);
}

/** What a pool's workers get of a config accepted here: its checked batches when kept, else the text it came from. */
function handOn(loaded: LoadedWithBatches, content: Uint8Array | string): WorkerConfig {
  if (loaded.checked !== undefined) return { checked: loaded.checked };
  return { text: typeof content === 'string' ? content : textOf(content) };
}

function textOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

interface Stopwatch {
  /** When it started, as a reload record says it. */
  at: string;
  /** Milliseconds since then. */
  ms(): number;
}

function stopwatch(): Stopwatch {
  const started = process.hrtime.bigint();
  return { at: new Date().toISOString(), ms: () => Number((process.hrtime.bigint() - started) / 1000n) / 1000 };
}

/** The start line's list of proxy listeners, when there is more than one plain one (a pool's: as configured). */
function proxyListenersField(listeners: readonly ListenAddress[]): { proxy_listeners?: string[] } {
  return listeners.length > 1 || listeners.some((l) => l.ssl) ? { proxy_listeners: listeners.map(describeListener) } : {};
}

function listen(server: Server, at: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function boundAddress(server: Server): ListenAddress {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('server is not listening');
  return { host: a.address, port: a.port };
}
