import type { IncomingHttpHeaders } from 'node:http';
import type { PluginCheck } from '../plugins/types';

/** Ids as lower-case hex: trace ids of 16 or 32 digits, span ids of 16. */
export interface TraceContext {
  traceId?: string;
  spanId?: string;
  parentId?: string;
  /** undefined: the sender left the decision to us. */
  sampled?: boolean;
  /** b3's debug flag ("1"), kept for b3 injection. */
  debug?: boolean;
  /** The context came in b3's single header (for `preserve`). */
  single?: boolean;
}
// Where a format names one span only (w3c, ot, aws, gcp), it is the sender's and is kept in parentId: the parent of
// the span the gateway starts. Where it names two (b3, jaeger), client and server share spanId (Kong: reuse_span_id).

/** Formats this gateway extracts and injects; Kong's others (datadog, instana) are refused at validation. */
export type ExtractFormat = 'b3' | 'w3c' | 'jaeger' | 'ot' | 'aws' | 'gcp';
export type InjectFormat = ExtractFormat | 'b3-single';

export interface Propagation {
  /** Tried in order; the first that finds a context wins (Kong's propagation.extract). */
  extract: readonly ExtractFormat[];
  /** `preserve`: the format the context came in, else default_format. */
  inject: readonly (InjectFormat | 'preserve')[];
  /** Lower-cased header names removed before injection. */
  clear: readonly string[];
  defaultFormat: InjectFormat;
}

/** Kong's formats in its schema's words, and the ones implemented here. */
export const KONG_FORMATS = ['b3', 'b3-single', 'w3c', 'jaeger', 'ot', 'aws', 'datadog', 'gcp', 'instana'] as const;
export const EXTRACTORS: ReadonlySet<string> = new Set(['b3', 'w3c', 'jaeger', 'ot', 'aws', 'gcp']);
export const INJECTORS: ReadonlySet<string> = new Set(['b3', 'b3-single', 'w3c', 'jaeger', 'ot', 'aws', 'gcp']);
/** Kong's extraction order for the legacy header_type, without the formats not read here (datadog, instana). */
const KONG_ORDER: readonly ExtractFormat[] = ['b3', 'w3c', 'jaeger', 'ot', 'aws', 'gcp'];

/**
 * Kong's mapping of the legacy header_type / default_header_type onto propagation
 * (kong/observability/tracing/propagation/init.lua get_plugin_params): used unless extract, inject or clear is set.
 */
export function propagationOf(
  headerType: string | undefined,
  defaultHeaderType: string | undefined,
  p: { extract?: string[]; inject?: string[]; clear?: string[]; default_format?: string } | undefined,
): Propagation {
  const explicit = p !== undefined && (p.extract !== undefined || p.inject !== undefined || p.clear !== undefined);
  let defaultFormat = (p?.default_format ?? 'b3') as InjectFormat;
  if (explicit) {
    return { extract: (p.extract ?? []) as ExtractFormat[], inject: (p.inject ?? []) as Propagation['inject'], clear: (p.clear ?? []).map((h) => h.toLowerCase()), defaultFormat };
  }
  if (defaultHeaderType !== undefined) defaultFormat = defaultHeaderType as InjectFormat;
  if (headerType === undefined) return { extract: [], inject: [], clear: [], defaultFormat };
  if (headerType === 'preserve') return { extract: KONG_ORDER, inject: ['preserve'], clear: [], defaultFormat };
  if (headerType === 'ignore') return { extract: [], inject: [defaultFormat], clear: [], defaultFormat };
  return { extract: KONG_ORDER, inject: ['preserve', headerType as InjectFormat], clear: [], defaultFormat };
}

const HEX = /^[0-9a-f]+$/i;
const B3_SINGLE = /^([0-9a-f]+)-([0-9a-f]{16})-?([01d]?)-?([0-9a-f]*)$/i;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isId(v: string | undefined, ...lengths: number[]): v is string {
  return v !== undefined && lengths.includes(v.length) && HEX.test(v);
}

