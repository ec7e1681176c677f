// Route selection after Kong 3.x's default `traditional_compatible` router (kong/router/transform.lua +
// atc.lua): every route becomes one entry per path, entries are ordered by Kong's priority, and the first
// entry whose conditions all hold wins. All compiling happens in the constructor. `match` never scans
// every route: entries are indexed by exact host (routes whose hosts are all exact) and, inside each host
// bucket, by a radix tree over the literal text every matching path must start with (the prefix path, or
// the literal start of a regex path); the few candidate lists found are merged in priority order on the
// fly. Beyond its result, `match` only allocates the Host name when the header carries a port (or upper
// case) and the match array of a regex path with strip_path.

import type { IncomingHttpHeaders } from 'node:http';
import type { RouteEntity, ServiceEntity } from '../config/entities';
import { compileRoutePathRegex, compileWithFallback } from '../config/route-rules';
import { escapeUpstreamPath, joinUpstreamPath } from './paths';

export interface RouteMatch {
  route: RouteEntity;
  service: ServiceEntity | undefined;
  /** What strip_path removes: the matched prefix path, or the matched text of a regex path; '' when
   *  strip_path is false or the route has no path. */
  strippedPrefix: string;
  /** The path for the upstream request line: joined with the service path and escaped; no query. */
  upstreamPath: string;
  /** The normalized request path the route matched. */
  path: string;
  /** The regex of the route path that matched (for its captures), or null for a prefix path or none. */
  regex: RegExp | null;
}

export interface RouterOptions {
  /**
   * Honour `path_handling: v1` on routes. Kong's default `traditional_compatible` flavor accepts v1 but
   * always joins paths the v0 way, so this is off by default; on, v1 routes get the `traditional` flavor's
   * v1 join (see joinUpstreamPath).
   */
  honourPathHandlingV1?: boolean;
}

/** Request headers: IncomingHttpHeaders, or `req.headersDistinct` to test each header line separately as
 *  Kong does (Node joins repeated headers into one comma-separated value). */
export type RouterRequestHeaders = IncomingHttpHeaders | NodeJS.Dict<string | string[]>;

export const enum PathKind {
  None,
  Prefix,
  Regex,
}

export const enum HostKind {
  Exact,
  Suffix, // "*.example.com": request host ends with ".example.com"
  Prefix, // "example.*": request host starts with "example."
}

export interface HostRule {
  kind: HostKind;
  value: string; // lower-cased; for wildcards without the '*'
  port: number; // -1 when the route host has no port
}

export interface HeaderRule {
  name: string; // lower-cased
  exact: string[]; // lower-cased values
  regexes: RegExp[]; // `~*` values (pattern lower-cased, as Kong does)
}

export interface RouterEntry {
  rank: number; // position in priority order (lower = tried first)
  key: string; // literal text every matching path starts with ('' = unknown / any path)
  route: RouteEntity;
  service: ServiceEntity | undefined;
  servicePath: string | undefined;
  pathHandling: 'v0' | 'v1';
  strip: boolean;
  pathKind: PathKind;
  prefix: string; // PathKind.Prefix
  regex: RegExp | null; // PathKind.Regex
  methods: string[] | null;
  hosts: HostRule[] | null;
  headers: HeaderRule[] | null;
  /** The route's snis: tested on TLS requests only (Kong: `net.protocol != "https" || tls.sni …`). */
  snis: HostRule[] | null;
  // priority (transform.get_priority), highest first
  weight: number;
  plainHostsOnly: boolean;
  headerCount: number;
  isRegex: boolean;
  regexPriority: number;
  prefixLength: number;
  order: number; // file order, then path order: the tie-break
}

/** Radix-tree node: `label` is the text on the edge from the parent. */
interface TrieNode {
  label: string;
  entries: RouterEntry[] | null; // entries whose key ends exactly here, in rank order
  children: Map<number, TrieNode> | null; // by the first char code of the child's label
}

/** Candidates for one host bucket. */
interface PathIndex {
  /** Entries that may match any path (no path, a regex without literal start, or the '/' prefix). */
  any: RouterEntry[];
  /** The other entries, by key. */
  trie: TrieNode;
}

const EMPTY: RouterEntry[] = [];
const MAX_HEADER_COUNT = 255; // Kong caps the header count used for sorting
const MAX_PREFIX_LENGTH = 0x7ffff; // Kong keeps 19 bits of the prefix length

function nonEmpty<T>(a: readonly T[] | undefined): a is readonly T[] {
  return a !== undefined && a !== null && a.length > 0;
}

