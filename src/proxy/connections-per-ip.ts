import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { log } from '../log';

/**
 * 1024 open connections per address: far more than one client needs (a browser opens 6 per host, an HTTP client's
 * pool tens) and enough for a few hundred people behind one NAT address, while one address alone can no longer
 * take the descriptors that every other client needs (Node raises the soft limit to the hard one, commonly
 * 20,000 to 1,048,576; see openFilesLimit).
 */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 1024;

/** At most one log line per address this often, however many of its connections are refused. */
const LOG_EVERY_MS = 10_000;

interface Client {
  open: number;
  /** Refused since its last log line. */
  refused: number;
  loggedAt: number;
}

/**
 * The address connections are counted under: an IPv4 address (also written IPv4-mapped, `::ffff:a.b.c.d`), or an
 * IPv6 address's /64, since one host can use any address of the /64 it was given.
 */
export function clientKey(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const zone = address.indexOf('%');
  const ip = zone === -1 ? address : address.slice(0, zone);
  const gap = ip.indexOf('::');
  let groups: string[];
  if (gap === -1) groups = ip.split(':');
  else {
    const head = gap === 0 ? [] : ip.slice(0, gap).split(':');
    const tail = gap + 2 === ip.length ? [] : ip.slice(gap + 2).split(':');
    // a trailing dotted IPv4 part stands for two groups
    const tailGroups = tail.length + (tail.length > 0 && tail[tail.length - 1].includes('.') ? 1 : 0);
    groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0'), ...tail];
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * Caps the proxy connections open at once from one client address: counted when a connection is accepted,
 * released when it closes, one map entry per address with connections open. A connection beyond the cap is reset
 * at once, before anything is read from it: answering would mean reading its request and keeping its descriptor
 * for as long as that takes, which is what the cap is there to prevent; a reset also leaves no TIME_WAIT behind.
 */
export class ConnectionsPerIp {
  private readonly clients = new Map<string, Client>();

  constructor(private readonly max: number) {}

  /** True when `socket` may be served; false when it was over the cap and has been reset. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress;
    if (address === undefined) return true; // closed already: nothing to count
    const key = clientKey(address);
    let client = this.clients.get(key);
    if (client === undefined) {
      client = { open: 0, refused: 0, loggedAt: 0 };
      this.clients.set(key, client);
    } else if (client.open >= this.max) {
      this.refuse(socket, key, client);
      return false;
    }
    client.open++;
    const counted = client;
    socket.once('close', () => {
      if (--counted.open === 0) this.clients.delete(key);
    });
    return true;
  }

  private refuse(socket: Socket, key: string, client: Client): void {
    socket.resetAndDestroy();
    client.refused++;
    const now = Date.now();
    if (now - client.loggedAt < LOG_EVERY_MS) return;
    log('warn', 'connections refused: too many open from one address', {
      client_ip: key,
      max_connections_per_ip: this.max,
      refused: client.refused,
    });
    client.refused = 0;
    client.loggedAt = now;
  }
}

/**
 * The process's limit on open descriptors (RLIMIT_NOFILE), from /proc/self/limits; undefined where there is none
 * (not Linux). Node raises the soft limit to the hard one as it starts (PlatformInit in its src/node.cc), which is
 * the most a process may set without privileges, so the gateway has nothing to raise itself (Node has no
 * setrlimit); it says what it got.
 */
export function openFilesLimit(): { soft: number; hard: number } | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+)\s+(\d+)/m.exec(text);
  return m === null ? undefined : { soft: Number(m[1]), hard: Number(m[2]) };
}