/** b3's single header (or `b3=` in tracestate), then its multi headers; ids from the first that has a valid trace id. */
function extractB3(h: IncomingHttpHeaders): TraceContext | undefined {
  const ctx: TraceContext = {};
  let single = first(h.b3);
  if (single === undefined) {
    const states = h.tracestate === undefined ? [] : Array.isArray(h.tracestate) ? h.tracestate : [h.tracestate];
    for (const s of states) if (s.startsWith('b3=')) single = s.slice(3);
  }
  let found = false;
  if (single !== undefined) {
    found = true;
    ctx.single = true;
    if (single === '1' || single === 'd' || single === '0') {
      ctx.sampled = single !== '0';
      ctx.debug = single === 'd';
    } else {
      const m = B3_SINGLE.exec(single);
      if (m !== null && (m[1].length === 16 || m[1].length === 32) && (m[4] === '' || m[4].length === 16)) {
        ctx.traceId = m[1].toLowerCase();
        ctx.spanId = m[2].toLowerCase();
        if (m[4] !== '') ctx.parentId = m[4].toLowerCase();
        if (m[3] !== '') ctx.sampled = m[3] !== '0';
        ctx.debug = m[3] === 'd';
      }
    }
  }
  const sampledHeader = first(h['x-b3-sampled']);
  const flags = first(h['x-b3-flags']);
  const traceId = first(h['x-b3-traceid']);
  const spanId = first(h['x-b3-spanid']);
  const parentId = first(h['x-b3-parentspanid']);
  if (sampledHeader !== undefined || flags !== undefined || traceId !== undefined || spanId !== undefined || parentId !== undefined) found = true;
  if (ctx.sampled === undefined) {
    if (sampledHeader === '1' || sampledHeader === 'true') ctx.sampled = true;
    else if (sampledHeader === '0' || sampledHeader === 'false') ctx.sampled = false;
  }
  if (flags === '1') {
    ctx.sampled = true;
    ctx.debug = true;
  }
  // One invalid id voids the multi-header ids (Kong: invalid_id).
  const valid = (traceId === undefined || isId(traceId, 16, 32)) && (spanId === undefined || isId(spanId, 16)) && (parentId === undefined || isId(parentId, 16));
  if (ctx.traceId === undefined && valid && traceId !== undefined) {
    ctx.traceId = traceId.toLowerCase();
    ctx.spanId = spanId?.toLowerCase();
    ctx.parentId = parentId?.toLowerCase();
  }
  if (!found && h.tracestate === undefined) return undefined;
  return ctx;
}

const TRACEPARENT = /^([0-9a-f]+)-([0-9a-f]+)-([0-9a-f]+)-([0-9a-f]+)$/i;
const ZEROS = /^0+$/;

/** W3C traceparent, version 00: its span is the parent of ours. */
function extractW3c(h: IncomingHttpHeaders): TraceContext | undefined {
  const v = first(h.traceparent);
  if (v === undefined || v === '') return undefined;
  const m = TRACEPARENT.exec(v);
  if (m === null || m[1] !== '00' || m[2].length !== 32 || ZEROS.test(m[2]) || m[3].length !== 16 || ZEROS.test(m[3]) || m[4].length !== 2) return undefined;
  return { traceId: m[2].toLowerCase(), parentId: m[3].toLowerCase(), sampled: (parseInt(m[4], 16) & 1) === 1 };
}

const JAEGER = /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)$/i;

/** Kong pads an odd-length id to whole bytes, then to its 16-byte trace id unless it is 8 or 16 bytes long. */
function traceIdOf(id: string): string {
  const even = id.length % 2 === 0 ? id : `0${id}`;
  return even.length === 16 || even.length === 32 ? even.toLowerCase() : sized(even.toLowerCase(), 32);
}

/** Jaeger's `uber-trace-id: trace:span:parent:flags` (kong/observability/tracing/propagation/extractors/jaeger.lua). */
function extractJaeger(h: IncomingHttpHeaders): TraceContext | undefined {
  const v = first(h['uber-trace-id']);
  if (v === undefined || v === '') return undefined;
  const m = JAEGER.exec(v);
  if (m === null || m[1].length > 32 || ZEROS.test(m[1]) || m[2].length > 16 || ZEROS.test(m[2]) || m[4].length > 2) return undefined;
  const parent = ZEROS.test(m[3]) ? undefined : sized(m[3].toLowerCase(), 16);
  return { traceId: traceIdOf(m[1]), spanId: sized(m[2].toLowerCase(), 16), parentId: parent, sampled: (parseInt(m[4], 16) & 1) === 1 };
}

