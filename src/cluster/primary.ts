import { Gateway, type GatewayOptions } from '../gateway';
import type { ListenAddress } from '../cli/listen';
import type { LogFormat, LogLevel } from '../log';
import { openAccessSink } from '../observe/access-log';
import { WorkerPool } from './pool';
import { DEFAULT_CACHE_BYTES } from '../plugins/proxy-cache/memory';

/** What `gateway start` runs: one process, or a pool's primary. */
export interface Serving {
  /** SIGHUP. */
  reload(): unknown;
  /** SIGTERM/SIGINT: in-flight requests finish (up to 10 s), then everything closes. */
  stop(): Promise<void>;
}

/**
 * `--workers N` with N > 1: this process loads and validates the file (a bad file fails here, before any
 * fork), serves the Admin API, watches the file and takes SIGHUP; N worker processes share the proxy port
 * (node:cluster hands them connections in turn) and serve the configs this process accepts, from what it
 * checked (a file is checked once, here).
 */
export async function startPool(options: GatewayOptions, size: number, eventLog: { level: LogLevel; format: LogFormat }): Promise<Serving> {
  const accessLog = typeof options.accessLog === 'string' ? options.accessLog : 'off';
  // Opened here, so a bad path fails the start; the workers' lines are written by this process alone.
  const sink = accessLog === 'off' ? undefined : openAccessSink(accessLog);
  const pool = new WorkerPool(
    size,
    {
      configFile: options.configFile,
      proxyListen: options.proxyListen!,
      proxyListeners: options.proxyListeners,
      tls: options.tls,
      clientTimeouts: options.clientTimeouts,
      realIp: options.realIp,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      accessLog: sink !== undefined,
      accessLogFormat: options.accessLogFormat ?? 'json',
      metrics: options.metrics !== false && options.adminListen !== null,
      metricsPerConsumer: options.metricsPerConsumer === true,
      logLevel: eventLog.level,
      logFormat: eventLog.format,
      // The bound is on all caches together: each worker has its own cache, so each gets its share.
      memCacheSize: Math.max(1, Math.floor((options.memCacheSize ?? DEFAULT_CACHE_BYTES) / size)),
    },
    sink,
  );
  const gateway = await Gateway.start({ ...options, proxyListen: null, accessLog: 'off', workers: pool });
  let proxy: ListenAddress;
  try {
    proxy = await pool.start();
  } catch (err) {
    await pool.stop(0);
    await gateway.stop(0);
    throw err;
  }
  gateway.announce(proxy, { workers: size });
  return {
    reload: () => gateway.reload(),
    stop: async () => {
      await pool.stop(10_000);
      await gateway.stop();
    },
  };
}