function isHttpRoute(route: RouteEntity): boolean {
  const protocols = route.protocols;
  if (!nonEmpty(protocols)) return true;
  for (const p of protocols) {
    if (p === 'http' || p === 'https' || p === 'grpc' || p === 'grpcs') return true;
  }
  return false;
}

/** Splits "host[:port]" / "[v6]:port" like Kong's split_host_port; returns [name, port or -1]. */
function splitHostPort(h: string): [string, number] {
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    if (end !== -1 && h.charCodeAt(end + 1) === 58 /* : */) {
      const port = parsePort(h, end + 2);
      if (port >= 0) return [h.slice(0, end + 1), port];
    }
    return [h, -1];
  }
  const colon = h.indexOf(':');
  if (colon === -1) return [h, -1];
  const port = parsePort(h, colon + 1);
  return port >= 0 ? [h.slice(0, colon), port] : [h, -1];
}

/** The decimal number in s[from..], or -1 when that is not all digits (or empty). */
function parsePort(s: string, from: number): number {
  if (from >= s.length) return -1;
  let n = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function compileHost(h: string): HostRule {
  const [name, port] = splitHostPort(h);
  const lower = name.toLowerCase();
  if (lower.charCodeAt(0) === 42 /* * */) return { kind: HostKind.Suffix, value: lower.slice(1), port };
  if (lower.charCodeAt(lower.length - 1) === 42) return { kind: HostKind.Prefix, value: lower.slice(0, -1), port };
  return { kind: HostKind.Exact, value: lower, port };
}

function compileHeaders(headers: Record<string, string[]> | undefined): HeaderRule[] | null {
  if (headers === undefined || headers === null) return null;
  const rules: HeaderRule[] = [];
  for (const name of Object.keys(headers)) {
    const rule: HeaderRule = { name: name.toLowerCase(), exact: [], regexes: [] };
    for (const value of headers[name] ?? []) {
      if (value.startsWith('~*')) rule.regexes.push(compileWithFallback(value.slice(2).toLowerCase(), 'i'));
      else rule.exact.push(value.toLowerCase());
    }
    rules.push(rule);
  }
  return rules.length > 0 ? rules : null;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function comparePriority(a: RouterEntry, b: RouterEntry): number {
  return (
    b.weight - a.weight ||
    Number(b.plainHostsOnly) - Number(a.plainHostsOnly) ||
    b.headerCount - a.headerCount ||
    Number(b.isRegex) - Number(a.isRegex) ||
    b.regexPriority - a.regexPriority ||
    b.prefixLength - a.prefixLength ||
    a.order - b.order
  );
}

/** ASCII-case-insensitive `value.toLowerCase() === lower` without allocating for ASCII values. */
function equalsLower(value: string, lower: string): boolean {
  const n = value.length;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c >= 128) return value.toLowerCase() === lower;
    if (i >= lower.length) return false;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return n === lower.length;
}

function headerValueMatches(rule: HeaderRule, value: string): boolean {
  for (let i = 0; i < rule.exact.length; i++) if (equalsLower(value, rule.exact[i])) return true;
  for (let i = 0; i < rule.regexes.length; i++) if (rule.regexes[i].test(value)) return true;
  return false;
}

function headersMatch(rules: HeaderRule[], headers: RouterRequestHeaders): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    const v = headers[rule.name];
    if (v === undefined) return false;
    if (typeof v === 'string') {
      if (!headerValueMatches(rule, v)) return false;
    } else {
      let any = false;
      for (let i = 0; i < v.length && !any; i++) any = headerValueMatches(rule, v[i]);
      if (!any) return false;
    }
  }
  return true;
}

function hostsMatch(rules: HostRule[], host: string, port: number): boolean {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.port !== -1 && r.port !== port) continue;
    if (r.kind === HostKind.Exact ? host === r.value : r.kind === HostKind.Suffix ? host.endsWith(r.value) : host.startsWith(r.value)) {
      return true;
    }
  }
  return false;
}

