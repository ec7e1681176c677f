#!/usr/bin/env node
'use strict';
// Instructions per request of a gateway, counted by valgrind (callgrind): deterministic where CPU time on a shared
// machine is not. The gateway runs under valgrind; after a warm-up, batches of requests are sent on keep-alive
// connections and the instructions executed (all threads) are dumped after each batch.
//
//   node bench/instructions.js [--case a|b|c|d|log|log-prom|otel|baseline|pipe|undici|fg|fg-key|nginx] [--requests N] [--batches K] [--warmup W]
//                              [--obs] [--log-only] [--metrics-only] [--keep] [--native | --syscalls | --cpu-prof] [--simulate]
//                              [--idle S] [--node-args "FLAGS"]
//
// --case: the benchmark case whose config and requests are used (default a), or a peer of bench/servers.js instead of
// the gateway, so that a case's count can be compared with the peer's: `baseline` (the bare http-proxy), `pipe`,
// `undici`, `fg` (fast-gateway, case (a)'s requests) or `fg-key` (fast-gateway with an apikey check, case (b)'s); or
// `nginx`: nginx as the same proxy (bench/nginx.js; needs nginx installed), for the distance to a C proxy.
// Needs valgrind. Prints one line per batch (instructions per request, all threads and the main thread alone) and their medians. With --native, the gateway
// runs without valgrind and each batch reports its CPU time per request from /proc, split into user and system
// (callgrind counts user-space instructions only: system time is what it cannot see). --cpu-prof: the same, with the
// gateway under `node --cpu-prof` (warm-up included); the profile is kept for bench/profile-summary.js. --syscalls: the same, with
// strace counting the process's system calls per request over the batches (needs strace). --simulate: callgrind
// also simulates the caches and branch predictors and prints each batch's misses and mispredictions per request.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const configs = require('./configs');
const nginx = require('./nginx');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const REQUESTS = opt('--requests', 2000);
const BATCHES = opt('--batches', 3);
const WARMUP = opt('--warmup', 3000);
// --idle S: after the batches, S seconds without requests, then the same batches again (what idling costs after).
const IDLE_S = opt('--idle', 0);
// --node-args "FLAGS": V8/Node flags for the server's node (e.g. --no-flush-bytecode), split on spaces.
const nodeArgsIndex = args.indexOf('--node-args');
const NODE_ARGS = nodeArgsIndex === -1 ? [] : args[nodeArgsIndex + 1].split(' ').filter(Boolean);
const CONNECTIONS = 8;
const log = args.includes('--obs') || args.includes('--log-only');
const metrics = args.includes('--obs') || args.includes('--metrics-only');
const caseIndex = args.indexOf('--case');
const CASE = caseIndex === -1 ? 'a' : args[caseIndex + 1];
const CASE_CONFIGS = {
  a: configs.plain,
  b: configs.keyAuth,
  c: configs.keyAuthAclRateLimit,
  d: configs.basicAuth,
  log: configs.httpLog,
  'log-prom': configs.prometheusHttpLog,
  otel: configs.openTelemetry,
};
// Peers: bench/servers.js's server, and the case whose requests it is sent.
const PEERS = {
  baseline: { server: 'http-proxy', config: configs.plain },
  pipe: { server: 'pipe', config: configs.plain },
  undici: { server: 'undici', config: configs.plain },
  fg: { server: 'fast-gateway', config: configs.plain },
  'fg-key': { server: 'fast-gateway-key', config: configs.keyAuth },
};
const PEER = Object.hasOwn(PEERS, CASE) ? PEERS[CASE] : undefined;
if (PEER === undefined && CASE !== 'nginx' && !CASE_CONFIGS[CASE]) throw new Error(`--case: one of ${[...Object.keys(CASE_CONFIGS), ...Object.keys(PEERS), 'nginx'].join(', ')}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-instr-'));
const bin = process.env.BENCH_GATEWAY_BIN ?? path.join(__dirname, '..', 'bin', 'gateway');

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function freePort() {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Sends `count` requests on CONNECTIONS keep-alive connections, rotating over `requests` (the case's shapes). */
function send(agent, port, count, requests) {
  let left = count;
  let next = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const { method, path: url, headers } = requests[next++ % requests.length];
      const req = http.request({ host: '127.0.0.1', port, method, path: url, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  return Promise.all(Array.from({ length: CONNECTIONS }, worker));
}

const syscalls = args.includes('--syscalls');
const simulate = args.includes('--simulate');
// First-level instruction and data misses (reads, writes), last-level misses of each, and mispredicted
// conditional and indirect branches.
const SIMULATED = ['I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw', 'Bcm', 'Bim'];
const cpuProfile = args.includes('--cpu-prof');
const native = args.includes('--native') || syscalls || cpuProfile;
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
let lastCpu = [0, 0];

/** User and system CPU µs the process used since the previous call. */
function cpuSince(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const now = [Number(fields[11]) * TICK_US, Number(fields[12]) * TICK_US];
  const delta = [now[0] - lastCpu[0], now[1] - lastCpu[1]];
  lastCpu = now;
  return delta;
}

/**
 * Events counted since the previous dump (all threads): { Ir, and with --cache-sim the simulated cache misses },
 * and `threadIr`: the instructions of the threads other than the main one (V8's compiler and GC helpers, the libuv
 * pool). In short runs they are mostly JIT compilation, which moves from run to run; the main thread's count is
 * the steadier figure for comparing two builds.
 */
function dumpTotals(pid, outBase) {
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(outBase) + '.') && /\.\d+$/.test(f));
  files.sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const file = path.join(dir, files[files.length - 1]);
  const text = fs.readFileSync(file, 'utf8');
  const names = /^events:\s*(.+)$/m.exec(text)[1].trim().split(/\s+/);
  const values = /^(?:summary|totals):\s*(.+)$/m.exec(text)[1].trim().split(/\s+/).map(Number);
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', file], { maxBuffer: 64 * 1024 * 1024 }).toString();
  const threads = /^\s*([\d,]+)\s.*:start_thread\b/m.exec(annotated);
  return { ...Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0])), threadIr: threads === null ? 0 : Number(threads[1].replace(/,/g, '')) };
}

/**
 * strace attached to every thread of `pid` counting system calls until stop(requests), which prints them per
 * request. Slows the process down (the CPU times printed meanwhile mean nothing), not what it calls.
 */
async function traceSyscalls(pid) {
  const out = path.join(dir, 'strace.txt');
  const strace = spawn('strace', ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let attached = '';
  await new Promise((resolve, reject) => {
    strace.on('error', reject);
    strace.stderr.on('data', (d) => {
      attached += d;
      if (/attached/.test(attached)) resolve();
    });
    setTimeout(resolve, 2000);
  });
  await new Promise((r) => setTimeout(r, 200)); // every thread attached
  return {
    async stop(requests) {
      strace.kill('SIGINT');
      await new Promise((r) => strace.once('exit', r));
      const rows = [];
      for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
        const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
        if (m && m[2] !== 'total') rows.push([m[2], Number(m[1]) / requests]);
      }
      rows.sort((a, b) => b[1] - a[1]);
      const total = rows.reduce((t, r) => t + r[1], 0);
      return `system calls/request ${total.toFixed(2)}: ${rows.filter((r) => r[1] >= 0.01).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(', ')}`;
    },
  };
}

async function main() {
  // Idle connections kept as long as the proxies keep theirs: a bare http-proxy has no retry when one closes.
  const upstream = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    res.end('ok');
  });
  const upstreamPort = await listen(upstream);
  // Where http-log and opentelemetry send their batches: answers 200 to anything, counts what it got.
  let collected = 0;
  const collector = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.on('data', (d) => (collected += d.length));
    req.on('end', () => res.end());
  });
  const collectorPort = await listen(collector);
  const { config, requests } = (PEER?.config ?? CASE_CONFIGS[CASE] ?? configs.plain)({ upstreamPort, collectorPort });
  const confFile = path.join(dir, 'kong.yml');
  fs.writeFileSync(confFile, configs.configText(config));
  fs.mkdirSync(path.join(dir, 'log'));
  let port = await freePort();
  let serverArgs = [bin, 'start', '-c', confFile, '--proxy-listen', `127.0.0.1:${port}`, '--admin-listen', 'off', '--access-log', 'off'];
  if (log) serverArgs.push('--access-log', path.join(dir, 'log', 'access.log'));
  if (metrics) serverArgs.push('--admin-listen', '127.0.0.1:0');
  if (log && !metrics) serverArgs.push('--no-metrics');
  if (PEER !== undefined) {
    serverArgs = [path.join(__dirname, 'servers.js'), PEER.server, '--target', String(upstreamPort)];
    port = undefined; // printed by the server once it listens
  }
  let command = [process.execPath, ...NODE_ARGS, ...serverArgs];
  let nginxPrefix;
  if (CASE === 'nginx') {
    const binary = nginx.nginxBinary();
    if (binary === undefined) throw new Error('--case nginx: nginx is not installed');
    ({ prefix: nginxPrefix, command } = nginx.nginxCommand(binary, port, upstreamPort));
  }
  const outBase = path.join(dir, 'callgrind.out');
  const child = native
    ? spawn(command[0], [...(cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), ...command.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(
        'valgrind',
        ['--tool=callgrind', ...(simulate ? ['--cache-sim=yes', '--branch-sim=yes'] : []), `--callgrind-out-file=${outBase}`, '--dump-instr=no', '--compress-strings=no', ...command],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  let agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  for (let i = 0; ; i++) {
    port ??= Number(/\{"port":(\d+)\}/.exec(stdout)?.[1]) || undefined;
    try {
      if (port === undefined) throw new Error('not listening yet');
      await send(agent, port, 1, requests);
      break;
    } catch {
      if (i > 2400 || child.exitCode !== null) throw new Error(`gateway did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await send(agent, port, WARMUP, requests);
  const tracer = syscalls ? await traceSyscalls(child.pid) : undefined;
  if (native) cpuSince(child.pid);
  else dumpTotals(child.pid, outBase); // each dump counts from the one before
  const perRequest = [];
  const mainPerRequest = [];
  for (let b = 0; b < BATCHES * (IDLE_S > 0 ? 2 : 1); b++) {
    if (IDLE_S > 0 && b === BATCHES) {
      await new Promise((r) => setTimeout(r, IDLE_S * 1000));
      // New connections, as clients coming back after a pause open: the gateway may close the idle ones (after
      // 60 s) just as a request is sent on them.
      agent.destroy();
      agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      if (native) cpuSince(child.pid);
      else console.log(`idle ${IDLE_S} s: ${(dumpTotals(child.pid, outBase).Ir / 1e6).toFixed(1)}M instructions while no request came; the same batches again:`);
      perRequest.length = 0; // the median is of the batches after the idle time
      mainPerRequest.length = 0;
    }
    await send(agent, port, REQUESTS, requests);
    if (native) {
      const [user, system] = cpuSince(child.pid);
      perRequest.push((user + system) / REQUESTS);
      console.log(`batch ${b + 1}: CPU µs/request ${((user + system) / REQUESTS).toFixed(1)} (user ${(user / REQUESTS).toFixed(1)}, system ${(system / REQUESTS).toFixed(1)})`);
      continue;
    }
    const totals = dumpTotals(child.pid, outBase);
    const per = (event) => totals[event] / REQUESTS;
    perRequest.push(per('Ir'));
    mainPerRequest.push(per('Ir') - per('threadIr'));
    const misses = simulate ? ` (simulated misses/request: ${SIMULATED.map((e) => `${e} ${per(e).toFixed(0)}`).join(', ')})` : '';
    console.log(`batch ${b + 1}: ${per('Ir').toFixed(0)} instructions/request, ${(per('Ir') - per('threadIr')).toFixed(0)} on the main thread${misses}`);
  }
  if (tracer !== undefined) console.log(await tracer.stop(REQUESTS * BATCHES * (IDLE_S > 0 ? 2 : 1)));
  perRequest.sort((a, b) => a - b);
  mainPerRequest.sort((a, b) => a - b);
  if (!native) console.log(`median on the main thread: ${mainPerRequest[Math.floor(mainPerRequest.length / 2)].toFixed(0)} instructions/request`);
  console.log(`median: ${perRequest[Math.floor(perRequest.length / 2)].toFixed(native ? 1 : 0)} ${native ? 'CPU µs' : 'instructions'}/request (case ${CASE}; ${log ? 'log ' : ''}${metrics ? 'metrics' : ''}${!log && !metrics ? 'no log, no metrics' : ''})`);
  agent.destroy();
  child.kill('SIGTERM');
  upstream.close();
  await new Promise((r) => child.once('exit', r));
  collector.close();
  if (collected > 0) console.log(`collector: ${collected} bytes received`);
  if (cpuProfile) console.log(`CPU profile (for bench/profile-summary.js): ${fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f)).join(', ')}`);
  if (args.includes('--keep')) console.log(`callgrind dumps (one per batch, for callgrind_annotate): ${dir}`);
  else if (cpuProfile) return;
  else fs.rmSync(dir, { recursive: true, force: true });
  if (nginxPrefix !== undefined) fs.rmSync(nginxPrefix, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
