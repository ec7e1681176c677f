'use strict';
// node bench/tls.js [--duration S] [--connections N] [--rounds N]
//
// TLS at the edge in one run, each server proxying to the same minimal upstream with the same ECDSA
// P-256 certificate (made here with the openssl CLI):
//   - the gateway (`127.0.0.1:0 ssl` and `127.0.0.1:0 ssl http2` listeners, one route, no plugins);
//   - the bare-Node baselines: node:https + pipe, node:http2 (compat API) + pipe;
//   - nginx (when installed) with `ssl` and `http2`.
// Three measures: HTTPS keep-alive over HTTP/1.1 (autocannon), over HTTP/2 (N sessions, M streams each, a request
// sent as soon as one completes), and new handshakes a second (TLS 1.3, no resumption, a few at a time).
// The gateway and the Node baseline are measured side by side (loaded at the same time, both on the proxy core, so
// the ratio of their rates is the ratio of their work), each measure once per round; a pair counts when the proxy
// core was busy ≥ 90 %. nginx is measured alone against the baseline alone (it answers several times more).
// The servers run on core 0 when taskset is there, the load and the upstream on the other core.

const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, writeFileSync, readFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const tls = require('node:tls');
const autocannon = require('autocannon');
const proc = require('./processes');

const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' } } });
const DURATION = Number(opts.duration);
const CONNECTIONS = Number(opts.connections);
const ROUNDS = Number(opts.rounds);
const dir = mkdtempSync(join(tmpdir(), 'bench-tls-'));

function certificate() {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test'], { cwd: dir, stdio: 'ignore' });
  return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
}

/** node:https / node:http2 + pipe to the upstream, in this process's child (same core as the gateway). */
const BASELINE = `
const http = require('node:http'), https = require('node:https'), http2 = require('node:http2'), fs = require('node:fs');
const [target, cert, key] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' });
const HOP = new Set(['connection','keep-alive','proxy-connection','transfer-encoding','te','trailer','upgrade','host']);
function pipe(req, res) {
  const headers = {};
  for (const n in req.headers) if (!HOP.has(n) && n[0] !== ':') headers[n] = req.headers[n];
  const out = http.request({ host: '127.0.0.1', port: Number(target), method: req.method, path: req.url, headers, agent }, (up) => {
    const h = {};
    for (const n in up.headers) if (!HOP.has(n)) h[n] = up.headers[n];
    res.writeHead(up.statusCode, h);
    up.pipe(res);
  });
  out.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(out);
}
const options = { cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: 'TLSv1.2' };
const h1 = https.createServer({ ...options, keepAliveTimeout: 60000 }, pipe).listen(0, '127.0.0.1', () => {
  const h2 = http2.createSecureServer({ ...options, allowHTTP1: true }, pipe).listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ h1: h1.address().port, h2: h2.address().port }));
  });
});`;

function startBaseline(upstreamPort, cert) {
  const child = proc.spawnOn(proc.PINNING ? '0' : undefined, ['-e', BASELINE, String(upstreamPort), cert.certFile, cert.keyFile]);
  return new Promise((resolve) => {
    child.stdout.once('data', (d) => resolve({ child, ...JSON.parse(String(d)) }));
  });
}

async function startNginx(upstreamPort, cert) {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const [h1, h2] = [await freePort(), await freePort()];
  const conf = `
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  ssl_certificate ${cert.certFile}; ssl_certificate_key ${cert.keyFile};
  ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:${h1} ssl; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:${h2} ssl http2; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn(proc.PINNING ? 'taskset' : 'nginx', proc.PINNING ? ['-c', '0', 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir] : ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  return { child, h1, h2 };
}

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function h1KeepAlive(port, duration = DURATION) {
  const result = await new Promise((resolve, reject) => {
    autocannon({ url: `https://127.0.0.1:${port}/`, connections: CONNECTIONS, duration, tlsOptions: { rejectUnauthorized: false, servername: 'bench.test' } }, (err, r) => (err ? reject(err) : resolve(r)));
  });
  if (result.errors + result.non2xx > 0) console.error('h1', port, 'errors', result.errors, 'non2xx', result.non2xx, 'timeouts', result.timeouts);
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

/**
 * HTTP/2: `sessions` connections with `streams` requests in flight on each, for DURATION seconds. A session the
 * server ends (nginx's GOAWAY after http2_max_requests) is replaced; `goaways` counts them.
 */
async function h2KeepAlive(port, sessions = 4, streams = 16) {
  const until = Date.now() + DURATION * 1000;
  let done = 0;
  let errors = 0;
  let goaways = 0;
  const open = () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'bench.test' });
    client.on('error', () => {});
    client.on('goaway', () => goaways++);
    return client;
  };
  const clients = Array.from({ length: sessions }, open);
  const loops = [];
  for (let s = 0; s < sessions; s++) {
    for (let i = 0; i < streams; i++) {
      loops.push((async () => {
        while (Date.now() < until) {
          if (clients[s].closed || clients[s].destroyed || clients[s].goawayCode !== undefined) clients[s] = open();
          await new Promise((resolve) => {
            let req;
            try {
              req = clients[s].request({ ':path': '/' });
            } catch {
              clients[s] = open();
              return resolve();
            }
            req.on('response', (h) => { if (h[':status'] !== 200) errors++; else done++; });
            req.on('data', () => {});
            req.on('end', resolve);
            req.on('error', () => resolve());
            req.end();
          });
        }
      })());
    }
  }
  await Promise.all(loops);
  for (const c of clients) c.close();
  return { rps: done / DURATION, errors, goaways };
}

