import type { Agent } from 'node:http';
import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext, RequestTrace } from '../../proxy/context';
import type { ChainEntry } from '../../config/snapshot';
import { NODE_ID } from '../../node-id';
import { VERSION } from '../../version';
import { BatchQueue, type QueueConfig } from '../../observe/queue';
import { randomHex } from '../../tracing/random-id';
import { keepAliveAgent, postBatch, type Collector } from '../../tracing/collector';
import { checkPropagation, extract, inject, propagationOf, type ExtractFormat, type Propagation, type TraceContext } from '../../tracing/propagation';
import { msToNs, nowNs } from '../../tracing/span-clock';
import { SPAN_KIND, encodeSpan, encodeTraces, type Attributes, type AttributeValue, type OtlpSpan } from '../../tracing/otlp';
import configSchema from './schema.json';

export interface OpenTelemetryConfig {
  traces_endpoint?: string;
  logs_endpoint?: string;
  /** Kong's deprecated shorthand for traces_endpoint. */
  endpoint?: string;
  headers?: Record<string, string>;
  resource_attributes?: Record<string, string>;
  queue: QueueConfig;
  batch_span_count?: number;
  batch_flush_delay?: number;
  connect_timeout: number;
  send_timeout: number;
  read_timeout: number;
  http_response_header_for_traceid?: string;
  header_type: string;
  sampling_rate?: number;
  propagation: { extract?: string[]; inject?: string[]; clear?: string[]; default_format: string };
}

interface Compiled {
  readonly propagation: Propagation;
  readonly samplingRate: number;
  readonly responseHeader: string | undefined;
  /** Undefined without traces_endpoint, or offline. */
  readonly queue: BatchQueue | undefined;
  /** The collector's kept-alive connections, closed once a retired instance's queue is drained. */
  readonly agent: Agent | undefined;
  readonly tracing: boolean;
}

/** Kong's kong.conf tracing_sampling_rate default, for an instance without sampling_rate. */
const DEFAULT_SAMPLING_RATE = 0.01;
const SCOPE = { name: 'kong-internal', version: '0.1.0' };


/** One request's trace: ids decided in the access phase, plugin timings from the rewrite phase on. */
interface Trace {
  /** Times in nanoseconds since span-clock's origin. */
  routedNs: number;
  /** When the previous plugin's access phase ended: the next one's start. */
  markNs: number;
  readonly plugins: Array<{ name: string; start: number; end: number }>;
  traceId: string;
  rootSpanId: string;
  rootParentId: string | undefined;
  /** The span the upstream sees as its parent: the balancer span (Kong precreates it). */
  balancerSpanId: string;
  sampled: boolean;
  decided: boolean;
  from: { format: ExtractFormat; ctx: TraceContext } | undefined;
}

const TRACES = new WeakMap<RequestContext, Trace>();

function traceOf(ctx: RequestContext): Trace {
  let t = TRACES.get(ctx);
  if (t === undefined) {
    const now = nowNs();
    t = {
      routedNs: now,
      markNs: now,
      plugins: [],
      traceId: '',
      rootSpanId: randomHex(8),
      rootParentId: undefined,
      balancerSpanId: randomHex(8),
      sampled: false,
      decided: false,
      from: undefined,
    };
    TRACES.set(ctx, t);
  }
  return t;
}

/** Span names by plugin name, made once (a flat string, where a template per request would be concatenated). */
const PLUGIN_SPAN_NAMES = new Map<string, string>();

function pluginSpanName(plugin: string): string {
  let name = PLUGIN_SPAN_NAMES.get(plugin);
  if (name === undefined) {
    name = `kong.access.plugin.${plugin}`;
    PLUGIN_SPAN_NAMES.set(plugin, name);
  }
  return name;
}