function trieInsert(root: TrieNode, key: string, e: RouterEntry): void {
  let node = root;
  let pos = 0;
  for (;;) {
    if (pos === key.length) {
      (node.entries ??= []).push(e);
      return;
    }
    const c = key.charCodeAt(pos);
    const child = node.children?.get(c);
    if (child === undefined) {
      (node.children ??= new Map()).set(c, { label: key.slice(pos), entries: [e], children: null });
      return;
    }
    // length of the common part of child.label and key[pos..]
    const label = child.label;
    let n = 1;
    while (n < label.length && pos + n < key.length && label.charCodeAt(n) === key.charCodeAt(pos + n)) n++;
    if (n < label.length) {
      // split the edge: node -> mid (label[0..n]) -> child (label[n..])
      const mid: TrieNode = { label: label.slice(0, n), entries: null, children: new Map() };
      child.label = label.slice(n);
      mid.children!.set(child.label.charCodeAt(0), child);
      node.children!.set(c, mid);
    }
    node = node.children!.get(c)!;
    pos += n;
  }
}

function buildIndex(sorted: RouterEntry[]): PathIndex {
  const index: PathIndex = { any: [], trie: { label: '', entries: null, children: null } };
  // entries are visited in rank order, so every list ends up rank-sorted
  for (const e of sorted) {
    if (e.key.length <= 1) index.any.push(e);
    else trieInsert(index.trie, e.key, e);
  }
  return index;
}

/**
 * The literal text every match of a route regex (as compiled: `^` + source) must start with, or '' when
 * that can't be told simply. Conservative: stops at the first construct that isn't a plain character.
 */
