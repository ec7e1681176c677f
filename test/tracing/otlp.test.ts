import t from 'tap';
import { encodeSpan, encodeTraces, SPAN_KIND, type OtlpSpan } from '../../src/tracing/otlp';
import { ORIGIN_MS, msToNs, nowNs } from '../../src/tracing/span-clock';
import { decodeExport } from '../helpers/otlp';

// The OTLP encoder (src/tracing/otlp.ts) checked against the OpenTelemetry project's own protobuf classes
// (test/helpers/otlp.ts) where its shortcuts could go wrong: one-byte lengths that must grow, strings copied
// by hand, times added to the clock's origin in two halves, ids sized as Kong's formatter does.

const ORIGIN_NS = BigInt(ORIGIN_MS) * 1_000_000n;
const SCOPE = { name: 'kong-internal', version: '0.1.0' };
const TRACE = '0af7651916cd43dd8448eb211c80319c';

function span(over: Partial<OtlpSpan>): OtlpSpan {
  return { traceId: TRACE, spanId: 'b7ad6b7169203331', name: 'kong', kind: SPAN_KIND.server, startNs: 0, endNs: 1, attributes: [], ...over };
}

const decode = (body: Buffer) => decodeExport(body, {});

t.test('strings of every length and alphabet come back as written', async (t) => {
  const values = ['', 'a', 'x'.repeat(42), 'x'.repeat(43), 'é'.repeat(42), `${'a'.repeat(41)}€`, '😀 trace', 'y'.repeat(127), 'z'.repeat(128), 'w'.repeat(20_000)];
  const attributes = values.map((v, i) => [`attr.${i}`, v] as const);
  const [got] = decode(encodeTraces([span({ name: 'ünïcode span', attributes })], [['service.name', 'kong']], SCOPE));
  t.equal(got.spans[0].name, 'ünïcode span');
  t.same(got.spans[0].attributes, Object.fromEntries(attributes));
  t.same(got.resource, { 'service.name': 'kong' });
  t.same(got.scope, SCOPE);
});

t.test('attribute values of each type, ints negative and beyond 32 bits', async (t) => {
  const attributes = [
    ['status', { int: 200 }],
    ['negative', { int: -1 }],
    ['large', { int: 2 ** 40 + 3 }],
    ['ratio', 0.25],
    ['flag', true],
    ['off', false],
  ] as const;
  const [got] = decode(encodeTraces([span({ attributes })], [], SCOPE));
  t.same(got.spans[0].attributes, { status: { int: 200 }, negative: { int: -1 }, large: { int: 2 ** 40 + 3 }, ratio: 0.25, flag: true, off: false });
});

t.test('times are the clock origin plus the span time, carried across 32 bits, before the origin too', async (t) => {
  const times = [0, 1, -1_000_000, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345, 86_400 * 1e9 * 100];
  const spans = times.map((ns) => span({ startNs: ns, endNs: ns + 7 }));
  const [got] = decode(encodeTraces(spans, [], SCOPE));
  t.same(
    got.spans.map((s) => [s.start, s.end]),
    times.map((ns) => [ORIGIN_NS + BigInt(ns), ORIGIN_NS + BigInt(ns) + 7n]),
  );
  // A wall-clock time and the monotonic clock agree with the wall clock.
  const now = Date.now();
  const [fromMs] = decode(encodeTraces([span({ startNs: msToNs(now), endNs: nowNs() })], [], SCOPE));
  t.equal(fromMs.spans[0].start, BigInt(now) * 1_000_000n);
  const drift = Number(fromMs.spans[0].end - BigInt(Date.now()) * 1_000_000n) / 1e6;
  t.ok(Math.abs(drift) < 1000, 'the monotonic clock is anchored to the wall clock');
});

t.test("ids as Kong's formatter sizes them: zeros on the left, or the low-order bytes", async (t) => {
  const spans = [
    span({ traceId: 'abc', spanId: '1', parentSpanId: '0000000000000002' }),
    span({ traceId: `ffff${TRACE}`, spanId: 'aaaaaaaaaaaaaaaa0123456789abcdef' }),
    span({ traceId: '463ac35c9f6413ad', spanId: 'b7ad6b7169203331' }),
  ];
  const got = decode(encodeTraces(spans, [], SCOPE))[0].spans;
  t.same(
    got.map((s) => [s.traceId, s.spanId, s.parentSpanId]),
    [
      ['00000000000000000000000000000abc', '0000000000000001', '0000000000000002'],
      [TRACE, '0123456789abcdef', ''],
      ['0000000000000000463ac35c9f6413ad', 'b7ad6b7169203331', ''],
    ],
  );
});

t.test('large batches: lengths of two and three bytes, and a batch encoded after a larger one', async (t) => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      span({ spanId: i.toString(16).padStart(16, '0'), name: `span ${i}`, kind: SPAN_KIND.internal, attributes: [['http.url', `http://example.test/${'p'.repeat(i % 300)}`]], statusCode: i % 2 === 0 ? 2 : undefined }),
    );
  const big = encodeTraces(many(2000), [], SCOPE);
  t.ok(big.length > 16_384 * 10, 'the batch needs a three-byte length');
  const small = encodeTraces(many(3), [], SCOPE);
  for (const [body, n] of [
    [big, 2000],
    [small, 3],
  ] as const) {
    const spans = decode(body)[0].spans;
    t.equal(spans.length, n);
    t.same(
      spans.map((s) => [s.spanId, s.name, s.status, s.attributes['http.url']]),
      many(n).map((s, i) => [s.spanId, `span ${i}`, i % 2 === 0 ? 2 : 0, `http://example.test/${'p'.repeat(i % 300)}`]),
    );
  }
});

t.test('spans encoded one by one when queued make the same batch as the spans themselves', async (t) => {
  const spans = Array.from({ length: 50 }, (_, i) =>
    span({ spanId: (i + 1).toString(16).padStart(16, '0'), name: `span ${i} ${'é'.repeat(i)}`, attributes: [['http.url', `http://example.test/${'p'.repeat(i * 5)}`]], statusCode: i % 3 === 0 ? 2 : undefined }),
  );
  // Each encoding is copied at once, as the queue does: encodeSpan reuses its buffer.
  const queued = spans.map((s) => Buffer.from(encodeSpan(s)));
  t.same(encodeTraces(queued, [['service.name', 'kong']], SCOPE), encodeTraces(spans, [['service.name', 'kong']], SCOPE));
  t.same(decode(encodeTraces(queued, [], SCOPE))[0].spans.map((s) => s.name), spans.map((s) => s.name));
});
