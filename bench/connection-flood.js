'use strict';
// One address floods the proxy with idle connections while another sends requests:
//   node bench/connection-flood.js [--connections 20000] [--requests 500] [--flooders 2] [--reopen] [-- GATEWAY FLAGS...]
// Starts an upstream and the gateway (bin/gateway start, so `dist/` must be built) on loopback. The client on
// 127.0.0.2 first sends --requests requests alone (the baseline, after as many to warm up), one after the other,
// each on a new connection. Then --flooders processes open --connections idle connections from 127.0.0.1 in all
// (split between them, each under its own descriptor limit), 256 at a time each, and keep them (--reopen: open a
// new one for each the gateway closes, for as long as the run lasts); meanwhile the client sends requests without pause; once
// that many were tried (and 2 s more), it sends --requests requests again while the flood is held. Prints one JSON line: the flood's attempts, connections held (at the end and at most), closed by the
// gateway and never accepted (in 5 s), the gateway's open descriptors, refusal metric and log lines, and the
// client's answers and latency (median, p99, ms) alone and during the flood.

const { spawn, fork } = require('node:child_process');
const { mkdtempSync, readdirSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');

const BIN = join(__dirname, '..', 'bin', 'gateway');

/**
 * A flooder: opens `count` connections from 127.0.0.1 to `port` and keeps them (`reopen`: opens a new one for each
 * that closes), at most `concurrency` being opened at a time. Calls `ramped` once `count` have been tried (and, unless `reopen`, have connected or failed).
 */
function flood(port, count, reopen, ramped, concurrency = 256) {
  const open = new Set();
  const n = { attempts: 0, refused: 0, unanswered: 0, maxHeld: 0 };
  let opening = 0;
  let said = false;
  const pump = () => {
    if (!said && n.attempts >= count && (reopen || opening === 0)) {
      said = true;
      ramped();
    }
    while (opening < concurrency && (reopen ? open.size + opening < count : n.attempts < count)) attempt();
  };
  const attempt = () => {
    opening++;
    n.attempts++;
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    let connecting = true;
    const connected = () => {
      if (!connecting) return false;
      connecting = false;
      opening--;
      return true;
    };
    let givenUp = false;
    const timer = setTimeout(() => {
      givenUp = true; // not accepted by the kernel in 5 s (backlog full)
      n.unanswered++;
      socket.destroy();
    }, 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      if (!connected()) return;
      open.add(socket);
      n.maxHeld = Math.max(n.maxHeld, open.size);
      pump();
    });
    socket.on('error', () => {});
    socket.resume(); // reads, so that a close after an answer (a header timeout's 408) is seen
    socket.once('close', () => {
      clearTimeout(timer);
      const wasOpen = open.delete(socket);
      if ((connected() && !givenUp) || wasOpen) n.refused++; // closed by the gateway (reset, or a timeout's 408)
      setImmediate(pump);
    });
  };
  pump();
  return () => ({ ...n, held: open.size });
}

if (process.argv[2] === '--flood') {
  // Says when `count` connections were tried, keeps flooding and reports whenever asked, until ended.
  const counts = flood(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === 'reopen', () => process.send('ramped'));
  process.on('message', () => process.send(counts()));
  return;
}

const percentile = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]);

/** Requests from 127.0.0.2, one after the other, each on a new connection: `n`, or until `done()`. */
async function client(port, n, done = () => false) {
  const latencies = [];
  const failures = {};
  for (let i = 0; i < n && !done(); i++) {
    const started = performance.now();
    const outcome = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', localAddress: '127.0.0.2', agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `status ${res.statusCode}`));
        res.on('error', (err) => resolve(err.code ?? err.message));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err) => resolve(err.code ?? err.message));
    });
    if (outcome === 'ok') latencies.push(performance.now() - started);
    else failures[outcome] = (failures[outcome] ?? 0) + 1;
  }
  latencies.sort((a, b) => a - b);
  const ms = (v) => (v === null ? null : Math.round(v * 100) / 100);
  return { ok: latencies.length, failures, median_ms: ms(percentile(latencies, 50)), p99_ms: ms(percentile(latencies, 99)) };
}

