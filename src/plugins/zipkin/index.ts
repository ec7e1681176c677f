import type { Agent } from 'node:http';
import { isIP } from 'node:net';
import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import { NODE_ID } from '../../node-id';
import { BatchQueue, joinBytes, type QueueConfig } from '../../observe/queue';
import { randomHex } from '../../tracing/random-id';
import { keepAliveAgent, postBatch, type Collector } from '../../tracing/collector';
import { checkPropagation, extract, inject, propagationOf, type Propagation, type TraceContext, type ExtractFormat } from '../../tracing/propagation';
import { parseTagsHeader } from './tags';
import configSchema from './schema.json';

export interface ZipkinConfig {
  local_service_name: string;
  http_endpoint?: string;
  sample_ratio: number;
  default_service_name?: string;
  include_credential: boolean;
  traceid_byte_count: 8 | 16;
  header_type: string;
  default_header_type: string;
  tags_header: string;
  static_tags?: Array<{ name: string; value: string }>;
  http_span_name: 'method' | 'method_path';
  connect_timeout: number;
  send_timeout: number;
  read_timeout: number;
  http_response_header_for_traceid?: string;
  phase_duration_flavor: 'annotations' | 'tags';
  queue: QueueConfig;
  propagation: { extract?: string[]; inject?: string[]; clear?: string[]; default_format: string };
}

interface Compiled {
  readonly conf: ZipkinConfig;
  readonly propagation: Propagation;
  /** Lower-cased, as the request's header table is. */
  readonly tagsHeader: string;
  /** The spans, as JSON texts; undefined without http_endpoint (headers are still propagated) or offline. */
  readonly queue: BatchQueue | undefined;
  /** The collector's kept-alive connections, closed once a retired instance's queue is drained. */
  readonly agent: Agent | undefined;
}

/** Tags the plugin sets itself: a static tag cannot name them (kong/plugins/zipkin/schema.lua). */
const PROTECTED_TAGS: ReadonlySet<string> = new Set([
  'error', 'http.method', 'http.path', 'http.status_code', 'kong.balancer.state', 'kong.balancer.try', 'kong.consumer',
  'kong.credential', 'kong.node.id', 'kong.route', 'kong.service', 'lc', 'peer.hostname',
]);

/** One request's trace, from the access phase (or the first phase that ran) to the log phase. */
interface Trace {
  readonly sampled: boolean;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string | undefined;
  readonly proxySpanId: string;
  /** Microseconds since epoch. */
  readonly accessStart: number;
  headerFilterStart: number;
  readonly from: { format: ExtractFormat; ctx: TraceContext } | undefined;
}

const TRACES = new WeakMap<RequestContext, Trace>();
const nowMu = () => Date.now() * 1000;

function begin(ctx: RequestContext, c: Compiled): Trace {
  let trace = TRACES.get(ctx);
  if (trace !== undefined) return trace;
  const from = extract(c.propagation, ctx.req.headers);
  const got = from?.ctx;
  // b3 and jaeger share a span between client and server: theirs is ours; the other formats name only the parent.
  const reuse = from?.format === 'b3' || from?.format === 'jaeger';
  trace = {
    sampled: got?.sampled ?? Math.random() < c.conf.sample_ratio,
    traceId: got?.traceId ?? randomHex(c.conf.traceid_byte_count),
    spanId: (reuse ? got?.spanId : undefined) ?? randomHex(8),
    parentId: got?.parentId,
    proxySpanId: randomHex(8),
    accessStart: nowMu(),
    headerFilterStart: 0,
    from,
  };
  TRACES.set(ctx, trace);
  return trace;
}

function check(plugin: { config: ZipkinConfig }): PluginCheck[] {
  const c = plugin.config;
  const out: PluginCheck[] = [];
  out.push(...checkPropagation(c));
  const seen = new Set<string>();
  c.static_tags?.forEach((tag, i) => {
    if (PROTECTED_TAGS.has(tag.name)) out.push({ path: ['config', 'static_tags', i, 'name'], message: `'${tag.name}' is a tag the plugin sets itself` });
    else if (seen.has(tag.name)) out.push({ path: ['config', 'static_tags', i, 'name'], message: `repeated tags are not allowed: ${tag.name}` });
    seen.add(tag.name);
  });
  if (c.http_endpoint === undefined) out.push({ path: ['config', 'http_endpoint'], message: 'no http_endpoint: trace headers are propagated, no span is sent', severity: 'warning' });
  return out;
}

