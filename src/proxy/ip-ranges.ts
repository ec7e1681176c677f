/**
 * Sets of IPv4 and IPv6 addresses given as addresses and CIDR blocks (ip-restriction's allow/deny, trusted_ips),
 * kept as sorted, merged ranges: a lookup is a binary search, with no allocation per address.
 */

/** Scratch space for one parsed IPv6 address (four 32-bit words, most significant first). */
const WORDS = new Uint32Array(4);

/** Parses dotted-quad IPv4 between `from` and `to`; returns the address as an unsigned 32-bit number, or -1. */
function parseV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = -1;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (octet < 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = -1;
    } else if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + c - 48;
      if (octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || octet < 0) return -1;
  return value * 256 + octet;
}

/** Scratch space for the 16-bit groups of an IPv6 address being parsed. */
const GROUPS = new Uint16Array(8);

/** Parses a hex group of 1–4 digits between `from` and `to`; -1 when it is not one. */
function hexGroup(s: string, from: number, to: number): number {
  if (to - from < 1 || to - from > 4) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) | 0x20; // lower-cases letters
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Parses IPv6 (with `::`, an embedded IPv4 tail, a `%zone`) between `from` and `to` into WORDS; false when invalid. */
function parseV6(s: string, from: number, to: number): boolean {
  const zone = s.indexOf('%', from);
  if (zone !== -1 && zone < to) to = zone;
  let n = 0;
  let gap = -1;
  let i = from;
  if (s.startsWith('::', i)) {
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let end = i;
    while (end < to && s.charCodeAt(end) !== 58 /* : */) end++;
    if (end === to && s.indexOf('.', i) !== -1 && s.indexOf('.', i) < to) {
      const v4 = parseV4(s, i, to);
      if (v4 < 0 || n > 6) return false;
      GROUPS[n++] = v4 >>> 16;
      GROUPS[n++] = v4 & 0xffff;
      break;
    }
    const g = hexGroup(s, i, end);
    if (g < 0 || n > 7) return false;
    GROUPS[n++] = g;
    if (end === to) break;
    if (s.charCodeAt(end + 1) === 58) {
      if (gap !== -1) return false;
      gap = n;
      i = end + 2;
    } else {
      i = end + 1;
      if (i === to) return false; // a trailing single ':'
    }
  }
  if (gap === -1 ? n !== 8 : n > 7) return false;
  const missing = 8 - n;
  for (let w = 0; w < 4; w++) WORDS[w] = ((groupAt(2 * w, gap, missing) << 16) | groupAt(2 * w + 1, gap, missing)) >>> 0;
  return true;
}

/** The address's group `k` once the `::` gap (at `gap`, `missing` groups long) is filled with zeros. */
function groupAt(k: number, gap: number, missing: number): number {
  if (gap === -1 || k < gap) return GROUPS[k];
  if (k < gap + missing) return 0;
  return GROUPS[k - missing];
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d), as a dual-stack socket reports IPv4 clients. */
function mappedV4(): number {
  return WORDS[0] === 0 && WORDS[1] === 0 && WORDS[2] === 0xffff ? WORDS[3] : -1;
}

export interface Cidr {
  family: 4 | 6;
  /** The network's first and last address: one number for IPv4, four words for IPv6. */
  first: number[];
  last: number[];
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`; host bits are ignored as Kong does. Undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const end = slash === -1 ? text.length : slash;
  let prefix: number | undefined;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
  }
  const v4 = parseV4(text, 0, end);
  if (v4 >= 0) {
    const bits = prefix ?? 32;
    if (bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const first = v4 - (v4 % size);
    return { family: 4, first: [first], last: [first + size - 1] };
  }
  if (text.includes('%') || !parseV6(text, 0, end)) return undefined;
  const bits = prefix ?? 128;
  if (bits > 128) return undefined;
  const first: number[] = [];
  const last: number[] = [];
  for (let w = 0; w < 4; w++) {
    const keep = Math.max(0, Math.min(32, bits - 32 * w));
    const hostMask = keep === 32 ? 0 : keep === 0 ? 0xffffffff : (0xffffffff >>> keep) >>> 0;
    first.push((WORDS[w] & ~hostMask) >>> 0);
    last.push((WORDS[w] | hostMask) >>> 0);
  }
  return { family: 6, first, last };
}

function compare(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, width: number): number {
  for (let w = 0; w < width; w++) {
    const d = a[ai + w] - b[bi + w];
    if (d !== 0) return d;
  }
  return 0;
}

/** Sorts ranges by their start and merges overlapping ones, so at most one range can hold an address: [first, last, …]. */
function merged(ranges: Cidr[], width: number): number[] {
  ranges.sort((a, b) => compare(a.first, 0, b.first, 0, width));
  const out: number[] = [];
  for (const r of ranges) {
    const lastAt = out.length - width;
    if (out.length > 0 && compare(r.first, 0, out, lastAt, width) <= 0) {
      if (compare(r.last, 0, out, lastAt, width) > 0) out.splice(lastAt, width, ...r.last);
      continue;
    }
    out.push(...r.first, ...r.last);
  }
  return out;
}

/** A set of addresses; `has` takes an address as a socket or a header gives it. */
export class IpRanges {
  /** [first, last, first, last, …], sorted and disjoint. */
  private readonly v4: Float64Array;
  /** The same for IPv6, each bound four words. */
  private readonly v6: Uint32Array;

  constructor(cidrs: readonly Cidr[]) {
    this.v4 = new Float64Array(merged(cidrs.filter((c) => c.family === 4), 1));
    this.v6 = new Uint32Array(merged(cidrs.filter((c) => c.family === 6), 4));
  }

  /** Builds the set from texts already validated with parseCidr. */
  static of(texts: readonly string[]): IpRanges {
    return new IpRanges(
      texts.map((t) => {
        const c = parseCidr(t);
        if (c === undefined) throw new Error(`invalid ip or cidr range: '${t}'`);
        return c;
      }),
    );
  }

  get empty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  has(ip: string): boolean {
    const v4 = parseV4(ip, 0, ip.length);
    if (v4 >= 0) return this.hasV4(v4);
    if (!parseV6(ip, 0, ip.length)) return false;
    const mapped = mappedV4();
    if (mapped >= 0) return this.hasV4(mapped);
    const r = this.v6;
    let lo = 0;
    let hi = r.length / 8 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(WORDS, 0, r, mid * 8, 4) < 0) hi = mid - 1;
      else if (compare(WORDS, 0, r, mid * 8 + 4, 4) > 0) lo = mid + 1;
      else return true;
    }
    return false;
  }

  private hasV4(ip: number): boolean {
    const r = this.v4;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (ip < r[mid * 2]) hi = mid - 1;
      else if (ip > r[mid * 2 + 1]) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/** Whether `text` is an IPv4 or IPv6 address (no prefix), as a forwarding header may carry it. */
export function isIpAddress(text: string): boolean {
  return parseV4(text, 0, text.length) >= 0 || (!text.includes('/') && parseV6(text, 0, text.length));
}