function startGateway(upstreamPort, flags) {
  const dir = mkdtempSync(join(tmpdir(), 'flood-'));
  const file = join(dir, 'kong.yml');
  writeFileSync(file, `_format_version: "3.0"\nservices:\n  - name: up\n    url: http://127.0.0.1:${upstreamPort}\n    routes: [{name: up, paths: [/]}]\n`);
  const args = [BIN, 'start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--access-log', 'off', ...flags];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /"msg":"gateway listening","proxy":"[^"]*:(\d+)","admin":"[^"]*:(\d+)"[^\n]*?(?:"open_files_limit":(\d+))?}/.exec(stderr);
      if (m) resolve({ proc, proxyPort: Number(m[1]), adminPort: Number(m[2]), openFilesLimit: m[3] ? Number(m[3]) : null, logs: () => stderr });
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${stderr}`)));
  });
}

function refusedMetric(adminPort) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: adminPort, path: '/metrics', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const m = /^gateway_connections_refused_total (\d+)$/m.exec(body);
        resolve(m ? Number(m[1]) : null);
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

async function main() {
  const { values, positionals } = parseArgs({
    options: {
      connections: { type: 'string', default: '20000' },
      requests: { type: 'string', default: '500' },
      flooders: { type: 'string', default: '2' },
      reopen: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const connections = Number(values.connections);
  const requests = Number(values.requests);
  const flooders = Number(values.flooders);
  const upstream = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const gw = await startGateway(upstream.address().port, positionals);
  await client(gw.proxyPort, requests); // warm-up
  const alone = await client(gw.proxyPort, requests);

  const children = [];
  const started = performance.now();
  let ramped = false;
  const ramping = Promise.all(
    Array.from({ length: flooders }, (_, i) => {
      const share = Math.floor(connections / flooders) + (i < connections % flooders ? 1 : 0);
      const child = fork(__filename, ['--flood', String(gw.proxyPort), String(share), values.reopen ? 'reopen' : 'keep'], { stdio: 'inherit' });
      children.push(child);
      return new Promise((resolve) => child.once('message', resolve));
    }),
  ).then(() => (ramped = true));
  const duringRamp = await client(gw.proxyPort, Infinity, () => ramped);
  await ramping;
  const rampMs = Math.round(performance.now() - started);
  await new Promise((r) => setTimeout(r, 2000)); // the gateway catches up with what it accepted
  const during = await client(gw.proxyPort, requests);
  const results = await Promise.all(children.map((c) => new Promise((resolve) => (c.once('message', resolve), c.send('report')))));
  const gatewayFds = readdirSync(`/proc/${gw.proc.pid}/fd`).length;
  const refused = await refusedMetric(gw.adminPort);
  const sum = (k) => results.reduce((s, r) => s + r[k], 0);
  console.log(
    JSON.stringify({
      gateway_flags: positionals.join(' '),
      reopen: values.reopen,
      open_files_limit: gw.openFilesLimit,
      flood: {
        connections,
        ramp_ms: rampMs,
        attempts: sum('attempts'),
        held: sum('held'),
        max_held: sum('maxHeld'),
        closed_by_gateway: sum('refused'),
        never_accepted: sum('unanswered'),
      },
      gateway_open_fds: gatewayFds,
      gateway_connections_refused_total: refused,
      refusal_log_lines: (gw.logs().match(/connections refused: too many open from one address/g) ?? []).length,
      client_alone: alone,
      client_while_flood_opens: duringRamp,
      client_while_flood_held: during,
    }),
  );
  for (const c of children) c.kill();
  gw.proc.kill('SIGKILL');
  upstream.close();
  upstream.closeAllConnections();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
