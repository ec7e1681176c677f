import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { extract, inject, propagationOf, type Outgoing } from '../../src/tracing/propagation';

// Kong's extractors and injectors, kong/observability/tracing/propagation/{extractors,injectors}/<format>.lua.
const DIR = 'kong/observability/tracing/propagation';
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const PARENT = '00f067aa0ba902b7';
const all = propagationOf(undefined, undefined, { extract: ['b3', 'w3c', 'jaeger', 'ot', 'aws', 'gcp'], default_format: 'w3c' });
const got = (h: IncomingHttpHeaders) => extract(all, h);

t.test(`${DIR}/extractors/jaeger.lua`, async (t) => {
  t.same(got({ 'uber-trace-id': `${TRACE}:${SPAN}:${PARENT}:1` }), { format: 'jaeger', ctx: { traceId: TRACE, spanId: SPAN, parentId: PARENT, sampled: true } });
  t.same(got({ 'uber-trace-id': `abc:${SPAN}:0:0` })?.ctx, { traceId: `${'0'.repeat(28)}0abc`, spanId: SPAN, parentId: undefined, sampled: false }, 'a short id is padded');
  t.same(got({ 'uber-trace-id': `${TRACE}:${SPAN}:0:3` })?.ctx.sampled, true, 'the low bit of the flags');
  for (const bad of [`0:${SPAN}:0:1`, `${TRACE}:0:0:1`, `${TRACE}1:${SPAN}:0:1`, `${TRACE}:${SPAN}:0:100`, `${TRACE}:${SPAN}:1`, 'x']) {
    t.equal(got({ 'uber-trace-id': bad }), undefined, `invalid: ${bad}`);
  }
});

t.test(`${DIR}/extractors/ot.lua`, async (t) => {
  t.same(got({ 'ot-tracer-traceid': TRACE, 'ot-tracer-spanid': SPAN, 'ot-tracer-sampled': 'true' })?.ctx, { traceId: TRACE, parentId: SPAN, sampled: true });
  t.same(got({ 'ot-tracer-traceid': TRACE, 'ot-tracer-spanid': 'short' })?.ctx, {}, 'one invalid id voids both');
  t.same(got({ 'ot-tracer-sampled': '0' }), { format: 'ot', ctx: { sampled: false } }, 'a sampling decision alone');
});

t.test(`${DIR}/extractors/aws.lua`, async (t) => {
  const root = `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)}`;
  t.same(got({ 'x-amzn-trace-id': `${root};Parent=${SPAN};Sampled=1` })?.ctx, { traceId: TRACE, parentId: SPAN, sampled: true });
  t.same(got({ 'x-amzn-trace-id': ` Self=1-x ; ${root} ;Parent=${SPAN}` })?.ctx, { traceId: TRACE, parentId: SPAN }, 'spaces and other keys');
  for (const bad of [`Root=2-${TRACE.slice(0, 8)}-${TRACE.slice(8)}`, `${root}x`, `${root};Parent=12`, `${root};Sampled=2`]) {
    t.equal(got({ 'x-amzn-trace-id': bad }), undefined, `invalid: ${bad}`);
  }
});

t.test(`${DIR}/extractors/gcp.lua`, async (t) => {
  t.same(got({ 'x-cloud-trace-context': `${TRACE}/${BigInt(`0x${SPAN}`)};o=1` })?.ctx, { traceId: TRACE, parentId: SPAN, sampled: true });
  t.same(got({ 'x-cloud-trace-context': `${TRACE}/1` })?.ctx, { traceId: TRACE, parentId: '0000000000000001', sampled: false }, 'no ;o= is unsampled');
  t.equal(got({ 'x-cloud-trace-context': `${TRACE.toUpperCase()}/1` }), undefined, 'lower-case hex only');
});

t.test(`${DIR}/init.lua: the first format found in the extract order wins`, async (t) => {
  const h = { 'uber-trace-id': `${TRACE}:${SPAN}:0:1`, traceparent: `00-${'1'.repeat(32)}-${SPAN}-01` };
  t.equal(got(h)?.format, 'w3c');
  t.equal(extract(propagationOf(undefined, undefined, { extract: ['jaeger', 'w3c'], default_format: 'w3c' }), h)?.format, 'jaeger');
  t.same(propagationOf('preserve', undefined, { default_format: 'w3c' }).extract, ['b3', 'w3c', 'jaeger', 'ot', 'aws', 'gcp'], "header_type: Kong's order without datadog and instana");
});

t.test(`${DIR}/injectors: each format's headers, 8-byte trace ids kept where allowed, the trace ids written`, async (t) => {
  const out: Outgoing = { traceId: 'a'.repeat(16), spanId: SPAN, parentId: PARENT, sampled: false, debug: false };
  const h: IncomingHttpHeaders = { 'x-old': '1' };
  const p = propagationOf(undefined, undefined, { inject: ['jaeger', 'ot', 'aws', 'gcp', 'w3c', 'b3-single'], clear: ['X-Old'], default_format: 'w3c' });
  const ids = inject(p, undefined, out, h);
  const long = `${'0'.repeat(16)}${'a'.repeat(16)}`;
  t.same(h, {
    'uber-trace-id': `${'a'.repeat(16)}:${SPAN}:${PARENT}:00`,
    'ot-tracer-traceid': 'a'.repeat(16),
    'ot-tracer-spanid': SPAN,
    'ot-tracer-sampled': '0',
    'x-amzn-trace-id': `Root=1-00000000-00000000${'a'.repeat(16)};Parent=${SPAN};Sampled=0`,
    'x-cloud-trace-context': `${long}/${BigInt(`0x${SPAN}`)};o=0`,
    traceparent: `00-${long}-${SPAN}-00`,
    b3: `${'a'.repeat(16)}-${SPAN}-0-${PARENT}`,
  });
  t.same(ids, { jaeger: 'a'.repeat(16), ot: 'a'.repeat(16), aws: long, gcp: long, w3c: long, b3: 'a'.repeat(16) });
  t.equal(inject(propagationOf(undefined, undefined, { clear: ['x'], default_format: 'w3c' }), undefined, out, {}), undefined, 'nothing injected: no trace_id');
  const none: IncomingHttpHeaders = {};
  inject(p, undefined, { ...out, parentId: undefined }, none);
  t.equal(none['uber-trace-id'], `${'a'.repeat(16)}:${SPAN}:0:00`, 'jaeger without a parent: 0');
});