/** Times each plugin's access phase (the pipeline reports each end; a start is the previous end). */
const PHASE_TIMER: RequestTrace = {
  routed() {},
  note() {},
  ran(ctx: RequestContext, entry: ChainEntry) {
    const t = TRACES.get(ctx);
    if (t === undefined) return;
    const end = nowNs();
    t.plugins.push({ name: pluginSpanName(entry.def.name), start: t.markNs, end });
    t.markNs = end;
  },
};

/** Reads the incoming context and makes the sampling decision (Kong: the parent's, else the rate). */
function decide(ctx: RequestContext, c: Compiled, t: Trace): void {
  if (t.decided) return;
  t.decided = true;
  t.from = extract(c.propagation, ctx.req.headers);
  const got = t.from?.ctx;
  t.traceId = got?.traceId ?? randomHex(16);
  t.rootParentId = got?.spanId ?? got?.parentId;
  t.sampled = got?.sampled ?? Math.random() < c.samplingRate;
}

function rootAttributes(ctx: RequestContext): Attributes {
  const req = ctx.req;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  const scheme = 'encrypted' in req.socket ? 'https' : 'http';
  const target = ctx.rawQuery === null ? ctx.rawPath : `${ctx.rawPath}?${ctx.rawQuery}`;
  const attributes: Array<[string, AttributeValue]> = [
    ['http.method', req.method ?? 'GET'],
    ['http.url', `${scheme}://${host}${target}`],
    ['http.host', host],
    ['http.scheme', scheme],
    ['http.flavor', req.httpVersion],
    ['http.client_ip', ctx.clientIp],
    ['net.peer.ip', (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')],
    ['kong.request.id', ctx.requestId],
  ];
  if (ctx.res.headersSent) attributes.push(['http.status_code', { int: ctx.res.statusCode }]);
  attributes.push(['http.route', ctx.runtime.route.paths?.[0] ?? '']);
  return attributes;
}

/** Kong's spans with all its instrumentations on: the request, the router, each plugin's access, the balancer. */
function spansOf(ctx: RequestContext, t: Trace): OtlpSpan[] {
  const end = nowNs();
  const start = msToNs(ctx.startedAt) < t.routedNs ? msToNs(ctx.startedAt) : t.routedNs;
  const child = (name: string, spanId: string, kind: number, s: number, e: number, attributes: Attributes = []): OtlpSpan => ({
    traceId: t.traceId,
    spanId,
    parentSpanId: t.rootSpanId,
    name,
    kind,
    startNs: s,
    endNs: e < s ? s : e,
    attributes,
  });
  const spans: OtlpSpan[] = [
    { traceId: t.traceId, spanId: t.rootSpanId, parentSpanId: t.rootParentId, name: 'kong', kind: SPAN_KIND.server, startNs: start, endNs: end, attributes: rootAttributes(ctx) },
    child('kong.router', randomHex(8), SPAN_KIND.internal, start, t.routedNs),
  ];
  for (const p of t.plugins) spans.push(child(p.name, randomHex(8), SPAN_KIND.internal, p.start, p.end));
  if (ctx.forwardedAt !== 0) {
    const upstream = ctx.runtime.upstream;
    const attributes: Array<[string, AttributeValue]> = [['try_count', 1]];
    if (upstream !== undefined) attributes.push(['net.peer.ip', upstream.host], ['net.peer.port', upstream.port], ['net.peer.name', upstream.host]);
    const answered = ctx.upstreamRespondedAt !== 0;
    const balancer = child('kong.balancer', t.balancerSpanId, SPAN_KIND.client, msToNs(ctx.forwardedAt), answered ? msToNs(ctx.upstreamRespondedAt) : end, attributes);
    if (!answered) {
      attributes.push(['http.status_code', { int: ctx.res.statusCode }]);
      balancer.statusCode = 2;
    }
    spans.push(balancer);
  }
  return spans;
}

function check(plugin: { config: OpenTelemetryConfig }): PluginCheck[] {
  const c = plugin.config;
  const out = checkPropagation(c);
  if (c.traces_endpoint === undefined && c.endpoint === undefined && c.logs_endpoint === undefined) {
    out.push({ path: ['config'], message: 'at least one of these fields must be non-empty: traces_endpoint, logs_endpoint' });
  }
  if (c.logs_endpoint !== undefined) out.push({ path: ['config', 'logs_endpoint'], message: 'ignored: logs are not exported over OTLP here', severity: 'warning' });
  return out;
}

/** Kong's opentelemetry plugin (priority 14): traces over OTLP/HTTP protobuf; b3, W3C, jaeger, ot, aws and gcp propagation. */
export const opentelemetry: PluginDefinition<OpenTelemetryConfig, Compiled> = {
  name: 'opentelemetry',
  priority: 14,
  version: '1.0.0',
  configSchema,
  check,
  compile(conf, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    const endpoint = conf.traces_endpoint ?? conf.endpoint;
    // The deprecated batch fields still apply where the queue's are at their defaults, as Kong maps them.
    const queue = { ...conf.queue };
    if (conf.batch_span_count !== undefined && queue.max_batch_size === 200) queue.max_batch_size = conf.batch_span_count;
    if (conf.batch_flush_delay !== undefined && queue.max_coalescing_delay === 1) queue.max_coalescing_delay = conf.batch_flush_delay;
    const resource: Attributes = Object.entries({
      'service.name': 'kong',
      'service.instance.id': NODE_ID,
      'service.version': VERSION,
      ...conf.resource_attributes,
    });
    let spanQueue: BatchQueue | undefined;
    let agent: Agent | undefined;
    if (endpoint !== undefined && !build.offline) {
      const collectorUrl = new URL(endpoint);
      const collector: Collector = {
        endpoint: collectorUrl,
        contentType: 'application/x-protobuf',
        headers: conf.headers,
        connectTimeout: conf.connect_timeout,
        sendTimeout: conf.send_timeout,
        readTimeout: conf.read_timeout,
        agent: (agent = keepAliveAgent(collectorUrl)),
      };
      spanQueue = new BatchQueue('opentelemetry', queue, (spans) => postBatch(collector, encodeTraces(spans, resource, SCOPE)));
    }
    return {
      propagation: propagationOf(conf.header_type, undefined, conf.propagation),
      samplingRate: conf.sampling_rate ?? DEFAULT_SAMPLING_RATE,
      responseHeader: conf.http_response_header_for_traceid,
      queue: spanQueue,
      agent,
      tracing: endpoint !== undefined,
    };
  },
  rewrite(ctx, c) {
    if (!c.tracing) return;
    traceOf(ctx);
    ctx.trace ??= PHASE_TIMER;
  },
  access(ctx, c) {
    if (!c.tracing) return;
    const t = traceOf(ctx);
    decide(ctx, c, t);
    const debug = t.from?.ctx.debug === true;
    const ids = inject(c.propagation, t.from, { traceId: t.traceId, spanId: t.balancerSpanId, parentId: t.rootSpanId, sampled: t.sampled, debug }, ctx.req.headers);
    if (ids !== undefined) ctx.traceIds = { ...ctx.traceIds, ...ids };
  },
  headerFilter(ctx, c, head) {
    if (!c.tracing || c.responseHeader === undefined) return;
    const t = traceOf(ctx);
    decide(ctx, c, t);
    head.append(c.responseHeader, t.traceId);
  },
  log(ctx, c) {
    if (ctx === undefined || c.queue === undefined) return; // no route matched: nothing was traced
    const t = traceOf(ctx);
    decide(ctx, c, t);
    if (!t.sampled) return;
    for (const span of spansOf(ctx, t)) c.queue.add(encodeSpan(span));
  },
  dispose(c) {
    c.queue?.close();
    void c.queue?.whenDrained().then(() => c.agent?.destroy());
  },
};