/** Zipkin v2 JSON spans (https://zipkin.io/zipkin-api/): one batch is a JSON array of them. */
interface ZipkinSpan {
  traceId: string;
  name: string;
  parentId?: string;
  id: string;
  kind: 'SERVER' | 'CLIENT';
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint: { serviceName?: string; ipv4?: string; ipv6?: string; port?: number } | null;
  tags?: Record<string, string>;
  annotations?: Array<{ value: string; timestamp: number }>;
}

function endpoint(serviceName: string | undefined, ip: string | undefined, port: number | undefined): ZipkinSpan['remoteEndpoint'] {
  if (port === undefined && serviceName === undefined) return null;
  const e: NonNullable<ZipkinSpan['remoteEndpoint']> = {};
  if (serviceName !== undefined) e.serviceName = serviceName;
  if (port !== undefined) e.port = port;
  if (ip !== undefined && ip !== '') {
    const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    if (isIP(plain) === 6) e.ipv6 = plain;
    else if (isIP(plain) === 4) e.ipv4 = plain;
  }
  return e;
}

/** Zipkin wants string tag values and no empty ones. */
function tagsOf(tags: Record<string, string | number | undefined>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k in tags) {
    const v = tags[k];
    if (v === undefined || v === '') continue;
    (out ??= {})[k] = String(v);
  }
  return out;
}

/** The spans of one finished request, as Kong's handler reports them: balancer try, proxy, request. */
function spansOf(ctx: RequestContext, c: Compiled, t: Trace): ZipkinSpan[] {
  const conf = c.conf;
  const now = nowMu();
  const req = ctx.req;
  const method = req.method ?? 'GET';
  const name = conf.http_span_name === 'method_path' ? `${method} ${ctx.rawPath}` : method;
  const local = { serviceName: conf.local_service_name };
  const start = ctx.startedAt * 1000;
  const service = ctx.runtime.service;
  const route = ctx.runtime.route;
  const upstream = ctx.runtime.upstream;
  const serviceTags = {
    'kong.service': service?.id,
    'kong.service_name': service?.name,
    'kong.route': route.id,
    'kong.route_name': route.name,
  };
  const upstreamEndpoint = endpoint(service?.name ?? conf.default_service_name, upstream?.host, upstream?.port);
  const spans: ZipkinSpan[] = [];
  const annotations = conf.phase_duration_flavor === 'annotations';
  const accessEnd = ctx.forwardedAt !== 0 ? Math.max(ctx.forwardedAt * 1000, t.accessStart) : t.headerFilterStart || now;
  const headerStart = t.headerFilterStart || now;

  if (ctx.forwardedAt !== 0) {
    const tryStart = ctx.forwardedAt * 1000;
    const tryEnd = ctx.upstreamRespondedAt !== 0 ? ctx.upstreamRespondedAt * 1000 : now;
    spans.push({
      traceId: t.traceId,
      name: `${name} (balancer try 1)`,
      parentId: t.spanId,
      id: randomHex(8),
      kind: 'CLIENT',
      timestamp: tryStart,
      duration: Math.max(0, tryEnd - tryStart),
      localEndpoint: local,
      remoteEndpoint: upstreamEndpoint,
      tags: tagsOf({ 'kong.balancer.try': 1, ...serviceTags }),
    });
  }

  const proxyTags: Record<string, string | number | undefined> = { ...serviceTags, 'peer.hostname': upstream?.host };
  if (!annotations) {
    proxyTags['kong.access.duration_ms'] = Math.round((accessEnd - t.accessStart) / 1000);
    proxyTags['kong.header_filter.duration_ms'] = 0;
    proxyTags['kong.body_filter.duration_ms'] = Math.round((now - headerStart) / 1000);
  }
  spans.push({
    traceId: t.traceId,
    name: `${name} (proxy)`,
    parentId: t.spanId,
    id: t.proxySpanId,
    kind: 'CLIENT',
    timestamp: t.accessStart,
    duration: now - t.accessStart,
    localEndpoint: local,
    remoteEndpoint: upstreamEndpoint,
    tags: tagsOf(proxyTags),
    annotations: annotations
      ? [
          { value: 'kas', timestamp: t.accessStart },
          { value: 'kaf', timestamp: accessEnd },
          { value: 'khs', timestamp: headerStart },
          { value: 'khf', timestamp: headerStart },
          { value: 'kbs', timestamp: headerStart },
          { value: 'kbf', timestamp: now },
        ]
      : undefined,
  });

  const host = req.headers.host;
  const requestTags: Record<string, string | number | undefined> = {
    lc: 'kong',
    'http.method': method,
    'http.host': host === undefined ? undefined : host.replace(/:\d+$/, ''),
    'http.path': ctx.rawPath,
    'http.protocol': `HTTP/${req.httpVersion}`,
  };
  for (const tag of conf.static_tags ?? []) requestTags[tag.name] = tag.value;
  Object.assign(requestTags, parseTagsHeader(req.headers[c.tagsHeader]));
  requestTags['http.status_code'] = ctx.res.headersSent ? ctx.res.statusCode : undefined;
  requestTags['kong.consumer'] = ctx.consumer?.id;
  if (conf.include_credential) requestTags['kong.credential'] = ctx.credential?.id;
  requestTags['kong.node.id'] = NODE_ID;
  if (!annotations) requestTags['kong.rewrite.duration_ms'] = Math.round((t.accessStart - start) / 1000);
  spans.push({
    traceId: t.traceId,
    name,
    parentId: t.parentId,
    id: t.spanId,
    kind: 'SERVER',
    timestamp: start,
    duration: now - start,
    localEndpoint: local,
    remoteEndpoint: endpoint(conf.default_service_name, ctx.clientIp, req.socket.remotePort),
    tags: tagsOf(requestTags),
    annotations: annotations
      ? [
          { value: 'krs', timestamp: start },
          { value: 'krf', timestamp: t.accessStart },
        ]
      : undefined,
  });
  return spans;
}

