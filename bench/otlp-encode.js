#!/usr/bin/env node
'use strict';
// Instructions per span of OTLP protobuf encoding: the gateway's own encoder (src/tracing/otlp.ts) against the
// OpenTelemetry project's serializer (@opentelemetry/otlp-transformer, a devDependency), on the spans the
// opentelemetry plugin makes for one request (kong, router, one plugin's access, balancer), in batches of 200.
// The package takes the SDK's ReadableSpan objects: building them from the plugin's spans is counted with it, as the
// request path would have to pay for it. Counted for two span counts, so that
// start-up cancels out (valgrind's callgrind: deterministic, where time on a shared machine is not):
//
//   node bench/otlp-encode.js            # runs both and prints instructions per span (needs valgrind)
//   node bench/otlp-encode.js ours|package N   # one run of N spans (what is counted)
//
// Both counts include building the test spans (the same work for both).
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const BATCH = 200;

function requestSpans(i) {
  const traceId = (i.toString(16).padStart(8, '0') + 'a'.repeat(24)).slice(0, 32);
  const root = `${i.toString(16).padStart(8, '0')}00000001`.slice(-16);
  const start = 1765076400000000000n + BigInt(i) * 1000000n;
  const child = (name, n, kind, attributes) => ({ traceId, spanId: `${root.slice(0, 14)}0${n}`, parentSpanId: root, name, kind, startNs: start + 1000n, endNs: start + 50000n, attributes });
  return [
    {
      traceId, spanId: root, parentSpanId: undefined, name: 'kong', kind: 2, startNs: start, endNs: start + 900000n,
      attributes: [
        ['http.method', 'GET'], ['http.url', 'http://api.example/orders?page=2'], ['http.host', 'api.example'], ['http.scheme', 'http'],
        ['http.flavor', '1.1'], ['http.client_ip', '203.0.113.9'], ['net.peer.ip', '203.0.113.9'], ['kong.request.id', 'c0ffee00c0ffee00c0ffee00c0ffee00'],
        ['http.status_code', { int: 200 }], ['http.route', '/orders'],
      ],
    },
    child('kong.router', 1, 1, []),
    child('kong.access.plugin.opentelemetry', 2, 1, []),
    child('kong.balancer', 3, 3, [['try_count', 1], ['net.peer.ip', '10.0.0.5'], ['net.peer.port', 8080], ['net.peer.name', '10.0.0.5']]),
  ];
}

const RESOURCE = [['service.name', 'kong'], ['service.instance.id', 'node-1'], ['service.version', '0.1.0']];
const SCOPE = { name: 'kong-internal', version: '0.1.0' };

function runOurs(n) {
  const { encodeTraces } = require(path.join(__dirname, '..', 'dist', 'tracing', 'otlp'));
  let batch = [];
  let bytes = 0;
  for (let i = 0; ; i++) {
    for (const s of requestSpans(i)) batch.push(s);
    if (batch.length >= BATCH) {
      bytes += encodeTraces(batch, RESOURCE, SCOPE).length;
      batch = [];
    }
    if ((i + 1) * 4 >= n) break;
  }
  return bytes;
}

function runPackage(n) {
  const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const resource = resourceFromAttributes(Object.fromEntries(RESOURCE));
  const hr = (ns) => [Number(ns / 1000000000n), Number(ns % 1000000000n)];
  const value = (v) => (typeof v === 'object' ? v.int : v);
  const readable = (s) => ({
    name: s.name,
    kind: s.kind - 1,
    spanContext: () => ({ traceId: s.traceId, spanId: s.spanId, traceFlags: 1 }),
    parentSpanContext: s.parentSpanId === undefined ? undefined : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1 },
    startTime: hr(s.startNs),
    endTime: hr(s.endNs),
    status: { code: 0 },
    attributes: Object.fromEntries(s.attributes.map(([k, v]) => [k, value(v)])),
    links: [],
    events: [],
    duration: hr(s.endNs - s.startNs),
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  });
  let batch = [];
  let bytes = 0;
  for (let i = 0; ; i++) {
    for (const s of requestSpans(i)) batch.push(readable(s));
    if (batch.length >= BATCH) {
      bytes += ProtobufTraceSerializer.serializeRequest(batch).length;
      batch = [];
    }
    if ((i + 1) * 4 >= n) break;
  }
  return bytes;
}

/** Instructions of one run of `n` spans, counted by valgrind's callgrind (all threads). */
function count(impl, n) {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, __filename, impl, String(n)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`valgrind: ${run.stderr}`);
  return Number(/Collected : (\d+)/.exec(run.stderr)[1]);
}

const [impl, n] = process.argv.slice(2);
if (impl !== undefined) {
  const bytes = impl === 'ours' ? runOurs(Number(n)) : runPackage(Number(n));
  if (bytes <= 0) throw new Error('nothing encoded');
} else {
  const LOW = 2_000;
  const HIGH = 22_000;
  for (const which of ['ours', 'package']) {
    const perSpan = (count(which, HIGH) - count(which, LOW)) / (HIGH - LOW);
    console.log(`${which === 'ours' ? 'src/tracing/otlp.ts' : '@opentelemetry/otlp-transformer'}: ${Math.round(perSpan)} instructions per span`);
  }
}