export function regexLiteralPrefix(source: string, flags: string): string {
  if (flags.includes('i')) return '';
  let i = 0;
  while (source.charCodeAt(i) === 94 /* ^ */) i++;
  // a top-level alternation (`^/a|/b`) leaves the match start open
  let depth = 0;
  for (let k = i; k < source.length; k++) {
    const c = source[k];
    if (c === '\\') k++;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return '';
    else if (c === '[') {
      k++;
      if (source[k] === '^') k++;
      if (source[k] === ']') k++;
      while (k < source.length && source[k] !== ']') {
        if (source[k] === '\\') k++;
        k++;
      }
    }
  }
  let out = '';
  while (i < source.length) {
    const c = source[i];
    let lit: string;
    let next = i + 1;
    if (c === '\\') {
      const d = source[i + 1];
      if (d === undefined || !/[!-/:-@[-`{-~]/.test(d)) break; // \d, \w, \b, \1, \u…: stop
      lit = d; // escaped punctuation is that character
      next = i + 2;
    } else if ('^$.|?*+()[]{}'.includes(c)) {
      break;
    } else {
      const cp = source.codePointAt(i)!;
      lit = String.fromCodePoint(cp);
      next = i + lit.length;
    }
    const q = source[next];
    if (q === '?' || q === '*' || q === '{') break; // the character may be absent
    out += lit;
    if (q === '+') break;
    i = next;
  }
  return out;
}

// Scratch space for match(): the candidate lists found and a cursor in each. match() is synchronous, so
// one set serves every Router.
const scratchLists: RouterEntry[][] = [];
const scratchPos: number[] = [];

/** Appends to the scratch the candidate lists of `index` for `path`; returns the new list count. */
function collect(index: PathIndex, path: string, count: number): number {
  if (index.any.length > 0) {
    scratchLists[count] = index.any;
    scratchPos[count++] = 0;
  }
  let node = index.trie;
  let pos = 0;
  for (;;) {
    if (node.entries !== null) {
      scratchLists[count] = node.entries;
      scratchPos[count++] = 0;
    }
    if (node.children === null || pos >= path.length) return count;
    const child = node.children.get(path.charCodeAt(pos));
    if (child === undefined || !path.startsWith(child.label, pos)) return count;
    pos += child.label.length;
    node = child;
  }
}

// Scratch for readRequestHost's results, so reading the Host header allocates nothing but the name itself.
let requestHostName = '';
let requestPort = -1;

/**
 * Splits the Host header into requestHostName (lower-cased, port removed) and requestPort (-1 when absent;
 * `dstPort` wins when given). Returns whether there was a Host header.
 */
function readRequestHost(host: string | undefined, dstPort: number | undefined): boolean {
  let hostName = '';
  let port = -1;
  let hasHost = false;
  if (host !== undefined && host !== '') {
    hasHost = true;
    const colon = host.charCodeAt(0) === 91 ? host.indexOf(']:') + 1 : host.indexOf(':');
    if (colon > 0) {
      port = parsePort(host, colon + 1);
      hostName = port >= 0 ? host.slice(0, colon) : host;
    } else {
      hostName = host;
    }
    for (let i = 0; i < hostName.length; i++) {
      const c = hostName.charCodeAt(i);
      if ((c >= 65 && c <= 90) || c >= 128) {
        hostName = hostName.toLowerCase();
        break;
      }
    }
  }
  requestHostName = hostName;
  requestPort = dstPort !== undefined ? dstPort : port;
  return hasHost;
}

export class Router {
  /** Entries whose every host is exact, by lower-cased host (without port). */
  private readonly byHost = new Map<string, PathIndex>();
  /** Entries with no hosts or with a wildcard host. */
  private readonly anyHost: PathIndex;
  /** Number of entries, for diagnostics. */
  readonly size: number;
  /** Every entry (one per route path) in priority order: the order `match` tries them in. */
  readonly entries: readonly RouterEntry[];

  constructor(
    routes: readonly RouteEntity[],
    servicesById: ReadonlyMap<string, ServiceEntity>,
    options: RouterOptions = {},
  ) {
    const entries: RouterEntry[] = [];
    let order = 0;
    for (const route of routes) {
      if (!isHttpRoute(route)) continue;
      const service = route.service !== undefined ? servicesById.get(route.service) : undefined;
      if (service !== undefined && service.enabled === false) continue; // a disabled service's routes answer 404

      const methods = nonEmpty(route.methods) ? [...route.methods] : null;
      const hosts = nonEmpty(route.hosts) ? route.hosts.map(compileHost) : null;
      const headers = compileHeaders(route.headers);
      const headerCount = headers === null ? 0 : Math.min(headers.length, MAX_HEADER_COUNT);
      // Kong: true when `hosts` is an array without wildcards (an empty array counts, a missing one doesn't)
      const plainHostsOnly = Array.isArray(route.hosts) && !route.hosts.some((h) => h.includes('*'));
      const paths = nonEmpty(route.paths) ? route.paths : null;
      const snis = nonEmpty(route.snis) ? route.snis.map(compileSni) : null;
      const weight = (methods ? 1 : 0) + (hosts ? 1 : 0) + (headers ? 1 : 0) + (paths ? 1 : 0) + (snis ? 1 : 0);
      const pathHandling = options.honourPathHandlingV1 && route.path_handling === 'v1' ? 'v1' : 'v0';

      const base = {
        route,
        service,
        servicePath: service?.path,
        pathHandling,
        strip: route.strip_path !== false,
        methods,
        hosts,
        headers,
        snis,
        weight,
        plainHostsOnly,
        headerCount,
      } as const;

      if (paths === null) {
        entries.push({
          ...base,
          rank: 0,
          key: '',
          pathKind: PathKind.None,
          prefix: '',
          regex: null,
          isRegex: false,
          regexPriority: 0,
          prefixLength: 0,
          order: order++,
        });
        continue;
      }
      for (const p of paths) {
        const isRegex = p.charCodeAt(0) === 126; /* ~ */
        let regex: RegExp | null = null;
        if (isRegex) {
          try {
            regex = compileRoutePathRegex(p.slice(1));
          } catch {
            continue; // rejected by config validation; never matches here
          }
        }
        entries.push({
          ...base,
          rank: 0,
          key: isRegex ? regexLiteralPrefix(regex!.source, regex!.flags) : p,
          pathKind: isRegex ? PathKind.Regex : PathKind.Prefix,
          prefix: isRegex ? '' : p,
          regex,
          isRegex,
          regexPriority: isRegex ? route.regex_priority || 0 : 0,
          prefixLength: isRegex ? 0 : Math.min(utf8Length(p), MAX_PREFIX_LENGTH),
          order: order++,
        });
      }
    }

    entries.sort(comparePriority);
    for (let i = 0; i < entries.length; i++) entries[i].rank = i;
    this.size = entries.length;
    this.entries = entries;

    const anyHost: RouterEntry[] = [];
    const perHost = new Map<string, RouterEntry[]>();
    for (const e of entries) {
      if (e.hosts === null || e.hosts.some((h) => h.kind !== HostKind.Exact)) {
        anyHost.push(e);
        continue;
      }
      const seen = new Set<string>();
      for (const h of e.hosts) {
        if (seen.has(h.value)) continue;
        seen.add(h.value);
        let list = perHost.get(h.value);
        if (list === undefined) perHost.set(h.value, (list = []));
        list.push(e);
      }
    }
    this.anyHost = buildIndex(anyHost);
    for (const [host, list] of perHost) this.byHost.set(host, buildIndex(list));
  }

  /**
   * The route for a request, or null (404). `path` must be normalized (normalizePath). `host` is the Host
   * header; its port is split off, and a route host with `:port` requires that port (`dstPort`, the port the
   * request arrived on, when given; else the Host header's port).
   */
  match(
    method: string,
    host: string | undefined,
    path: string,
    headers: RouterRequestHeaders,
    dstPort?: number,
    sni?: string,
  ): RouteMatch | null {
    const hasHost = readRequestHost(host, dstPort);
    const hostName = requestHostName;
    const port = requestPort;

    const hostIndex = hasHost ? this.byHost.get(hostName) : undefined;
    let lists = collect(this.anyHost, path, 0);
    if (hostIndex !== undefined) lists = collect(hostIndex, path, lists);

    for (;;) {
      // next candidate: the lowest rank among the heads of the lists
      let best = -1;
      let bestRank = Infinity;
      for (let k = 0; k < lists; k++) {
        const list = scratchLists[k];
        const at = scratchPos[k];
        if (at < list.length && list[at].rank < bestRank) {
          bestRank = list[at].rank;
          best = k;
        }
      }
      if (best === -1) break;
      const e = scratchLists[best][scratchPos[best]++];

      let stripped = '';
      if (e.pathKind === PathKind.Prefix) {
        if (!path.startsWith(e.prefix)) continue;
        if (e.strip) stripped = e.prefix;
      } else if (e.pathKind === PathKind.Regex) {
        const re = e.regex!;
        if (e.strip) {
          const m = re.exec(path);
          if (m === null) continue;
          stripped = m[0];
        } else if (!re.test(path)) {
          continue;
        }
      }
      if (e.methods !== null && !e.methods.includes(method)) continue;
      if (e.hosts !== null && (!hasHost || !hostsMatch(e.hosts, hostName, port))) continue;
      if (e.headers !== null && !headersMatch(e.headers, headers)) continue;
      if (e.snis !== null && sni !== undefined && !snisMatch(e.snis, sni)) continue;

      clearScratch(lists);
      return {
        route: e.route,
        service: e.service,
        strippedPrefix: stripped,
        upstreamPath: escapeUpstreamPath(joinUpstreamPath(e.servicePath, path, stripped, e.pathHandling)),
        path,
        regex: e.regex,
      };
    }
    clearScratch(lists);
    return null;
  }

  /**
   * For each entry in priority order, the conditions a request fails ([] for every entry that matches; the
   * first such entry is what `match` returns). For explaining a match; scans every entry, so never on the
   * request path.
   */
  diagnose(method: string, host: string | undefined, path: string, headers: RouterRequestHeaders): Array<{ entry: RouterEntry; failed: RouteCondition[] }> {
    const hasHost = readRequestHost(host, undefined);
    const hostName = requestHostName;
    const port = requestPort;
    return this.entries.map((e) => {
      const failed: RouteCondition[] = [];
      if (e.pathKind === PathKind.Prefix ? !path.startsWith(e.prefix) : e.pathKind === PathKind.Regex && !e.regex!.test(path)) failed.push('path');
      if (e.methods !== null && !e.methods.includes(method)) failed.push('method');
      if (e.hosts !== null && (!hasHost || !hostsMatch(e.hosts, hostName, port))) failed.push('host');
      if (e.headers !== null && !headersMatch(e.headers, headers)) failed.push('headers');
      return { entry: e, failed };
    });
  }
}

export type RouteCondition = 'path' | 'method' | 'host' | 'headers';

/**
 * A route's sni as kong/router/transform.lua compiles it: `*.x` matches names ending in `.x`, `x.*` names
 * starting with `x.`, anything else the name itself (a final dot dropped).
 */
function compileSni(sni: string): HostRule {
  if (sni.charCodeAt(0) === 42 /* * */) return { kind: HostKind.Suffix, value: sni.slice(1), port: -1 };
  if (sni.charCodeAt(sni.length - 1) === 42) return { kind: HostKind.Prefix, value: sni.slice(0, -1), port: -1 };
  return { kind: HostKind.Exact, value: sni.length > 1 && sni.endsWith('.') ? sni.slice(0, -1) : sni, port: -1 };
}

/** `sni`: the client's server name on a TLS connection, '' when it sent none (then no sni rule holds). */
function snisMatch(rules: HostRule[], sni: string): boolean {
  if (sni === '') return false;
  const name = sni.toLowerCase();
  for (const r of rules) {
    if (r.kind === HostKind.Exact ? name === r.value : r.kind === HostKind.Suffix ? name.endsWith(r.value) : name.startsWith(r.value)) return true;
  }
  return false;
}

/** Drops the scratch references so a replaced Router can be collected. */
function clearScratch(count: number): void {
  for (let k = 0; k < count; k++) scratchLists[k] = EMPTY;
}
