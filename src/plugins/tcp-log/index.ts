import net from 'node:net';
import tls from 'node:tls';
import type { PluginDefinition } from '../types';
import { closeQueuedSink, IMMEDIATE_QUEUE, queuedSink, queueEntry, refuseLuaFields, type QueuedSink, type Sink } from '../log-plugin';
import { joinBytes } from '../../observe/queue';
import configSchema from './schema.json';

export interface TcpLogConfig {
  host: string;
  port: number;
  timeout: number;
  keepalive: number;
  tls: boolean;
  tls_sni?: string;
  custom_fields_by_lua?: Record<string, string> | null;
}

/**
 * One connection to the collector, opened when there is something to send and closed after `keepalive` ms idle
 * (or when the collector closes it). Each entry is one line (JSON and `\n`), as Kong sends it.
 */
class TcpSink implements Sink {
  private socket: net.Socket | undefined = undefined;
  private idle: NodeJS.Timeout | undefined = undefined;
  private readonly where: string;

  constructor(private readonly c: TcpLogConfig) {
    this.where = `${c.host}:${c.port}`;
  }

  async write(batch: Buffer[]): Promise<void> {
    if (this.idle !== undefined) clearTimeout(this.idle);
    const socket = this.socket ?? (await this.connect());
    await new Promise<void>((resolve, reject) => {
      socket.write(joinBytes(batch, '', '\n', '\n'), (err) => (err ? reject(new Error(`failed to send data to ${this.where}: ${err.message}`)) : resolve()));
    }).catch((err) => {
      socket.destroy();
      throw err;
    });
    this.idle = setTimeout(() => socket.end(), this.c.keepalive);
    this.idle.unref();
  }

  close(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.socket?.end();
  }

  private connect(): Promise<net.Socket> {
    const { host, port, timeout } = this.c;
    const hostname = host.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      // Kong's handshake does not verify the collector's certificate; tls_sni (else a host name) is the SNI sent.
      const socket = this.c.tls
        ? tls.connect({ host: hostname, port, servername: this.c.tls_sni ?? (net.isIP(hostname) ? undefined : hostname), rejectUnauthorized: false })
        : net.connect({ host: hostname, port });
      socket.setTimeout(timeout, () => socket.destroy(new Error('timeout')));
      socket.once(this.c.tls ? 'secureConnect' : 'connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined); // a broken connection is seen by the next write
        this.socket = socket;
        resolve(socket);
      });
      socket.once('error', (err) => reject(new Error(`failed to connect to ${this.where}: ${err.message}`)));
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
      socket.resume(); // whatever the collector answers is not read
    });
  }
}

export const tcpLog: PluginDefinition<TcpLogConfig, QueuedSink> = {
  name: 'tcp-log',
  priority: 7,
  version: '3.9.0',
  configSchema,
  check: (plugin) => refuseLuaFields(plugin.config),
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as QueuedSink;
    // As Kong's handler: an entry that cannot be sent is logged and dropped, never retried.
    return queuedSink('tcp-log', { ...IMMEDIATE_QUEUE, max_retry_time: 0 }, new TcpSink(c));
  },
  log: queueEntry,
  dispose: closeQueuedSink,
};
