'use strict';
// Why a case's slowest requests at a steady rate are slow: the gateway runs with a probe (--require) that reports
// every garbage collection (PerformanceObserver) and every event-loop gap over 2 ms, with wall-clock times; a paced
// client sends the case's requests at a fixed rate (bench/load.js, as npm run bench does), and each request slower
// than the threshold is matched with what the gateway was doing meanwhile. Pinned as npm run bench pins.
//
//   node bench/latency-probe.js [--case c] [--rate 1000] [--duration 10] [--warmup 5] [--slow-ms 1.5] [--node-args "FLAGS"]

const { mkdtempSync, writeFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { parseArgs } = require('node:util');
const configs = require('./configs');
const { paced, throughput } = require('./load');
const proc = require('./processes');

const CASES = { a: configs.plain, b: configs.keyAuth, c: configs.keyAuthAclRateLimit, 'c-norl': (p) => configs.keyAuthAclRateLimit({ ...p, rateLimiting: false }),
  log: configs.httpLog,
  // http-log to a port nothing listens on (the port of a server opened and closed at once)
  'log-down': (p) => configs.httpLog({ ...p, collectorPort: p.deadPort }),
};

// Loaded into the gateway with --require: one JSON line per GC and per event-loop gap on stdout.
const PROBE = `
const { PerformanceObserver, performance, constants: k } = require('node:perf_hooks');
const origin = performance.timeOrigin;
const KINDS = { [k.NODE_PERFORMANCE_GC_MAJOR]: 'major', [k.NODE_PERFORMANCE_GC_MINOR]: 'minor', [k.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [k.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) process.stdout.write(JSON.stringify({ gc: KINDS[e.detail?.kind ?? e.kind] ?? 'other', at: origin + e.startTime, ms: e.duration }) + '\\n');
}).observe({ entryTypes: ['gc'] });
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > 3) process.stdout.write(JSON.stringify({ gap: true, at: origin + last, ms: now - last - 1 }) + '\\n');
  last = now;
}, 1).unref();
`;

async function main() {
  if (proc.pinSelf()) return;
  const { values } = parseArgs({
    options: {
      case: { type: 'string', default: 'c' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '5' },
      'slow-ms': { type: 'string', default: '1.5' },
      'node-args': { type: 'string', default: '' },
      'no-gaps': { type: 'boolean', default: false },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'latency-probe-'));
  const running = [];
  try {
    const upstream = await proc.startServer('upstream', proc.CORES.load);
    running.push(upstream);
    const closed = require('node:http').createServer();
    await new Promise((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = closed.address().port;
    await new Promise((r) => closed.close(r));
    const generated = CASES[values.case]({ upstreamPort: upstream.port, deadPort });
    const file = join(dir, 'kong.yml');
    writeFileSync(file, configs.configText(generated.config));
    const probe = join(dir, 'probe.js');
    writeFileSync(probe, values['no-gaps'] ? PROBE.replace(/let last[\s\S]*$/, '') : PROBE);
    const nodeArgs = ['--require', probe, ...values['node-args'].split(' ').filter(Boolean)];
    const gw = await proc.startGateway(file, proc.CORES.proxy, values.case, { nodeArgs });
    running.push(gw);
    let out = '';
    gw.proc.stdout.on('data', (d) => (out += d));
    // Warm: full load for a few seconds (compiled code, caches), then the steady rate, not counted.
    await throughput(gw.port, generated.requests, { connections: 50, duration: Number(values.warmup), warmup: 0, generator: 'raw' });
    await paced(gw.port, generated.requests, { rate: Number(values.rate), duration: 2 });
    out = '';
    const { performance } = require('node:perf_hooks');
    const t0 = performance.timeOrigin + performance.now();
    const r = await paced(gw.port, generated.requests, { rate: Number(values.rate), duration: Number(values.duration) });
    await new Promise((res) => setTimeout(res, 200));
    const events = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.at >= t0 - 100);
    const gcs = events.filter((e) => e.gc);
    const gaps = events.filter((e) => e.gap);
    const slowMs = Number(values['slow-ms']);
    const slow = r.timeline.filter(([, ms]) => ms > slowMs).map(([issued, ms]) => ({ from: t0 + issued, to: t0 + issued + ms, ms }));
    const overlaps = (req, e) => e.at < req.to && e.at + e.ms > req.from;
    const byGc = slow.filter((s) => gcs.some((g) => overlaps(s, g)));
    const byGap = slow.filter((s) => !gcs.some((g) => overlaps(s, g)) && gaps.some((g) => overlaps(s, g)));
    const seconds = Number(values.duration);
    const kinds = {};
    for (const g of gcs) {
      const k = (kinds[g.gc] ??= { count: 0, total: 0, max: 0 });
      k.count++;
      k.total += g.ms;
      k.max = Math.max(k.max, g.ms);
    }
    console.log(`case ${values.case}, ${values.rate} req/s for ${seconds} s: p50 ${r.latency.p50.toFixed(3)} ms, p99 ${r.latency.p99.toFixed(3)} ms, max ${r.latency.max.toFixed(1)} ms; non-2xx ${r.non2xx}, errors ${r.errors}`);
    for (const [k, v] of Object.entries(kinds)) console.log(`  GC ${k}: ${(v.count / seconds).toFixed(2)}/s, mean ${(v.total / v.count).toFixed(2)} ms, max ${v.max.toFixed(2)} ms`);
    console.log(`  event-loop gaps over 3 ms: ${gaps.length} (longest ${gaps.reduce((m, g) => Math.max(m, g.ms), 0).toFixed(1)} ms)`);
    console.log(`  requests over ${slowMs} ms: ${slow.length} (${((slow.length / r.sent) * 100).toFixed(2)}%), during a GC ${byGc.length}, during another gap ${byGap.length}, neither ${slow.length - byGc.length - byGap.length}`);
    const stat = proc.cpuSeconds(gw.pid);
    console.log(`  gateway CPU so far ${stat?.toFixed(1)} s`);
  } finally {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
