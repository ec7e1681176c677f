import dgram from 'node:dgram';
import net from 'node:net';
import type { PluginDefinition } from '../types';
import { closeQueuedSink, IMMEDIATE_QUEUE, queuedSink, queueEntry, refuseLuaFields, type QueuedSink, type Sink } from '../log-plugin';
import configSchema from './schema.json';

export interface UdpLogConfig {
  host: string;
  port: number;
  timeout: number;
  custom_fields_by_lua?: Record<string, string> | null;
}

/** One datagram per entry (its JSON, as Kong sends it), from a socket connected to the collector once. */
class UdpSink implements Sink {
  private socket: Promise<dgram.Socket> | undefined = undefined;

  constructor(private readonly c: UdpLogConfig) {}

  async write(batch: Buffer[]): Promise<void> {
    const socket = await (this.socket ??= this.connect());
    await Promise.all(
      batch.map(
        (entry) => new Promise<void>((resolve, reject) => socket.send(entry, (err) => (err ? reject(new Error(`failed to send data to ${this.c.host}:${this.c.port}: ${err.message}`)) : resolve()))),
      ),
    );
  }

  close(): void {
    void this.socket?.then((s) => s.close()).catch(() => undefined);
    this.socket = undefined;
  }

  private connect(): Promise<dgram.Socket> {
    const host = this.c.host.replace(/^\[|\]$/g, '');
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    socket.on('error', () => undefined); // ICMP refusals and the like: a datagram is sent and forgotten
    return new Promise((resolve, reject) => {
      socket.connect(this.c.port, host, (err?: Error) => {
        if (err) {
          this.socket = undefined;
          socket.close();
          reject(new Error(`failed to connect to ${this.c.host}:${this.c.port}: ${err.message}`));
        } else resolve(socket);
      });
    });
  }
}

export const udpLog: PluginDefinition<UdpLogConfig, QueuedSink> = {
  name: 'udp-log',
  priority: 8,
  version: '3.9.0',
  configSchema,
  check: (plugin) => refuseLuaFields(plugin.config),
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as QueuedSink;
    // A datagram is not acknowledged: one that cannot be sent is dropped, as in Kong.
    return queuedSink('udp-log', { ...IMMEDIATE_QUEUE, max_retry_time: 0 }, new UdpSink(c));
  },
  log: queueEntry,
  dispose: closeQueuedSink,
};
