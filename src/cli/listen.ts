export interface ListenAddress {
  host: string;
  port: number;
  /** TLS on this listener (Kong's `ssl` flag). */
  ssl?: boolean;
  /** HTTP/2 offered by ALPN beside HTTP/1.1 (Kong's `http2` flag); TLS listeners only. */
  http2?: boolean;
}

/** nginx listen flags Kong accepts that change nothing here (kong/conf_loader/listeners.lua subsystem_flags). */
const IGNORED_FLAGS = [/^reuseport$/, /^backlog=\d+$/, /^deferred$/, /^bind$/, /^ipv6only=(on|off)$/, /^so_keepalive=(on|off|\w*:\w*:\d*)$/];

export interface ParsedListeners {
  /** Empty for `off`. */
  listeners: ListenAddress[];
  /** What was accepted but has no effect, one sentence each (said once at start). */
  notes: string[];
}

/**
 * Parses listen addresses as Kong writes them: a comma-separated list of `HOST:PORT`, `[IPv6]:PORT` or `:PORT`,
 * each followed by flags (`ssl`, `http2`; nginx's `reuseport`, `backlog=N`, … are accepted and ignored, with a
 * note). `off` means do not listen.
 */
export function parseListeners(value: string, what: string): ParsedListeners {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error(`${what}: empty listen address`);
  if (entries[0] === 'off') return { listeners: [], notes: [] };
  const notes: string[] = [];
  const listeners = entries.map((entry) => {
    const [addr, ...flags] = entry.split(/\s+/);
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr);
    if (m === null) throw new Error(`${what}: expected HOST:PORT [ssl] [http2], got '${entry}'`);
    const port = Number(m[3]);
    if (port > 65535) throw new Error(`${what}: port ${port} is out of range`);
    const listener: ListenAddress = { host: m[1] ?? (m[2] || '0.0.0.0'), port };
    for (const flag of flags) {
      if (flag === 'ssl') listener.ssl = true;
      else if (flag === 'http2') listener.http2 = true;
      else if (flag === 'proxy_protocol') throw new Error(`${what}: the PROXY protocol ('proxy_protocol') is not supported`);
      else if (IGNORED_FLAGS.some((f) => f.test(flag))) notes.push(`${what}: '${flag}' on ${addr} is an nginx socket setting: ignored`);
      else throw new Error(`${what}: unknown flag '${flag}' on ${addr} (expected ssl, http2, reuseport, backlog=N, deferred, bind, ipv6only=on|off, so_keepalive=…)`);
    }
    if (listener.http2 && !listener.ssl) {
      notes.push(`${what}: 'http2' on ${addr} without 'ssl': HTTP/2 is offered on TLS listeners only (by ALPN); this one speaks HTTP/1.1`);
      delete listener.http2;
    }
    return listener;
  });
  const seen = new Set<string>();
  for (const l of listeners) {
    const key = `${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(key)) throw new Error(`${what}: ${formatListen(l)} is listed twice`);
    seen.add(key);
  }
  return { listeners, notes };
}

/**
 * The first plain listener of a Kong listen setting (or the first of all when every one is TLS); null for `off`.
 * Kept for the callers that serve one plain address.
 */
export function parseListen(value: string, what: string): ListenAddress | null {
  const { listeners } = parseListeners(value, what);
  if (listeners.length === 0) return null;
  return listeners.find((l) => !l.ssl) ?? listeners[0];
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The address with its flags, as Kong writes a listener. */
export function describeListener(a: ListenAddress): string {
  return `${formatListen(a)}${a.ssl ? ' ssl' : ''}${a.http2 ? ' http2' : ''}`;
}
