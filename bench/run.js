'use strict';
// npm run bench [-- --rounds 5 --duration 5 --cases a,b,c,d,e,t,pipe,undici,fg,fg-key ...]
//
// Measures the gateway, and its peers (nginx, fast-gateway, other Node proxies), against a bare http-proxy
// (keep-alive agent) forwarding to the same minimal upstream, on loopback: the proxy under test on one core, the load generator and the upstream on the other (taskset).
// Rounds interleave baseline and target; the tables report medians. Writes bench-results/bench-<time>.json.
// Pairs of cases that differ by one feature (c and c-norl: rate limiting) also give that feature's cost.

const { mkdirSync, mkdtempSync, readFileSync, writeFileSync, statSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const { spawnSync } = require('node:child_process');
const { parseArgs } = require('node:util');
const http = require('node:http');

const configs = require('./configs');
const { throughput, paced } = require('./load');
const { encodable } = require('./raw-load');
const proc = require('./processes');
const report = require('./report');
const { UPSTREAM_BODY } = require('./servers');

const USAGE = `usage: npm run bench -- [options]
  --rounds N            rounds, each measuring baseline then target, for every target (default 5)
  --duration S          seconds of load per measurement (default 5)
  --warmup S            seconds of load before each measurement, not counted (default 2)
  --connections N       connections of the throughput load (default 50)
  --generator auto|raw|autocannon
                        the throughput load generator: autocannon, or bench/raw-load.js (pre-encoded requests,
                        a fraction of autocannon's work per request); auto (the default) takes raw for the cases
                        whose load side would otherwise fill its core before the proxies fill theirs (c, c-norl,
                        c-obs) and autocannon for the others
  --rate N              requests/s of the steady-load latency measurement (default 1000)
  --latency-duration S  seconds of the steady-load measurement (default 5; 0 skips it)
  --side-by-side on|off also load baseline and target at the same time, both on the proxy core, each round
                        (default on; one-worker cases a-d): the machine's ups and downs then hit both alike
  --fresh on|off        start the baseline and the target anew for each round's measurements, each warmed with
                        4 s of load first (default on; not for e and the observed cases): a process's own luck
                        (its memory layout, its JIT's choices) then varies between rounds instead of between runs
  --cases LIST          any of a,lb,b,c,d,e,jwt-hs256,jwt-rs256,jwt-rs256-new,hmac,t,log,log-prom,otel,nginx,pipe,undici,fg,
                        fg-key,c-norl,a-obs,c-obs (default: all; nginx is skipped when it is not installed). fg and
                        fg-key: fast-gateway bare and behind an apikey check (the peers of a and b). With nginx in the
                        run, every case is also given as a ratio to nginx (its ratio to http-proxy over nginx's)
  --workers LIST        worker counts for the gateway cases a-d, e.g. 1,2: a count N > 1 adds case <id>-wN,
                        the gateway started with --workers N on CPUs 0..N-1 (default 1)
  --consumers-e N       consumers in case (e) (default 100000)
  --cpu-prof            run the gateways under node --cpu-prof (profiles in bench-results/profiles/case-ID-TIME/,
                        summarize one with node bench/profile-summary.js FILE)
  --out FILE            JSON results (default bench-results/bench-<time>.json)
Environment: BENCH_GATEWAY_BIN=path/to/bin/gateway measures another checkout (before/after comparisons);
BENCH_OTHER_GATEWAY_BIN=path/to/bin/gateway[,…] adds cases a-other1, …: case (a) on those checkouts, in the same run.`;

/** The access log to a file and the Admin API on a free loopback port, its metrics on (the default). */
const observed = {
  gatewayArgs: (files) => ['--access-log', files.accessLog, '--admin-listen', '127.0.0.1:0'],
  check: checkAccessLogAndMetrics,
};
const withoutRateLimiting = (params) => configs.keyAuthAclRateLimit({ ...params, rateLimiting: false });

/** A key no consumer has: the key-checking peer must refuse it. */
const refusedKey = (params) => configs.keyAuth(params).requests.map((r) => ({ ...r, headers: Object.fromEntries(Object.keys(r.headers).map((name) => [name, 'not-a-key'])) }));

// rateLimited: whether the first request's response must carry the rate-limiting headers (true) or none (false).
// server: one of bench/servers.js's peers (or nginx), sent `requests` (default: case (a)'s); `refused`: requests it must
// answer 401.
const TARGETS = {
  nginx: { label: 'nginx, one process (C proxy, for scale)', server: 'nginx' },
  pipe: { label: 'node:http pipe (alternative)', server: 'pipe' },
  undici: { label: 'undici stream (alternative)', server: 'undici' },
  fg: { label: 'fast-gateway, every path proxied (Node peer of (a))', server: 'fast-gateway' },
  'fg-key': { label: 'fast-gateway + apikey check middleware (Node peer of (b))', server: 'fast-gateway-key', requests: configs.keyAuth, refused: refusedKey },
  a: { label: '(a) gateway, one route, no plugins', config: configs.plain },
  lb: { label: '(lb) upstream of 3 targets, round-robin', config: configs.balanced },
  b: { label: '(b) key-auth, one consumer', config: configs.keyAuth },
  c: { label: '(c) key-auth + acl + rate-limiting, 1000 consumers', config: configs.keyAuthAclRateLimit, rateLimited: true, generator: 'raw' },
  d: { label: '(d) basic-auth (bcrypt), cache warm', config: configs.basicAuth },
  e: { label: '(e) 100,000 consumers with keys', config: configs.manyConsumers },
  'jwt-hs256': { label: '(jwt) HS256, token reused', config: configs.jwtHs256 },
  'jwt-rs256': { label: '(jwt) RS256, token reused', config: configs.jwtRs256 },
  'jwt-rs256-new': { label: '(jwt) RS256, a new token every request', config: configs.jwtRs256New },
  hmac: { label: '(hmac) hmac-sha256', config: configs.hmacSha256 },
  t: { label: '(t) cors + request-transformer + response-transformer (headers)', config: configs.transforms, firstResponse: checkTransformHeaders },
  log: { label: '(log) http-log to a local collector, batches of 100', config: configs.httpLog },
  'log-down': { label: '(log-down) http-log to a collector that refuses connections', config: (p) => configs.httpLog({ ...p, collectorPort: p.collectors.down }) },
  'log-slow': { label: '(log-slow) http-log to a collector that answers after 5 s', config: (p) => configs.httpLog({ ...p, collectorPort: p.collectors.slow }) },
  'log-prom': { label: '(log-prom) prometheus + http-log to a local collector (target >= 90% of baseline)', config: configs.prometheusHttpLog },
  otel: { label: '(otel) opentelemetry, sampling 1.0, to a local collector (target >= 85% of baseline)', config: configs.openTelemetry },
  'c-norl': { label: '(c) without rate-limiting', config: withoutRateLimiting, rateLimited: false, generator: 'raw' },
  'a-obs': { label: '(a) with access log (file) and metrics', config: configs.plain, ...observed },
  'c-obs': { label: '(c) with access log (file) and metrics', config: configs.keyAuthAclRateLimit, rateLimited: true, generator: 'raw', ...observed },
};
/** What one feature costs: the case with it (on) against the same case without (off), when both ran. */
const COSTS = [
  { feature: 'local rate limiting', on: 'c', off: 'c-norl', target: 0.05 },
  { feature: 'access log + metrics', on: 'a-obs', off: 'a', target: 0.1 },
  { feature: 'access log + metrics, with (c)', on: 'c-obs', off: 'c', target: 0.1 },
];
for (const [i, bin] of (process.env.BENCH_OTHER_GATEWAY_BIN ?? '').split(',').filter(Boolean).entries()) {
  TARGETS[`a-other${i + 1}`] = { label: `(a) on ${bin}`, config: configs.plain, bin };
}
const BASELINE_LABEL = 'http-proxy, keep-alive agent (baseline)';

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      rate: { type: 'string', default: '1000' },
      'latency-duration': { type: 'string', default: '5' },
      'side-by-side': { type: 'string', default: 'on' },
      fresh: { type: 'string', default: 'on' },
      generator: { type: 'string', default: 'auto' },
      cases: { type: 'string', default: Object.keys(TARGETS).join(',') },
      'consumers-e': { type: 'string', default: '100000' },
      workers: { type: 'string', default: '1' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const num = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number ≥ ${min}, got '${values[name]}'`);
    return n;
  };
  const workers = values.workers.split(',').map(Number);
  if (workers.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`--workers: expected worker counts such as 1,2, got '${values.workers}'`);
  const cases = [];
  for (const c of values.cases.split(',').map((c) => c.trim()).filter(Boolean)) {
    if (!(c in TARGETS)) throw new Error(`--cases: unknown case '${c}' (known: ${Object.keys(TARGETS).join(', ')})`);
    const scalable = TARGETS[c].config !== undefined && c !== 'e' && !c.startsWith('a-other');
    for (const w of scalable ? workers : [1]) {
      if (w === 1) {
        cases.push(c);
        continue;
      }
      TARGETS[`${c}-w${w}`] = { ...TARGETS[c], label: `${TARGETS[c].label}, ${w} workers`, workers: w };
      cases.push(`${c}-w${w}`);
    }
  }
  return {
    rounds: num('rounds', 1),
    duration: num('duration', 1),
    warmup: num('warmup', 0),
    connections: num('connections', 1),
    rate: num('rate', 1),
    latencyDuration: num('latency-duration', 0),
    sideBySide: onOff(values['side-by-side'], 'side-by-side'),
    fresh: onOff(values.fresh, 'fresh'),
    generator: oneOf(values.generator, ['auto', 'raw', 'autocannon'], 'generator'),
    cases,
    consumersE: num('consumers-e', 1),
    out: values.out,
    cpuProf: values['cpu-prof'],
  };
}

function onOff(value, name) {
  if (value !== 'on' && value !== 'off') throw new Error(`--${name}: expected on or off, got '${value}'`);
  return value === 'on';
}

function oneOf(value, allowed, name) {
  if (!allowed.includes(value)) throw new Error(`--${name}: expected one of ${allowed.join(', ')}, got '${value}'`);
  return value;
}

/**
 * The throughput load generator of a case: --generator, or with auto the case's own (autocannon by default). A case
 * whose requests are rebuilt per request (jwt-rs256-new) stays on autocannon.
 */
function generatorFor(id, opts, requests) {
  const chosen = opts.generator !== 'auto' ? opts.generator : (TARGETS[id]?.generator ?? 'autocannon');
  return chosen === 'raw' && requests !== undefined && !encodable(requests) ? 'autocannon' : chosen;
}

/** Which cases ([id, requests] pairs) were loaded by which generator, in words for the report. */
function describeGenerators(cases, opts) {
  const by = {};
  for (const [id, requests] of cases) (by[generatorFor(id, opts, requests)] ??= []).push(id);
  const name = { raw: 'bench/raw-load.js (pre-encoded requests)', autocannon: 'autocannon' };
  return Object.entries(by).map(([g, list]) => `${name[g]} for ${list.join(', ')}`).join('; ');
}

function say(line) {
  process.stdout.write(`${line}\n`);
}

/** One request to `port`: [status, body, headers]. */
function get(port, r) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve([res.statusCode, body, res.headers]));
    });
    req.on('error', (err) => resolve([0, err.message, {}]));
    req.end();
  });
}

/**
 * Why a peer does not do the work it is measured for, or undefined: its first answer must carry the upstream's body
 * (a peer answering by itself would be measured doing less), and each `refused` request must get a 401 with JSON.
 */
async function peerAnswersWrong(port, firstBody, refused = []) {
  if (firstBody !== UPSTREAM_BODY) return `a first request got a body other than the upstream's: ${firstBody.slice(0, 200)}`;
  for (const r of refused) {
    const [status, body] = await get(port, r);
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      // not JSON: reported below
    }
    if (status !== 401 || typeof json?.message !== 'string') return `a request with a wrong key got ${status}: ${body.slice(0, 200)} (expected 401 with a JSON message)`;
  }
  return undefined;
}

