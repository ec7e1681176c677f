'use strict';
// What the load side costs per request, per load generator: the CPU time of this process (the generator), of the
// upstream and of the proxy per request answered, for autocannon and for bench/raw-load.js in turn, against the
// baseline and a case's gateway. Pinned as npm run bench pins (proxy on CPU 0, this process and the upstream on
// the last CPU). Side by side only counts when the proxy core is the one that is full.
//
//   node bench/load-cost.js [--case c] [--rounds 3] [--duration 3] [--warmup 2] [--connections 50]

const { mkdtempSync, writeFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { parseArgs } = require('node:util');
const configs = require('./configs');
const { throughput } = require('./load');
const proc = require('./processes');

const CASES = { a: configs.plain, b: configs.keyAuth, c: configs.keyAuthAclRateLimit };

async function main() {
  if (proc.pinSelf()) return;
  const { values } = parseArgs({
    options: {
      case: { type: 'string', default: 'c' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'load-cost-'));
  const running = [];
  try {
    const upstream = await proc.startServer('upstream', proc.CORES.load);
    running.push(upstream);
    const generated = CASES[values.case]({ upstreamPort: upstream.port });
    const file = join(dir, 'kong.yml');
    writeFileSync(file, configs.configText(generated.config));
    const baseline = await proc.startServer('http-proxy', proc.CORES.proxy, upstream.port);
    running.push(baseline);
    const gateway = await proc.startGateway(file, proc.CORES.proxy, values.case);
    running.push(gateway);
    const opts = { connections: Number(values.connections), duration: Number(values.duration), warmup: Number(values.warmup) };
    /** CPU µs per request of this process, the upstream and the proxy, over the measured part. */
    const meter = (server) => () => {
      const self0 = process.cpuUsage();
      const up0 = proc.cpuSeconds(upstream.pid);
      const px0 = proc.cpuSeconds(server.pid);
      return (requests) => {
        const self = process.cpuUsage(self0);
        const per = (s) => ((s * 1e6) / requests).toFixed(1);
        return {
          generator_us: per((self.user + self.system) / 1e6),
          upstream_us: per(proc.cpuSeconds(upstream.pid) - up0),
          proxy_us: per(proc.cpuSeconds(server.pid) - px0),
        };
      };
    };
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const generator of ['autocannon', 'raw']) {
        for (const [name, server] of [['baseline', baseline], [values.case, gateway]]) {
          const r = await throughput(server.port, generated.requests, { ...opts, generator }, meter(server));
          console.log(`round ${round} ${generator.padEnd(10)} ${name.padEnd(8)} ${Math.round(r.rps)} req/s; per request: generator ${r.generator_us} µs, upstream ${r.upstream_us} µs, proxy ${r.proxy_us} µs; non-2xx ${r.non2xx}, errors ${r.errors}`);
        }
        // Both at once on the proxy core; this process times its own CPU over the pair.
        const idle0 = proc.cpuIdleSeconds(proc.CORES.proxy);
        const self0 = process.cpuUsage();
        const [b, g] = await Promise.all([baseline, gateway].map((s) => throughput(s.port, generated.requests, { ...opts, generator })));
        const idle1 = proc.cpuIdleSeconds(proc.CORES.proxy);
        const self = process.cpuUsage(self0);
        const busy = 1 - (idle1.idle - idle0.idle) / (idle1.total - idle0.total);
        const ownShare = (self.user + self.system) / 1e6 / (opts.duration + opts.warmup);
        console.log(`round ${round} ${generator.padEnd(10)} side by side ${Math.round(b.rps)} / ${Math.round(g.rps)} req/s (${((g.rps / b.rps) * 100).toFixed(1)}%), proxy core ${(busy * 100).toFixed(0)}% busy, generator ${(ownShare * 100).toFixed(0)}% of its core`);
      }
    }
  } finally {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