/** OpenTracing's `ot-tracer-traceid`, `-spanid`, `-sampled`; one invalid id voids both (extractors/ot.lua). */
function extractOt(h: IncomingHttpHeaders): TraceContext | undefined {
  const sampledHeader = first(h['ot-tracer-sampled']);
  const traceId = first(h['ot-tracer-traceid']);
  const spanId = first(h['ot-tracer-spanid']);
  if (sampledHeader === undefined && traceId === undefined && spanId === undefined) return undefined;
  const ctx: TraceContext = {};
  if (sampledHeader === '1' || sampledHeader === 'true') ctx.sampled = true;
  else if (sampledHeader === '0' || sampledHeader === 'false') ctx.sampled = false;
  const valid = (traceId === undefined || isId(traceId, 16, 32)) && (spanId === undefined || isId(spanId, 16));
  if (valid && traceId !== undefined) {
    ctx.traceId = traceId.toLowerCase();
    ctx.parentId = spanId?.toLowerCase();
  }
  return ctx;
}

const AWS_ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/i;

/** AWS X-Ray's `X-Amzn-Trace-Id: Root=1-<8>-<24>;Parent=<16>;Sampled=0|1`, other keys ignored (extractors/aws.lua). */
function extractAws(h: IncomingHttpHeaders): TraceContext | undefined {
  const v = first(h['x-amzn-trace-id']);
  if (v === undefined) return undefined;
  const ctx: TraceContext = {};
  for (const pair of v.split(';')) {
    const eq = pair.indexOf('=');
    const key = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
    if (key === 'Root') {
      const m = AWS_ROOT.exec(value);
      if (m === null) return undefined;
      ctx.traceId = (m[1] + m[2]).toLowerCase();
    } else if (key === 'Parent') {
      if (!isId(value, 16)) return undefined;
      ctx.parentId = value.toLowerCase();
    } else if (key === 'Sampled') {
      if (value !== '0' && value !== '1') return undefined;
      ctx.sampled = value === '1';
    }
  }
  return ctx;
}

const GCP = /^([0-9a-f]{32})\/([0-9]{1,20})(?:;o=([0-9]))?$/;

/** Google Cloud's `X-Cloud-Trace-Context: <32 hex>/<decimal span id>;o=<flag>` (extractors/gcp.lua). */
function extractGcp(h: IncomingHttpHeaders): TraceContext | undefined {
  const v = first(h['x-cloud-trace-context']);
  if (v === undefined) return undefined;
  const m = GCP.exec(v);
  if (m === null) return undefined;
  return { traceId: m[1], parentId: sized(BigInt(m[2]).toString(16), 16), sampled: m[3] === '1' };
}

const EXTRACT: Record<ExtractFormat, (h: IncomingHttpHeaders) => TraceContext | undefined> = {
  b3: extractB3,
  w3c: extractW3c,
  jaeger: extractJaeger,
  ot: extractOt,
  aws: extractAws,
  gcp: extractGcp,
};

/** The first context found, in the configured order, and its format. */
export function extract(p: Propagation, h: IncomingHttpHeaders): { ctx: TraceContext; format: ExtractFormat } | undefined {
  for (const format of p.extract) {
    const ctx = EXTRACT[format](h);
    if (ctx !== undefined) return { ctx, format };
  }
  return undefined;
}

/** Kong's to_id_size: pads with zeros on the left or keeps the low-order bytes. */
export function sized(id: string, digits: number): string {
  return id.length === digits ? id : id.length < digits ? id.padStart(digits, '0') : id.slice(id.length - digits);
}

/** The span upstream should see: the gateway's proxy span, child of its request span. */
export interface Outgoing {
  traceId: string;
  spanId: string;
  parentId: string | undefined;
  sampled: boolean;
  debug: boolean;
}

/** Formats whose trace id is 16 bytes only; the others keep an 8-byte one (Kong's trace_id_allowed_sizes). */
const LONG_TRACE_ID_ONLY: ReadonlySet<InjectFormat> = new Set(['w3c', 'aws', 'gcp']);