/** Throws unless the response carries rate-limiting headers with the limit far from reached, or none when `expected` is false. */
function checkRateLimitHeaders(id, expected, headers) {
  const remaining = headers['x-ratelimit-remaining-second'];
  if (!expected) {
    if (remaining !== undefined) throw new Error(`(${id}) should not be rate limited, but answered X-RateLimit-Remaining-Second: ${remaining}`);
    return;
  }
  if (remaining === undefined) throw new Error(`(${id}) should be rate limited, but its response has no X-RateLimit-Remaining-Second`);
  if (!(Number(remaining) > configs.UNREACHABLE_LIMIT / 2)) throw new Error(`(${id}): X-RateLimit-Remaining-Second is ${remaining}, the limit should be out of reach`);
}

/** Throws unless the response shows cors and response-transformer at work (case t). */
function checkTransformHeaders(id, headers) {
  if (headers['access-control-allow-origin'] !== 'https://app.example') throw new Error(`(${id}) has no Access-Control-Allow-Origin from cors`);
  if (headers['x-served-by'] !== 'gateway') throw new Error(`(${id}) has no X-Served-By from response-transformer`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lines in a file (a missing file has none). */
function lineCount(file) {
  let text;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return 0;
  }
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The sum of every kong_http_requests_total sample of the gateway's /metrics. */
async function requestsCounted(gw) {
  const [status, text] = await get(gw.adminPort, { method: 'GET', path: '/metrics' });
  if (status !== 200) throw new Error(`GET /metrics on the Admin API answered ${status}`);
  let sum = 0;
  for (const m of text.matchAll(/^kong_http_requests_total\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

const LOG_SETTLE_MS = 5000;

/**
 * Observed cases must really log and count every request: the access log has one line per request the load
 * generators saw answered (at least; requests cut off when a measurement stops are logged too), and /metrics
 * counts exactly as many requests as there are lines. Lines are written in batches: waits for them to settle.
 */
async function checkAccessLogAndMetrics(t) {
  const deadline = Date.now() + LOG_SETTLE_MS;
  let lines;
  let counted;
  do {
    await sleep(100);
    counted = await requestsCounted(t.server);
    lines = lineCount(t.files.accessLog);
  } while (lines !== counted && Date.now() < deadline);
  if (lines !== counted) throw new Error(`access log and metrics disagree: ${lines} lines in ${t.files.accessLog}, /metrics counts ${counted} requests`);
  if (lines < t.answered) throw new Error(`${lines} access log lines for ${t.answered} requests answered: lines are missing`);
  return `${lines} access log lines = ${counted} requests in /metrics, ≥ ${t.answered} answered`;
}

/**
 * Collectors for the log-down and log-slow cases, started on first use in this (the load core's) process: a port
 * nothing listens on, and a server that holds every POST for 5 s before answering 200.
 */
function brokenCollectors() {
  let ports;
  const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  return async () => {
    if (ports) return ports;
    const closed = http.createServer();
    const down = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const slowServer = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end(), 5000).unref());
    });
    slowServer.unref();
    ports = { down, slow: await listen(slowServer) };
    return ports;
  };
}

/** Writes a case's config, validates it through the CLI and starts a gateway on it; or says why not. */
async function prepareGatewayCase(id, def, ctx) {
  const params = { upstreamPort: ctx.upstream.port, consumers: id === 'e' ? ctx.opts.consumersE : undefined, collectors: await ctx.collectors() };
  const generated = def.config(params);
  const file = join(ctx.dir, `case-${id}.yml`);
  writeFileSync(file, configs.configText(generated.config));
  const checked = proc.validateConfig(file);
  if (!checked.valid) {
    const shown = checked.issues.slice(0, 5).map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`).join('; ');
    return { skip: `its generated config is invalid: ${shown}` };
  }
  // One directory per case: Node names each thread's profile itself (bcrypt worker threads write their own).
  const nodeArgs = ctx.opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(proc.ROOT, 'bench-results', 'profiles', `case-${id}-${Date.now()}`)] : [];
  // Not beside the config: the gateway watches the config's directory, and every write there would wake it.
  const logDir = join(ctx.dir, `logs-${id}`);
  mkdirSync(logDir);
  const files = { accessLog: join(logDir, 'access.log') };
  const args = def.gatewayArgs?.(files) ?? [];
  const workers = def.workers ?? 1;
  const start = () => proc.startGateway(file, proc.gatewayCores(workers), id, { nodeArgs, bin: def.bin, args, workers });
  return { server: await start(), start, requests: generated.requests, file, files, config: generated.config, validateMs: checked.ms };
}

/** Seconds of load a process started for a round gets on top of the usual warm-up before its first measurement. */
const FRESH_WARMUP_S = 4;

/**
 * Whether a case's server may be started anew between rounds: not (e) (its reloads and memory are followed over the
 * run) nor a case whose check counts over the whole run (the observed cases' access log against their metrics).
 */
function restartable(id, t) {
  return t.start !== undefined && id !== 'e' && TARGETS[id].check === undefined;
}

/** In-process timing of each load step, in a fresh process per file. */
function timeConfigLoad(file, format) {
  const run = (...args) => {
    const r = spawnSync(process.execPath, [join(__dirname, 'config-load.js'), file, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`config-load failed for ${file}:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const offThread = run('--off-thread');
  return { format, mb: statSync(file).size / 1024 / 1024, ...run(), off_thread_ms: offThread.load_ms, off_thread_max_delay_ms: offThread.max_event_loop_delay_ms };
}

function measure(server, requests, ctx, generator, warmup = ctx.opts.warmup) {
  return throughput(server.port, requests, { ...ctx.opts, warmup, generator }, proc.cpuMeter(server.pid, [ctx.upstream.pid]));
}

/**
 * Baseline and target under load at the same time, pinned to the same core: each gets about half of it, so the
 * ratio of their requests/s is the ratio of their work per request, and whatever slows the machine meanwhile
 * slows both. Sequential measurements a few seconds apart differ by ±20–30% on a shared virtual machine.
 */
async function measureSideBySide(baseline, target, requests, ctx, generator) {
  const core = () => (proc.PINNING ? proc.cpuIdleSeconds(proc.CORES.proxy) : undefined);
  let before;
  const meter = (server) => {
    const inner = proc.cpuMeter(server.pid, [ctx.upstream.pid]);
    return () => {
      before ??= core(); // when the first of the two starts its measured part, after the warm-ups
      return inner();
    };
  };
  const [b, m] = await Promise.all([
    throughput(baseline.port, requests, { ...ctx.opts, generator }, meter(baseline)),
    throughput(target.port, requests, { ...ctx.opts, generator }, meter(target)),
  ]);
  const after = core();
  const busy = before && after ? 1 - (after.idle - before.idle) / (after.total - before.total) : undefined;
  return { baseline: b, target: m, proxy_core_busy: busy };
}

/**
 * Side by side only means something when both run on the one proxy core, as a one-worker gateway does. Not for
 * nginx: with half of the core it answers several times the baseline's requests, so the load generator's core
 * rather than the proxy core sets the split, and the run stays shorter without it.
 */
function sideBySideApplies(id) {
  return id !== 'e' && id !== 'nginx' && (TARGETS[id].workers ?? 1) === 1;
}

const RELOAD_GIVE_UP_S = 300;

/** The longest wait of a request while the gateway reloads its file (SIGHUP) under a steady load. */
async function reloadUnderLoad(target, ctx) {
  const gw = target.server;
  const logStart = gw.logs.length;
  let signalledAt;
  let finishedAt;
  const result = await paced(gw.port, target.requests, {
    rate: ctx.opts.rate,
    duration: RELOAD_GIVE_UP_S,
    until: (now) => {
      if (signalledAt === undefined && now >= 1000) {
        signalledAt = now;
        gw.proc.kill('SIGHUP');
      }
      if (finishedAt === undefined && signalledAt !== undefined && /"msg":"(config reloaded|config rejected)/.test(gw.logs.slice(logStart))) finishedAt = now;
      return finishedAt !== undefined && now >= finishedAt + 1000;
    },
  });
  const line = /\{[^\n]*"msg":"(config reloaded|config rejected)[^\n]*\}/.exec(gw.logs.slice(logStart));
  const logged = line ? JSON.parse(line[0]) : {};
  if (logged.msg !== 'config reloaded') throw new Error(`(e) reload failed: ${line ? line[0] : `no reload logged within ${RELOAD_GIVE_UP_S} s`}`);
  return {
    rate: ctx.opts.rate,
    reload_ms: logged.ms,
    max_latency_ms: result.latency.max,
    p99_ms: result.latency.p99,
    over_100ms: result.timeline.filter(([, ms]) => ms > 100).length,
    // When the slow ones were sent, from the SIGHUP, and how long they waited (ms): where in a reload they fall.
    slow: result.timeline.filter(([, ms]) => ms > 50).map(([issued, ms]) => [Math.round(issued - signalledAt), Math.round(ms)]),
    requests: result.sent,
    non2xx: result.non2xx + result.errors,
  };
}

async function main() {
  if (proc.pinSelf()) return;
  const opts = options();
  TARGETS.e.label = `(e) ${opts.consumersE.toLocaleString('en-US')} consumers with keys`;
  const started = new Date();
  const machine = proc.machine();
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  say(`# gateway benchmark, ${started.toISOString()}`);
  say(`machine: ${machine.cores} cores, ${machine.cpu}, node ${machine.node}, ${machine.platform}; pinning: ${machine.pinning}`);
  say(`rounds ${opts.rounds}, ${opts.duration} s per measurement after ${opts.warmup} s warm-up, ${opts.connections} connections (load generator: ${opts.generator}); steady load ${opts.rate} req/s for ${opts.latencyDuration} s`);

  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const running = [];
  // Interrupted: stop every server started, so none is left behind.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      for (const s of running) s.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const ctx = { opts, dir, collectors: brokenCollectors() };
  const skipped = {};
  const targets = {};
  let large;
  try {
    ctx.upstream = await proc.startServer('upstream', proc.CORES.load);
    running.push(ctx.upstream);
    const startBaseline = () => proc.startServer('http-proxy', proc.CORES.proxy, ctx.upstream.port);
    let baseline = await startBaseline();
    running.push(baseline);
    /** Stops `server` and starts its replacement in its place among the running ones. */
    const restart = async (server, start) => {
      await server.stop();
      const fresh = await start();
      running[running.indexOf(server)] = fresh;
      return fresh;
    };

    for (const id of opts.cases) {
      const def = TARGETS[id];
      say(`preparing ${def.label}`);
      let t;
      const requests = (def.requests ?? configs.plain)({ upstreamPort: ctx.upstream.port }).requests;
      if (def.server === 'nginx') {
        // No JIT and no warm-up to speak of: one process for the whole run (no `start`, never restarted).
        const server = await proc.startNginx(proc.CORES.proxy, ctx.upstream.port);
        t = server === undefined ? { skip: 'nginx is not installed (apt-get install nginx)' } : { server, requests };
      } else if (def.server) {
        const start = () => proc.startServer(def.server, proc.CORES.proxy, ctx.upstream.port);
        t = { server: await start(), start, requests };
      } else {
        t = await prepareGatewayCase(id, def, ctx);
      }
      if (t.skip) {
        skipped[id] = t.skip;
        say(`  skipped: ${t.skip}`);
        continue;
      }
      running.push(t.server);
      const [status, body, headers] = await get(t.server.port, t.requests[0]);
      if (status < 200 || status > 299) {
        skipped[id] = `a first request got ${status}: ${body.slice(0, 200)}`;
        say(`  skipped: ${skipped[id]}`);
        await t.server.stop();
        continue;
      }
      const wrong = def.server ? await peerAnswersWrong(t.server.port, body, def.refused?.({ upstreamPort: ctx.upstream.port })) : undefined;
      if (wrong !== undefined) {
        skipped[id] = wrong;
        say(`  skipped: ${wrong}`);
        await t.server.stop();
        continue;
      }
      if (def.rateLimited !== undefined) checkRateLimitHeaders(id, def.rateLimited, headers);
      def.firstResponse?.(id, headers);
      t.answered = 1;
      targets[id] = t;
    }

    if (targets.e) {
      // The same config as JSON: its loading is timed too, and a second gateway serves it for memory and reloads.
      say('(e): timing each load step in-process, YAML and JSON');
      const jsonFile = join(dir, 'case-e.json');
      writeFileSync(jsonFile, configs.configText(targets.e.config, 'json'));
      const yamlGateway = { server: targets.e.server, requests: targets.e.requests };
      const jsonGateway = { server: await proc.startGateway(jsonFile, proc.CORES.proxy, 'e-json'), requests: targets.e.requests };
      running.push(jsonGateway.server);
      large = {
        consumers: opts.consumersE,
        formats: {
          yaml: { gateway: yamlGateway, load: timeConfigLoad(targets.e.file, 'yaml'), validate_ms: targets.e.validateMs, reloads: [] },
          json: { gateway: jsonGateway, load: timeConfigLoad(jsonFile, 'json'), validate_ms: proc.validateConfig(jsonFile).ms, reloads: [] },
        },
      };
      for (const f of Object.values(large.formats)) {
        const m = proc.memoryMB(f.gateway.server.pid);
        f.rss_after_start_mb = m?.rss;
        f.peak_rss_start_mb = m?.peak;
      }
      delete targets.e.config; // 100,000 consumers as objects: not needed any more
    }

    const thr = {};
    const together = {};
    const lat = {};
    for (let round = 1; round <= opts.rounds; round++) {
      // Every other round runs the cases in reverse: a drift within rounds favours neither side of a pair.
      const order = round % 2 === 1 ? Object.entries(targets) : Object.entries(targets).reverse();
      for (const [id, t] of order) {
        process.stdout.write(`round ${round}/${opts.rounds} ${id}: `);
        const fresh = opts.fresh && restartable(id, t);
        if (fresh && round > 1) {
          baseline = await restart(baseline, startBaseline);
          t.server = await restart(t.server, t.start);
        }
        // A process started for this round warms up longer, each right before its own measurement: as warm as one
        // that served the earlier rounds (compiled code, caches filled: d's bcrypt results).
        const warmup = opts.warmup + (fresh ? FRESH_WARMUP_S : 0);
        // The same generator for the baseline and the target: both sides of a ratio get the same load.
        const generator = generatorFor(id, opts, t.requests);
        const b = await measure(baseline, t.requests, ctx, generator, warmup);
        const m = await measure(t.server, t.requests, ctx, generator, warmup);
        t.answered += m.warmup_requests + m.requests;
        (thr[id] ??= []).push({ baseline: b, target: m });
        process.stdout.write(`baseline ${Math.round(b.rps)} req/s, target ${Math.round(m.rps)} req/s (${((m.rps / b.rps) * 100).toFixed(1)}%)`);
        if (m.non2xx + m.errors > 0) process.stdout.write(` [${m.non2xx} non-2xx, ${m.errors} errors]`);
        // A refused request means the limit was reached: the case no longer measures counting alone.
        if (TARGETS[id].rateLimited && m.non2xx > 0) throw new Error(`(${id}) answered ${m.non2xx} requests with a non-2xx: the rate limit must stay out of reach`);
        if (opts.sideBySide && sideBySideApplies(id)) {
          const pair = await measureSideBySide(baseline, t.server, t.requests, ctx, generator);
          t.answered += pair.target.warmup_requests + pair.target.requests;
          (together[id] ??= []).push(pair);
          const busy = pair.proxy_core_busy === undefined ? '' : `, proxy core ${(pair.proxy_core_busy * 100).toFixed(0)}% busy`;
          process.stdout.write(`; side by side ${Math.round(pair.baseline.rps)} / ${Math.round(pair.target.rps)} req/s (${((pair.target.rps / pair.baseline.rps) * 100).toFixed(1)}%${busy})`);
        }
        if (opts.latencyDuration > 0) {
          const pace = { rate: opts.rate, duration: opts.latencyDuration };
          const bl = await paced(baseline.port, t.requests, pace, proc.cpuMeter(baseline.pid, [ctx.upstream.pid]));
          const ml = await paced(t.server.port, t.requests, pace, proc.cpuMeter(t.server.pid, [ctx.upstream.pid]));
          t.answered += ml.latency.count;
          delete bl.timeline;
          delete ml.timeline;
          (lat[id] ??= []).push({ baseline: bl, target: ml });
          process.stdout.write(`; at ${opts.rate} req/s p50 ${ml.latency.p50.toFixed(3)} ms (baseline ${bl.latency.p50.toFixed(3)})`);
        }
        if (id === 'e') {
          for (const [format, f] of Object.entries(large.formats)) {
            const r = await reloadUnderLoad(f.gateway, ctx);
            f.reloads.push(r);
            process.stdout.write(`; ${format} reload ${r.reload_ms} ms, longest wait ${r.max_latency_ms.toFixed(1)} ms`);
          }
        }
        if (TARGETS[id].check) process.stdout.write(`; checked: ${await TARGETS[id].check(t)}`);
        process.stdout.write('\n');
      }
    }
    if (large) {
      for (const f of Object.values(large.formats)) {
        const m = proc.memoryMB(f.gateway.server.pid);
        f.rss_after_reloads_mb = m?.rss;
        f.peak_rss_reloads_mb = m?.peak;
        delete f.gateway;
      }
    }

    const labels = Object.fromEntries(Object.keys(TARGETS).map((id) => [id, TARGETS[id].label]));
    const throughputSummary = report.summarizeThroughput(thr, together);
    const latencySummary = report.summarizeLatency(lat);
    const costSummary = report.summarizeCosts(thr, COSTS);
    const sections = [];
    const foreign = report.median(Object.values(throughputSummary).map((s) => s.foreign_cpu));
    sections.push(
      `Throughput, ${opts.connections} connections, median of ${opts.rounds} rounds (vs http-proxy (CPU): the baseline's CPU time per request over the target's${opts.sideBySide ? '; side by side: both loaded at the same time on the proxy core, median of the pairs that kept it ≥ 90% busy (n/rounds)' : ''}):\n\n` +
        `${report.throughputTable(throughputSummary, BASELINE_LABEL, labels)}\n\n` +
        (throughputSummary.nginx ? `vs nginx: each target's ratio to http-proxy over nginx's (both medians of per-round ratios to the baseline measured just before); (CPU): the same with CPU time per request.\n\n` : '') +
        `Load generator: ${describeGenerators(Object.keys(throughputSummary).map((id) => [id, targets[id]?.requests]), opts)}.\n\n` +
        `Other processes used ${Number.isFinite(foreign) ? foreign.toFixed(2) : '?'} cores on average while measuring${foreign > 0.1 ? ': requests/s are disturbed, CPU µs/req much less' : ''}.`,
    );
    if (costSummary.length > 0) {
      sections.push(
        `Cost of a feature: the case with it against the same case without, both measured in each round; ratios and differences per round, then the median of ${opts.rounds} rounds:\n\n` +
          report.costTable(costSummary),
      );
    }
    if (opts.latencyDuration > 0) sections.push(`At a steady ${opts.rate} req/s, median of ${opts.rounds} rounds (added: over the baseline measured just before; CPU µs/req at a fixed rate is the steadiest measure of the work per request):\n\n${report.latencyTable(latencySummary, BASELINE_LABEL, labels)}`);
    if (large) sections.push(report.largeConfigTable(large));
    const skippedLines = Object.entries(skipped).map(([id, why]) => `- ${TARGETS[id].label}: skipped, ${why}`);
    if (skippedLines.length > 0) sections.push(skippedLines.join('\n'));

    const header = `${started.toISOString().slice(0, 10)}, ${machine.cores} × ${machine.cpu}, node ${machine.node}, \`${command}\``;
    say(`\n${header}\n\n${sections.join('\n\n')}\n`);

    const out = opts.out ?? join(proc.ROOT, 'bench-results', `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify({ date: started.toISOString(), command, machine, options: opts, throughput: throughputSummary, costs: costSummary, latency: latencySummary, large_config: large, skipped, rounds: { throughput: thr, side_by_side: together, latency: lat } }, null, 2)}\n`,
    );
    say(`results written to ${out}`);
  } finally {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
