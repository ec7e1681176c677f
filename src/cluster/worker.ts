// A pool's worker process: serves the proxy with the config its primary sends, and nothing else (the primary
// watches the file, logs reloads, writes the access log and serves the Admin API).
import { Gateway } from '../gateway';
import { ConfigError, formatIssue } from '../config/errors';
import { configureLog, log } from '../log';
import { leaseThrough, type Lease, type LeaseRequest } from '../plugins/rate-limiting/leases';
import { runCacheOperation, type CacheOperation } from '../plugins/proxy-cache/operations';
import { answer, Calls, type Call, type Reply, type ToPrimary, type ToWorker, type WorkerStats } from './messages';

const LEASE_TIMEOUT_MS = 5_000;

function send(message: ToPrimary, then?: () => void): void {
  if (process.connected) process.send!(message, undefined, undefined, then);
}

const toPrimary = new Calls((m) => send(m), LEASE_TIMEOUT_MS);
let gateway: Gateway | undefined;
// Messages are handled one after the other: a config sent while the worker starts applies once it has.
let queue: Promise<void> = Promise.resolve();
let stopping = false;

interface Asked {
  request: LeaseRequest;
  resolve(lease: Lease): void;
  reject(err: Error): void;
}

let asked: Asked[] = [];

/** The lease requests of one turn of the event loop go to the primary as one message. */
function leaseBatched(request: LeaseRequest): Promise<Lease> {
  return new Promise((resolve, reject) => {
    if (asked.length === 0) setImmediate(askForLeases);
    asked.push({ request, resolve, reject });
  });
}

function askForLeases(): void {
  const batch = asked;
  asked = [];
  toPrimary.call<Lease[]>('leases', batch.map((a) => a.request)).then(
    (leases) => batch.forEach((a, i) => a.resolve(leases[i])),
    (err: Error) => batch.forEach((a) => a.reject(err)),
  );
}

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const s = message.settings;
  configureLog({ level: s.logLevel, format: s.logFormat, fields: { worker: message.id } });
  leaseThrough(leaseBatched);
  try {
    gateway = await Gateway.start({
      configFile: s.configFile,
      accepted: message.config,
      proxyListen: s.proxyListen,
      proxyListeners: s.proxyListeners,
      // The IPC channel's structured clone makes Buffers plain Uint8Arrays.
      ...(s.tls === undefined ? {} : { tls: { ...s.tls, ticketKeys: Buffer.from(s.tls.ticketKeys) } }),
      adminListen: null,
      clientTimeouts: s.clientTimeouts,
      realIp: s.realIp,
      maxConnectionsPerIp: s.maxConnectionsPerIp,
      accessLog: s.accessLog ? { write: (chunk) => send({ type: 'access-log', text: chunk.toString('utf8') }), flush: () => {} } : 'off',
      accessLogFormat: s.accessLogFormat,
      metrics: s.metrics,
      metricsPerConsumer: s.metricsPerConsumer,
      memCacheSize: s.memCacheSize,
      isWorker: true,
    });
  } catch (err) {
    const error = err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message;
    send({ type: 'failed', error }, () => process.exit(1));
    return;
  }
  send({ type: 'ready', proxy: gateway.proxyAddress });
}

async function configure(message: Extract<ToWorker, { type: 'config' }>): Promise<void> {
  if (gateway === undefined) return; // did not start; the primary is replacing this worker
  await gateway.applyAcceptedConfig(message.config, message.name, message.source);
  send({ type: 'configured', hash: gateway.proxy.current.hash });
}

/** Drains (the gateway's own grace period), sends the last access lines, then says so and exits. */
async function stop(graceMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await gateway?.stop(graceMs);
  send({ type: 'stopped' }, () => process.exit(0));
  if (!process.connected) process.exit(0);
}

async function handleCall(name: string, body: unknown): Promise<unknown> {
  if (gateway === undefined) throw new Error('not started');
  if (name === 'stats') {
    const s = gateway.proxy.stats;
    const stats: WorkerStats = {
      configuration_hash: gateway.proxy.current.hash,
      connections_accepted: s.connectionsAccepted,
      connections_refused: s.connectionsRefused,
      connections_active: s.connectionsActive,
      total_requests: s.totalRequests,
    };
    return stats;
  }
  if (name === 'metrics') return gateway.metrics === undefined ? [] : gateway.metrics.registry.getMetricsAsJSON();
  if (name === 'proxy-cache') return runCacheOperation(gateway.proxy.current, body as CacheOperation, Date.now());
  throw new Error(`unknown call ${name}`);
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'start':
      queue = queue.then(() => start(message));
      return;
    case 'config':
      queue = queue.then(() => configure(message));
      return;
    case 'stop':
      queue = queue.then(() => stop(message.graceMs));
      return;
    case 'call':
      return answer(message as Call, handleCall, (reply) => send(reply));
    case 'reply':
      return toPrimary.settle(message as Reply);
  }
});

// The primary decides when workers stop: a Ctrl-C reaches the whole process group, and the primary then drains
// them; a reload signal is the primary's too. SIGTERM sent to a worker alone stops that worker (it is replaced).
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => {
  queue = queue.then(() => stop(10_000));
});
// Without its primary a worker has nobody to lease from, log through or be stopped by.
process.on('disconnect', () => {
  toPrimary.failAll('the primary is gone');
  if (!stopping) {
    log('warn', 'primary gone; stopping', { pid: process.pid });
    queue = queue.then(() => stop(10_000));
  }
});

send({ type: 'up' });
