/**
 * OTLP/HTTP protobuf encoding of the few messages a trace export needs (opentelemetry-proto: collector/trace/v1
 * ExportTraceServiceRequest, trace/v1, common/v1, resource/v1). Written out here rather than through a protobuf
 * runtime: eight messages, encoded once per batch.
 */

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
  /** Nanoseconds since epoch. */
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  /** 2: error. */
  statusCode?: number;
}

const LEN = 2;
const VARINT = 0;
const I64 = 1;

/**
 * Writes protobuf fields into one growing buffer. A nested message is opened with fork() and closed with ldelim(),
 * which moves its bytes right by the size of its length and writes the length before them.
 */
class Writer {
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;
  private readonly starts: number[] = [];

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
    this.starts.push(this.pos);
    return this;
  }

  ldelim(): this {
    const start = this.starts.pop()!;
    const len = this.pos - start;
    let size = 1;
    while (len >= 2 ** (7 * size)) size++;
    this.ensure(size);
    this.buf.copyWithin(start + size, start, this.pos);
    const end = this.pos + size;
    this.pos = start;
    this.varint(len);
    this.pos = end;
    return this;
  }

  bytes(field: number, b: Buffer): this {
    this.tag(field, LEN);
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }

  string(field: number, s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.tag(field, LEN);
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
    let value = BigInt.asUintN(64, BigInt(Math.trunc(v)));
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

  fixed64(field: number, v: bigint): this {
    this.tag(field, I64);
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64LE(v, this.pos);
    return this;
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

/** Kong's id formatter: zeros on the left, or the low-order bytes. */
function id(hex: string, bytes: number): Buffer {
  const digits = bytes * 2;
  const sized = hex.length >= digits ? hex.slice(hex.length - digits) : hex.padStart(digits, '0');
  return Buffer.from(sized, 'hex');
}

/** trace.v1.Span. */
function span(w: Writer, s: OtlpSpan): void {
  w.fork(2).bytes(1, id(s.traceId, 16)).bytes(2, id(s.spanId, 8));
  if (s.parentSpanId !== undefined) w.bytes(4, id(s.parentSpanId, 8));
  w.string(5, s.name).uint(6, s.kind).fixed64(7, s.startNs).fixed64(8, s.endNs);
  for (const [k, v] of s.attributes) keyValue(w, 9, k, v);
  // Status: code 3.
  if (s.statusCode !== undefined) w.fork(15).uint(3, s.statusCode).ldelim();
  w.ldelim();
}

/**
 * collector.trace.v1.ExportTraceServiceRequest with one ResourceSpans (resource 1, scope_spans 2) holding one
 * ScopeSpans (scope 1, spans 2), as Kong sends (scope "kong-internal" 0.1.0).
 */
export function encodeTraces(spans: readonly OtlpSpan[], resource: Attributes, scope: { name: string; version: string }): Buffer {
  const w = new Writer();
  w.fork(1).fork(1);
  for (const [k, v] of resource) keyValue(w, 1, k, v);
  w.ldelim().fork(2).fork(1).string(1, scope.name).string(2, scope.version).ldelim();
  for (const s of spans) span(w, s);
  return w.ldelim().ldelim().finish();
}
