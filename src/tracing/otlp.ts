/**
 * OTLP/HTTP protobuf encoding of the few messages a trace export needs (opentelemetry-proto: collector/trace/v1
 * ExportTraceServiceRequest, trace/v1, common/v1, resource/v1). Written out here rather than through a protobuf
 * runtime: eight messages, encoded once per batch.
 */
import { ORIGIN_NS_HIGH, ORIGIN_NS_LOW } from './span-clock';

/** An attribute value as Kong types them: strings, booleans, numbers as doubles, `{ int }` for int64 ones. */
export type AttributeValue = string | boolean | number | { int: number };
export type Attributes = ReadonlyArray<readonly [string, AttributeValue]>;

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

export interface OtlpSpan {
  /** 16 bytes, as hex. */
  traceId: string;
  /** 8 bytes, as hex. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  /** Nanoseconds since ORIGIN_MS (span-clock.ts): numbers, where nanoseconds since epoch would need BigInts. */
  startNs: number;
  endNs: number;
  attributes: Attributes;
  /** 2: error. */
  statusCode?: number;
}

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const TWO_32 = 2 ** 32;

/** Bytes of the varint of a non-negative length. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 2 ** (7 * size)) size++;
  return size;
}

/**
 * Writes protobuf fields into one growing buffer. A nested message is opened with fork(), which keeps one byte for
 * its length, and closed with ldelim(), which writes the length there: most messages (attributes, statuses) are
 * shorter than 128 bytes and need no more. Longer ones (spans, the batch) move their bytes right to make room.
 */
class Writer {
  private buf: Buffer;
  private pos = 0;
  private readonly starts: number[] = [];

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private varint(value: number): void {
    this.ensure(10);
    while (value > 0x7f) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[this.pos++] = value;
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  fork(field: number): this {
    this.tag(field, LEN);
    this.ensure(1);
    this.pos++;
    this.starts.push(this.pos);
    return this;
  }

  ldelim(): this {
    const start = this.starts.pop()!;
    const len = this.pos - start;
    if (len < 0x80) {
      this.buf[start - 1] = len;
      return this;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    const end = this.pos + extra;
    this.pos = start - 1;
    this.varint(len);
    this.pos = end;
    return this;
  }

  /** An id given as hex, as Kong formats it: zeros on the left, or the low-order bytes; written as bytes. */
  hexId(field: number, hex: string, bytes: number): this {
    const digits = bytes * 2;
    const sized = hex.length === digits ? hex : hex.length > digits ? hex.slice(hex.length - digits) : hex.padStart(digits, '0');
    this.tag(field, LEN);
    this.ensure(bytes + 1);
    // The length after the bytes: hex that stops being hex early yields fewer, as Buffer.from(hex, 'hex') does.
    const written = this.buf.write(sized, this.pos + 1, bytes, 'hex');
    this.buf[this.pos] = written;
    this.pos += 1 + written;
    return this;
  }

  string(field: number, s: string): this {
    this.tag(field, LEN);
    const n = s.length;
    // Short strings (at most 126 bytes in UTF-8): one length byte, ASCII copied here rather than by a call into C++.
    if (n <= 42) {
      this.ensure(1 + 3 * n);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      const len = i === n ? n : buf.write(s, at, 'utf8');
      buf[this.pos] = len;
      this.pos = at + len;
      return this;
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  uint(field: number, v: number): this {
    if (v !== 0) {
      this.tag(field, VARINT);
      this.varint(v);
    }
    return this;
  }

  /** int64: negative values as their two's complement, ten bytes. */
  int64(field: number, v: number): this {
    this.tag(field, VARINT);
    const n = Math.trunc(v);
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
      this.varint(n);
      return this;
    }
    let value = BigInt.asUintN(64, BigInt(n));
    this.ensure(10);
    while (value > 0x7fn) {
      this.buf[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.buf[this.pos++] = Number(value);
    return this;
  }

  bool(field: number, v: boolean): this {
    this.tag(field, VARINT);
    this.varint(v ? 1 : 0);
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, I64);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
    return this;
  }

  /** fixed64 of ORIGIN_MS in nanoseconds plus `ns` (an integer, possibly negative): the sum in two 32-bit halves. */
  time(field: number, ns: number): this {
    this.tag(field, I64);
    this.ensure(8);
    const high = Math.floor(ns / TWO_32);
    let lo = ORIGIN_NS_LOW + (ns - high * TWO_32);
    let hi = ORIGIN_NS_HIGH + high;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      hi++;
    }
    this.pos = this.buf.writeUInt32LE(lo, this.pos);
    this.pos = this.buf.writeUInt32LE(hi >>> 0, this.pos);
    return this;
  }

  /** Bytes encoded elsewhere, as they stand (spans encoded when they were queued). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  get length(): number {
    return this.pos;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** common.v1.KeyValue (key 1, value 2) with its AnyValue: string_value 1, bool_value 2, int_value 3, double_value 4. */
function keyValue(w: Writer, field: number, key: string, v: AttributeValue): void {
  w.fork(field).string(1, key).fork(2);
  if (typeof v === 'string') w.string(1, v);
  else if (typeof v === 'boolean') w.bool(2, v);
  else if (typeof v === 'number') w.double(4, v);
  else w.int64(3, v.int);
  w.ldelim().ldelim();
}

/** trace.v1.Span. */
function span(w: Writer, s: OtlpSpan): void {
  w.fork(2).hexId(1, s.traceId, 16).hexId(2, s.spanId, 8);
  if (s.parentSpanId !== undefined) w.hexId(4, s.parentSpanId, 8);
  w.string(5, s.name).uint(6, s.kind).time(7, s.startNs).time(8, s.endNs);
  for (let i = 0; i < s.attributes.length; i++) keyValue(w, 9, s.attributes[i][0], s.attributes[i][1]);
  // Status: code 3.
  if (s.statusCode !== undefined) w.fork(15).uint(3, s.statusCode).ldelim();
  w.ldelim();
}

/** Reused for every span queued: a span is copied out of it at once. */
const spanWriter = new Writer(1024);

/**
 * One span as ScopeSpans' field 2, tag and length included: a batch is these bytes one after another. The bytes are
 * the writer's, good until the next call.
 */
export function encodeSpan(s: OtlpSpan): Buffer {
  span(spanWriter.reset(), s);
  return spanWriter.finish();
}

const MIN_BATCH_SIZE = 4096;
let nextBatchSize = MIN_BATCH_SIZE;

/**
 * collector.trace.v1.ExportTraceServiceRequest with one ResourceSpans (resource 1, scope_spans 2) holding one
 * ScopeSpans (scope 1, spans 2), as Kong sends (scope "kong-internal" 0.1.0). Spans are given as objects, or as
 * encodeSpan's bytes.
 */
export function encodeTraces(spans: ReadonlyArray<OtlpSpan | Uint8Array>, resource: Attributes, scope: { name: string; version: string }): Buffer {
  // Sized as the previous batch was: most batches are alike, so the buffer seldom grows.
  const w = new Writer(nextBatchSize);
  w.fork(1).fork(1);
  for (const [k, v] of resource) keyValue(w, 1, k, v);
  w.ldelim().fork(2).fork(1).string(1, scope.name).string(2, scope.version).ldelim();
  for (const s of spans) {
    if (s instanceof Uint8Array) w.raw(s);
    else span(w, s);
  }
  w.ldelim().ldelim();
  nextBatchSize = Math.max(MIN_BATCH_SIZE, w.length + (w.length >> 3));
  return w.finish();
}