/** Writes one format's headers; returns the trace id as that format wrote it (Kong's get_formatted_trace_id). */
function injectOne(format: InjectFormat, o: Outgoing, h: IncomingHttpHeaders): string {
  const traceId = LONG_TRACE_ID_ONLY.has(format) ? sized(o.traceId, 32) : o.traceId;
  const flag = o.sampled ? '1' : '0';
  if (format === 'b3') {
    h['x-b3-traceid'] = traceId;
    h['x-b3-spanid'] = o.spanId;
    if (o.parentId !== undefined) h['x-b3-parentspanid'] = o.parentId;
    else delete h['x-b3-parentspanid'];
    if (o.debug) h['x-b3-flags'] = '1';
    else h['x-b3-sampled'] = o.sampled ? '1' : '0';
  } else if (format === 'b3-single') {
    const sampled = o.debug ? 'd' : o.sampled ? '1' : '0';
    h.b3 = `${traceId}-${o.spanId}-${sampled}${o.parentId !== undefined ? `-${o.parentId}` : ''}`;
  } else if (format === 'w3c') {
    h.traceparent = `00-${traceId}-${o.spanId}-0${flag}`;
  } else if (format === 'jaeger') {
    h['uber-trace-id'] = `${traceId}:${o.spanId}:${o.parentId ?? '0'}:0${flag}`;
  } else if (format === 'ot') {
    h['ot-tracer-traceid'] = traceId;
    h['ot-tracer-spanid'] = o.spanId;
    h['ot-tracer-sampled'] = flag;
  } else if (format === 'aws') {
    h['x-amzn-trace-id'] = `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${o.spanId};Sampled=${flag}`;
  } else {
    h['x-cloud-trace-context'] = `${traceId}/${BigInt(`0x${o.spanId}`).toString(10)};o=${flag}`;
  }
  return traceId;
}

/** The trace id per format written, as Kong's entry has it (`trace_id`: `{"w3c": "…", "b3": "…"}`). */
export type TraceIds = Partial<Record<'b3' | ExtractFormat, string>>;

/**
 * Clears, then injects in every configured format (`preserve`: as it came, else the default format). Returns the
 * trace ids written, by format (undefined when nothing was injected), for the log entry's `trace_id`.
 */
export function inject(p: Propagation, from: { format: ExtractFormat; ctx: TraceContext } | undefined, o: Outgoing, h: IncomingHttpHeaders): TraceIds | undefined {
  for (const name of p.clear) delete h[name];
  let ids: TraceIds | undefined;
  for (const entry of p.inject) {
    let format: InjectFormat = entry === 'preserve' ? (from?.format ?? p.defaultFormat) : entry;
    if (entry === 'preserve' && format === 'b3' && from?.ctx.single === true) format = 'b3-single';
    const written = injectOne(format, o, h);
    (ids ??= {})[format === 'b3-single' ? 'b3' : format] = written;
  }
  return ids;
}

const SUPPORTED = 'supported here: b3, b3-single, w3c, jaeger, ot, aws, gcp';

/**
 * Formats Kong knows and this gateway does not write are refused where they would be sent; in `extract` they are
 * ignored with a warning (such a request starts a new trace).
 */
export function checkPropagation(c: {
  header_type?: string;
  default_header_type?: string;
  propagation: { extract?: string[]; inject?: string[]; default_format: string };
}): PluginCheck[] {
  const out: PluginCheck[] = [];
  const unsupported = (path: (string | number)[], value: string) =>
    out.push({ path: ['config', ...path], message: `'${value}' propagation is not supported (${SUPPORTED})` });
  const h = c.header_type;
  if (h !== undefined && h !== 'preserve' && h !== 'ignore' && !INJECTORS.has(h)) unsupported(['header_type'], h);
  if (c.default_header_type !== undefined && !INJECTORS.has(c.default_header_type)) unsupported(['default_header_type'], c.default_header_type);
  const p = c.propagation;
  p.extract?.forEach((f, i) => {
    if (!EXTRACTORS.has(f)) out.push({ path: ['config', 'propagation', 'extract', i], message: `ignored: '${f}' headers are not read here (read: b3, w3c, jaeger, ot, aws, gcp)`, severity: 'warning' });
  });
  p.inject?.forEach((f, i) => f === 'preserve' || INJECTORS.has(f) || unsupported(['propagation', 'inject', i], f));
  if (!INJECTORS.has(p.default_format)) unsupported(['propagation', 'default_format'], p.default_format);
  return out;
}