/** New TLS 1.3 handshakes a second, `parallel` at a time, no session resumption. */
async function handshakes(port, parallel = 8) {
  const until = Date.now() + DURATION * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (Date.now() < until) {
      await new Promise((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'bench.test', rejectUnauthorized: false }, () => { done++; s.destroy(); resolve(); });
        s.on('error', (e) => { if (errors++ === 0) console.error('handshake error', e.code ?? e.message); resolve(); });
      });
    }
  }));
  return { perSecond: done / DURATION, errors };
}

/** Busy share of the proxy core between two readings of /proc/stat (undefined without pinning). */
function coreBusy(before, after) {
  return before && after ? 1 - (after.idle - before.idle) / (after.total - before.total) : undefined;
}

/**
 * One measure on the gateway and the Node baseline at the same time, both on the proxy core: each gets about half
 * of it, so the ratio of their rates is the ratio of their work per request (or handshake), whatever the core's
 * speed meanwhile. It counts only when the proxy core had no time to spare (otherwise the load side set the split).
 */
async function sideBySide(measure, rate, gateway, baseline) {
  const before = proc.PINNING ? proc.cpuIdleSeconds(proc.CORES.proxy) : undefined;
  const [g, b] = await Promise.all([measure(gateway), measure(baseline)]);
  const busy = coreBusy(before, proc.PINNING ? proc.cpuIdleSeconds(proc.CORES.proxy) : undefined);
  return { ratio: rate(g) / rate(b), busy, errors: g.errors + b.errors, counts: busy === undefined || busy >= 0.9 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');

const MEASURES = [
  { name: 'HTTPS keep-alive, HTTP/1.1', run: (s) => h1KeepAlive(s.h1), rate: (r) => r.rps },
  { name: 'HTTPS keep-alive, HTTP/2', run: (s) => h2KeepAlive(s.h2), rate: (r) => r.rps },
  { name: 'new TLS 1.3 handshakes (ECDSA P-256)', run: (s) => handshakes(s.h1), rate: (r) => r.perSecond },
];

// The load comes from one address and stands for many clients: the per-address connection cap (1024), which the
// baselines do not have, is off. With it on, runs have had every connection reset from some round on (the handshake
// and HTTP/2 measures reconnect at once and fast; what first pushed them past the cap is not known).
const GATEWAY_ARGS = (process.env.BENCH_TLS_GATEWAY_ARGS ?? '--max-connections-per-ip off').split(' ').filter(Boolean);

async function main() {
  // The harness (the load) runs on the last core, away from the servers; the pinned copy's exit ends this one.
  if (proc.pinSelf()) return new Promise(() => {});
  const cert = certificate();
  const upstream = await proc.startServer('upstream', proc.PINNING ? '1' : undefined);
  const configFile = join(dir, 'kong.yml');
  writeFileSync(configFile, `_format_version: "3.0"\nservices: [{name: up, url: "http://127.0.0.1:${upstream.port}", routes: [{name: r, paths: [/]}]}]\n`);
  const gateway = { h1: await freePort(), h2: await freePort() };
  const gw = await proc.startGateway(configFile, proc.PINNING ? '0' : undefined, 'tls', {
    args: ['--proxy-listen', `127.0.0.1:0, 127.0.0.1:${gateway.h1} ssl, 127.0.0.1:${gateway.h2} ssl http2`, '--ssl-cert', cert.certFile, '--ssl-cert-key', cert.keyFile, ...GATEWAY_ARGS],
  });
  const baseline = await startBaseline(upstream.port, cert);
  const nginx = await startNginx(upstream.port, cert);
  await Promise.all([h1KeepAlive(gateway.h1, 2), h1KeepAlive(baseline.h1, 2)]); // warm-up: the JIT, the upstream pools
  const results = MEASURES.map(() => ({ pairs: [], nginxOverBaseline: [] }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, m] of MEASURES.entries()) {
      const pair = await sideBySide(m.run, m.rate, gateway, baseline);
      results[i].pairs.push(pair);
      if (pair.errors > 0) console.error(`${m.name}: ${pair.errors} errors in round ${round + 1}`);
      if (nginx) {
        // nginx answers several times what Node does: measured alone, against the baseline measured alone.
        const b = m.rate(await m.run(baseline));
        const n = m.rate(await m.run(nginx));
        results[i].nginxOverBaseline.push(n / b);
      }
    }
  }
  const rows = MEASURES.map((m, i) => {
    const r = results[i];
    const counted = r.pairs.filter((p) => p.counts);
    const vsBaseline = median(counted.map((p) => p.ratio));
    return {
      measure: m.name,
      'gateway / node baseline, side by side': `${pct(vsBaseline)} (${counted.length}/${r.pairs.length})`,
      rounds: r.pairs.map((p) => `${pct(p.ratio)}${p.busy === undefined ? '' : ` @${(100 * p.busy).toFixed(0)}%`}`).join(', '),
      'gateway / nginx': nginx ? pct(vsBaseline / median(r.nginxOverBaseline)) : '–',
    };
  });
  console.table(rows);
  gw.stop?.();
  for (const p of [gw.proc, upstream.proc, baseline.child, nginx?.child]) p?.kill('SIGTERM');
}

main().then(() => setTimeout(() => process.exit(0), 200), (err) => {
  console.error(err);
  process.exit(1);
});
