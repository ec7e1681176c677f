import type { IncomingHttpHeaders } from 'node:http';
// The OpenTelemetry project's generated protobuf classes for opentelemetry-proto (a devDependency, for tests only):
// the receiver decodes what the gateway's own encoder wrote with the reference definitions.
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root';

const root = generated as unknown as ProtoRoot;

interface Long {
  toString(): string;
  toNumber(): number;
}
interface AnyValueMessage {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Long | number;
  doubleValue?: number;
}
interface KeyValueMessage {
  key: string;
  value?: AnyValueMessage;
}
interface SpanMessage {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind?: number;
  startTimeUnixNano: Long | number;
  endTimeUnixNano: Long | number;
  attributes?: KeyValueMessage[];
  status?: { code?: number };
}
interface ExportMessage {
  resourceSpans: Array<{
    resource?: { attributes?: KeyValueMessage[] };
    scopeSpans: Array<{ scope?: { name: string; version: string }; spans: SpanMessage[] }>;
  }>;
}
interface ProtoRoot {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(b: Uint8Array): ExportMessage } } } } } };
}

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  /** Strings, booleans and doubles as they are; ints as { int: n }. */
  attributes: Record<string, unknown>;
  status: number;
}
export interface DecodedExport {
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
  spans: DecodedSpan[];
  headers: IncomingHttpHeaders;
}

/** AnyValue by the name of its set oneof member (protobufjs's virtual `value`). */
function valueOf(v: AnyValueMessage | undefined): unknown {
  if (v === undefined) return undefined;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return { int: Number(v.intValue!.toString()) };
    case 'doubleValue':
      return v.doubleValue;
    default:
      throw new Error(`AnyValue ${String(v.value)} is not expected from the gateway`);
  }
}

const attributesOf = (list: KeyValueMessage[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

/** collector.trace.v1.ExportTraceServiceRequest, decoded by the OpenTelemetry package, one entry per scope. */
export function decodeExport(body: Buffer, headers: IncomingHttpHeaders): DecodedExport[] {
  const msg = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.decode(body);
  return msg.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.map((ss) => ({
      resource: attributesOf(rs.resource?.attributes),
      scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
      spans: ss.spans.map((s) => ({
        traceId: hex(s.traceId),
        spanId: hex(s.spanId),
        parentSpanId: hex(s.parentSpanId),
        name: s.name,
        kind: s.kind ?? 0,
        start: BigInt(s.startTimeUnixNano.toString()),
        end: BigInt(s.endTimeUnixNano.toString()),
        attributes: attributesOf(s.attributes),
        status: s.status?.code ?? 0,
      })),
      headers,
    })),
  );
}
