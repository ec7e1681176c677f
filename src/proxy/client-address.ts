import type { IncomingMessage } from 'node:http';
import { IpRanges, isIpAddress, parseCidr } from './ip-ranges';

/**
 * Kong's `trusted_ips`, `real_ip_header` and `real_ip_recursive` (nginx's realip module): which peers may name the
 * client in a header. Plain data, so a worker pool's primary can hand it to its workers.
 */
export interface RealIpOptions {
  /** Addresses and CIDR blocks of proxies whose header is believed; none (the default) trusts no one. */
  trustedIps: string[];
  /** The header naming the client (Kong's default: X-Real-IP). */
  header: string;
  /** Walk the header's list from the right past every trusted address, rather than take its last entry. */
  recursive: boolean;
}

export const DEFAULT_REAL_IP_HEADER = 'X-Real-IP';

/** Parses a `trusted_ips` list (`0.0.0.0/0, ::/0`); throws naming the first entry that is not an address or CIDR. */
export function parseTrustedIps(text: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of list) {
    if (parseCidr(entry) === undefined) throw new Error(`invalid ip or cidr range: '${entry}'`);
  }
  return list;
}

/** An address as a forwarding header carries it, port and IPv6 brackets removed; undefined when it is not one. */
function addressIn(text: string): string | undefined {
  if (text.charCodeAt(0) === 91 /* [ */) {
    const close = text.indexOf(']');
    const inner = close === -1 ? '' : text.slice(1, close);
    return isIpAddress(inner) ? inner : undefined;
  }
  if (isIpAddress(text)) return text;
  const colon = text.indexOf(':');
  if (colon !== -1 && colon === text.lastIndexOf(':')) {
    const host = text.slice(0, colon);
    if (isIpAddress(host) && /^\d+$/.test(text.slice(colon + 1))) return host;
  }
  return undefined;
}

/**
 * The client's address for everything that asks for it (ip-restriction, rate-limiting's `limit_by: ip`, the access
 * log, X-Real-IP upstream): the connecting peer's, or, when that peer is a trusted proxy, the one its header names,
 * as nginx's realip module finds it.
 */
export class ClientAddresses {
  private readonly trusted: IpRanges | undefined;
  private readonly header: string;
  private readonly recursive: boolean;

  constructor(options?: RealIpOptions) {
    const trusted = options === undefined ? undefined : IpRanges.of(options.trustedIps);
    this.trusted = trusted === undefined || trusted.empty ? undefined : trusted;
    this.header = (options?.header ?? DEFAULT_REAL_IP_HEADER).toLowerCase();
    this.recursive = options?.recursive === true;
  }

  /** Whether the connecting peer is a trusted proxy (Kong then also keeps the X-Forwarded-* headers it sent). */
  trustsPeer(req: IncomingMessage): boolean {
    return this.trusted !== undefined && this.trusted.has(req.socket.remoteAddress ?? '');
  }

  /** Whether a connection from `address` comes from a trusted proxy, whose connections carry many clients. */
  trustsAddress(address: string | undefined): boolean {
    return this.trusted !== undefined && address !== undefined && this.trusted.has(address);
  }

  of(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? '';
    const trusted = this.trusted;
    if (trusted === undefined || !trusted.has(peer)) return peer;
    const value = req.headers[this.header];
    if (value === undefined) return peer;
    return this.walk(typeof value === 'string' ? value : value.join(', '), peer, trusted);
  }

  /**
   * nginx's walk over a comma-separated list: its last entry replaces the address; when recursive, and while the
   * address found is trusted, the entry before it does too. An entry that is no address stops the walk.
   */
  private walk(list: string, address: string, trusted: IpRanges): string {
    let end = list.length;
    for (;;) {
      while (end > 0 && (list.charCodeAt(end - 1) === 32 || list.charCodeAt(end - 1) === 44)) end--;
      if (end === 0) return address;
      let start = end;
      while (start > 0 && list.charCodeAt(start - 1) !== 32 && list.charCodeAt(start - 1) !== 44) start--;
      const found = addressIn(list.slice(start, end));
      if (found === undefined) return address;
      address = found;
      if (!this.recursive || start === 0 || !trusted.has(address)) return address;
      end = start;
    }
  }
}

/** The connecting peer's address, for a gateway started without trusted proxies. */
export const PEER_ADDRESSES = new ClientAddresses();
