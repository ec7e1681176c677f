export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses a listen address as Kong writes it: `HOST:PORT`, `[IPv6]:PORT` or `:PORT`; in Kong's comma-separated
 * form (`0.0.0.0:8000, 0.0.0.0:8443 ssl`) the first plain entry is used. `off` means do not listen.
 */
export function parseListen(value: string, what: string): ListenAddress | null {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error(`${what}: empty listen address`);
  if (entries[0] === 'off') return null;
  const plain = entries.find((e) => !/\s(ssl|http2)\b/.test(e)) ?? entries[0];
  const addr = plain.split(/\s+/)[0];
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr);
  if (m === null) throw new Error(`${what}: expected HOST:PORT, got '${value}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${what}: port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
