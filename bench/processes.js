'use strict';
// Child processes of the benchmark: spawned pinned to a core where taskset exists, their ports read from
// what they print, their CPU time and memory read from /proc.

const { spawn, spawnSync } = require('node:child_process');
const { readdirSync, readFileSync, rmSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');
const os = require('node:os');
const nginx = require('./nginx');

const ROOT = join(__dirname, '..');
// Another checkout's bin/gateway can be measured instead, for before/after comparisons.
const GATEWAY_BIN = process.env.BENCH_GATEWAY_BIN || join(ROOT, 'bin', 'gateway');
const SERVERS = join(__dirname, 'servers.js');
const CLOCK_TICKS = 100; // USER_HZ on Linux

const CPU_COUNT = os.cpus().length;

/** The core the proxy under test runs on, and the one for the load generator and upstream (the last one). */
const CORES = { proxy: 0, load: Math.max(1, CPU_COUNT - 1) };

/** The CPUs of a gateway with `workers` workers: 0..N-1, leaving the load's core alone unless there are only 2. */
function gatewayCores(workers) {
  const n = Math.min(workers, CPU_COUNT > 2 ? CPU_COUNT - 1 : CPU_COUNT);
  return n <= 1 ? CORES.proxy : `0-${n - 1}`;
}

function hasTaskset() {
  return process.platform === 'linux' && CPU_COUNT >= 2 && spawnSync('taskset', ['-V']).status === 0;
}

const PINNING = hasTaskset();

/** Runs `args` (a node command line) on `core` when pinning is possible. */
function spawnOn(core, args, opts = {}) {
  const [cmd, argv] = PINNING ? ['taskset', ['-c', String(core), process.execPath, ...args]] : [process.execPath, args];
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/**
 * Re-runs this script pinned to the load core unless it already is. Returns true when it did: this process
 * then only passes signals on and exits with the pinned run's status.
 */
function pinSelf() {
  if (!PINNING || process.env.BENCH_PINNED === '1') return false;
  const child = spawn('taskset', ['-c', String(CORES.load), process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
  return true;
}

/** Waits until `stream` prints a line matching `re`; resolves with the match. */
function waitForLine(proc, stream, re, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${seen}`)), timeoutMs);
    const onData = (d) => {
      seen += d;
      const m = re.exec(seen);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code) => fail(new Error(`${what} exited with ${code} before it was ready:\n${seen}`));
    const cleanup = () => {
      clearTimeout(timer);
      proc[stream].off('data', onData);
      proc.off('exit', onExit);
    };
    const fail = (err) => {
      cleanup();
      proc.kill('SIGKILL');
      reject(err);
    };
    proc[stream].on('data', onData);
    proc.once('exit', onExit);
  });
}

function handle(proc, port, name) {
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  // Keep the pipes drained: a full pipe would block the child.
  proc.stdout.resume();
  proc.stderr.resume();
  return {
    name,
    proc,
    port,
    pid: proc.pid,
    stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      proc.kill('SIGTERM');
      const force = setTimeout(() => proc.kill('SIGKILL'), 5000);
      return exited.then(() => clearTimeout(force));
    },
  };
}

/** Starts one of bench/servers.js's servers on `core`. */
async function startServer(kind, core, target) {
  const args = [SERVERS, kind];
  if (target !== undefined) args.push('--target', String(target));
  const proc = spawnOn(core, args);
  const m = await waitForLine(proc, 'stdout', /\{"port":(\d+)\}/, kind, 15_000);
  return handle(proc, Number(m[1]), kind);
}

/**
 * Starts nginx (bench/nginx.js) as a proxy to `upstreamPort` on `core`, or returns undefined when it is not
 * installed. Ready once its port accepts connections.
 */
async function startNginx(core, upstreamPort) {
  const binary = nginx.nginxBinary();
  if (binary === undefined) return undefined;
  const port = await nginx.freePort();
  const { prefix, command } = nginx.nginxCommand(binary, port, upstreamPort);
  const [cmd, argv] = PINNING ? ['taskset', ['-c', String(core), ...command]] : [command[0], command.slice(1)];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  proc.stderr.on('data', (d) => (errors += d));
  for (let i = 0; ; i++) {
    if (await accepts(port)) break;
    if (i > 150 || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`nginx did not start:\n${errors}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const server = handle(proc, port, 'nginx');
  const stop = server.stop;
  server.stop = () => stop().then(() => rmSync(prefix, { recursive: true, force: true }));
  return server;
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts the gateway through its CLI on `core` (a taskset CPU list), without Admin API or access log unless `args`
 * (more `start` options) turn them on: a repeated option's last value wins. `adminPort` is set when the Admin API
 * listens. `workers` > 1 starts it with `--workers`.
 */
async function startGateway(configFile, core, name, { nodeArgs = [], bin = GATEWAY_BIN, args = [], workers = 1 } = {}) {
  const workerArgs = workers > 1 ? ['--workers', String(workers)] : [];
  const cli = [bin, 'start', '-c', configFile, '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off', '--access-log', 'off', ...workerArgs, ...args];
  const proc = spawnOn(core, [...nodeArgs, ...cli]);
  const m = await waitForLine(proc, 'stderr', /"msg":"gateway listening","proxy":"[^"]*:(\d+)","admin":"(?:off|[^"]*:(\d+))"/, `gateway (${name})`, 180_000);
  const gw = handle(proc, Number(m[1]), name);
  gw.adminPort = m[2] === undefined ? undefined : Number(m[2]);
  gw.logs = '';
  proc.stderr.on('data', (d) => {
    gw.logs += d;
    if (gw.logs.length > 1_000_000) gw.logs = gw.logs.slice(-100_000);
  });
  return gw;
}

/** `gateway validate --format json FILE`: {valid, issues, ms} (ms: the whole command, node start included). */
function validateConfig(configFile) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [GATEWAY_BIN, 'validate', '--format', 'json', configFile], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`gateway validate printed no report (exit ${r.status}):\n${r.stderr}`);
  }
  return { valid: report.valid, issues: report.issues, ms };
}

/** CPU seconds (user + system) a process has used so far; undefined where /proc is missing. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The process and its direct children (a gateway's workers), from /proc. */
function processTree(pid) {
  const pids = [pid];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

/** CPU seconds used so far by a process and its children alive now (a gateway with workers counts whole). */
function treeCpuSeconds(pid) {
  return processTree(pid).reduce((sum, p) => sum + (cpuSeconds(p) ?? 0), 0);
}

/** Resident memory of a process in MB (VmRSS), and its peak (VmHWM). */
function memoryMB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Seconds all CPUs of the machine spent busy so far (/proc/stat); undefined where it is missing. */
function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest time is already in user)
    return (total - f[3] - f[4]) / CLOCK_TICKS; // minus idle and iowait
  } catch {
    return undefined;
  }
}

/** Idle and total seconds of one CPU so far (Linux /proc/stat), or undefined. */
function cpuIdleSeconds(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return { idle: (f[3] + f[4]) / CLOCK_TICKS, total: f.slice(0, 8).reduce((a, b) => a + b, 0) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/**
 * A meter for load.throughput: the proxy's CPU use (share of a core, and CPU µs per request: stable even
 * when the machine is busy) and how much CPU processes other than the benchmark's took meanwhile.
 */
function cpuMeter(proxyPid, otherOwnPids) {
  return () => {
    const own = () => treeCpuSeconds(proxyPid) + otherOwnPids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
    const self0 = process.cpuUsage();
    const proxy0 = treeCpuSeconds(proxyPid);
    const own0 = own();
    const busy0 = machineBusySeconds();
    const wall0 = process.hrtime.bigint();
    return (requests) => {
      const seconds = Number(process.hrtime.bigint() - wall0) / 1e9;
      const proxy = treeCpuSeconds(proxyPid) - proxy0;
      const self = process.cpuUsage(self0);
      const ours = own() - own0 + (self.user + self.system) / 1e6;
      return {
        cpu: proxy / seconds,
        cpu_us_per_request: (proxy * 1e6) / requests,
        // in cores: 1.0 = one core's worth of CPU went to processes outside the benchmark
        foreign_cpu: busy0 === undefined ? NaN : Math.max(0, (machineBusySeconds() - busy0 - ours) / seconds),
      };
    };
  };
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux: os.cpus() said it
  }
  return { cores: os.cpus().length, cpu, node: process.version, platform: `${process.platform} ${os.release()}`, pinning: PINNING ? `taskset: proxy on CPU ${CORES.proxy}, load generator and upstream on CPU ${CORES.load}` : 'none (taskset missing or fewer than 2 cores)' };
}

module.exports = { cpuIdleSeconds, CORES, gatewayCores, PINNING, ROOT, pinSelf, spawnOn, startServer, startNginx, startGateway, validateConfig, cpuSeconds, cpuMeter, memoryMB, machine };
