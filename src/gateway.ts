import type http from 'node:http';
import { loadConfigFile } from './config/load';
import { ConfigError, formatIssue } from './config/errors';
import { retireSnapshot } from './config/snapshot';
import { ProxyServer } from './proxy/server';
import type { ClientTimeouts } from './proxy/client-limits';
import { closeUpstreamConnections } from './proxy/forward';
import { createAdminServer } from './admin/server';
import { formatListen, type ListenAddress } from './cli/listen';
import { log } from './log';

export interface GatewayOptions {
  configFile: string;
  proxyListen: ListenAddress;
  adminListen: ListenAddress | null;
  /** Kong's (nginx's) 60 s each when absent. */
  clientTimeouts?: ClientTimeouts;
}

export interface ReloadRecord {
  at: string;
  ok: boolean;
  hash?: string;
  errors?: string[];
}

function counts(e: import('./config/entities').EntitySet) {
  return {
    services: e.services.length,
    routes: e.routes.length,
    consumers: e.consumers.length,
    plugins: e.plugins.length,
    credentials: e.keyauth_credentials.length + e.basicauth_credentials.length + e.acls.length,
  };
}

/** A running gateway: one config file, one proxy listener, an optional admin listener. */
export class Gateway {
  readonly proxy: ProxyServer;
  admin: http.Server | undefined;
  lastReload: ReloadRecord | undefined;

  private constructor(readonly options: GatewayOptions, proxy: ProxyServer) {
    this.proxy = proxy;
  }

  get configFile(): string {
    return this.options.configFile;
  }

  /** Loads the file (throws ConfigError before any port is opened) and starts listening. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const loaded = loadConfigFile(options.configFile);
    const gateway = new Gateway(options, new ProxyServer(loaded.snapshot, options.clientTimeouts));
    await listen(gateway.proxy.server, options.proxyListen);
    if (options.adminListen) {
      gateway.admin = createAdminServer(gateway);
      await listen(gateway.admin, options.adminListen);
    }
    log('info', 'gateway listening', {
      proxy: formatListen(gateway.proxyAddress),
      admin: gateway.adminAddress ? formatListen(gateway.adminAddress) : 'off',
      config: options.configFile,
      configuration_hash: loaded.hash,
      ...counts(loaded.entities),
    });
    return gateway;
  }

  get proxyAddress(): ListenAddress {
    return boundAddress(this.proxy.server);
  }

  get adminAddress(): ListenAddress | undefined {
    return this.admin ? boundAddress(this.admin) : undefined;
  }

  /** Re-reads the file; a bad file is rejected and the live snapshot keeps serving. */
  reload(): ReloadRecord {
    const started = Date.now();
    const old = this.proxy.current;
    try {
      const loaded = loadConfigFile(this.options.configFile, old);
      this.proxy.setSnapshot(loaded.snapshot);
      retireSnapshot(old, loaded.snapshot);
      this.lastReload = { at: new Date().toISOString(), ok: true, hash: loaded.hash };
      log('info', 'config reloaded', { configuration_hash: loaded.hash, ms: Date.now() - started, ...counts(loaded.entities) });
    } catch (err) {
      const errors = err instanceof ConfigError ? err.issues.map(formatIssue) : [String((err as Error).message)];
      this.lastReload = { at: new Date().toISOString(), ok: false, errors };
      log('error', 'config rejected; previous config keeps serving', { errors });
    }
    return this.lastReload;
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left. */
  async stop(graceMs = 10_000): Promise<void> {
    const servers = [this.proxy.server, this.admin].filter((s): s is http.Server => s !== undefined);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of servers) s.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const s of servers) s.closeAllConnections();
        resolve();
      }, graceMs);
      timer.unref();
    });
    // Connections that become idle after their last response must not hold shutdown open.
    const sweeper = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 50);
    await Promise.race([closed, deadline]);
    clearInterval(sweeper);
    clearTimeout(timer);
    retireSnapshot(this.proxy.current, undefined);
    closeUpstreamConnections();
  }
}

function listen(server: http.Server, at: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function boundAddress(server: http.Server): ListenAddress {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('server is not listening');
  return { host: a.address, port: a.port };
}