/** Kong's zipkin plugin (priority 100000): b3, W3C, jaeger, ot, aws and gcp propagation and Zipkin v2 spans, sent in batches. */
export const zipkin: PluginDefinition<ZipkinConfig, Compiled> = {
  name: 'zipkin',
  priority: 100000,
  version: '1.0.0',
  configSchema,
  check,
  compile(conf, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    let queue: BatchQueue | undefined;
    let agent: Agent | undefined;
    if (conf.http_endpoint !== undefined && !build.offline) {
      const endpoint = new URL(conf.http_endpoint);
      const collector: Collector = {
        endpoint,
        contentType: 'application/json',
        connectTimeout: conf.connect_timeout,
        sendTimeout: conf.send_timeout,
        readTimeout: conf.read_timeout,
        agent: (agent = keepAliveAgent(endpoint)),
      };
      queue = new BatchQueue('zipkin', conf.queue, (spans) => postBatch(collector, joinBytes(spans, '[', ',', ']')));
    }
    return {
      conf,
      propagation: propagationOf(conf.header_type, conf.default_header_type, conf.propagation),
      tagsHeader: conf.tags_header.toLowerCase(),
      queue,
      agent,
    };
  },
  access(ctx, c) {
    const t = begin(ctx, c);
    const ids = inject(
      c.propagation,
      t.from,
      { traceId: t.traceId, spanId: t.proxySpanId, parentId: t.spanId, sampled: t.sampled, debug: t.from?.ctx.debug === true },
      ctx.req.headers,
    );
    if (ids !== undefined) ctx.traceIds = { ...ctx.traceIds, ...ids };
  },
  headerFilter(ctx, c, head) {
    const t = begin(ctx, c);
    t.headerFilterStart = nowMu();
    if (c.conf.http_response_header_for_traceid !== undefined) head.append(c.conf.http_response_header_for_traceid, t.traceId);
  },
  log(ctx, c) {
    if (ctx === undefined) return; // no route matched: nothing was traced
    const t = begin(ctx, c);
    if (!t.sampled || c.queue === undefined) return;
    for (const span of spansOf(ctx, c, t)) c.queue.add(JSON.stringify(span));
  },
  dispose(c) {
    c.queue?.close();
    void c.queue?.whenDrained().then(() => c.agent?.destroy());
  },
};
