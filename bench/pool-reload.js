'use strict';
// The memory and time of a pool's reloads of one config file:
//   node bench/pool-reload.js FILE [--workers N] [--reloads R] [--pause S] [--node-flags='--flag …']
// Starts `gateway start --workers N` (default 2; 1: one process, no pool; BENCH_GATEWAY_BIN: another checkout's
// bin/gateway) on a copy of FILE, then changes the copy R times (default 3; a comment line at its end, a blank line in JSON: a new configuration_hash), one
// after the other, S seconds apart (default 2). Every 10 ms the VmRSS of the primary and of every process under it (workers, checking
// processes) is read from /proc and added up. Prints one JSON line for the start and one per reload: ms until
// every worker serves the new configuration_hash (per GET /status), the summed RSS before and its peak, each
// process's RSS at that peak, each process's own peak, and how many checking processes were seen. `--node-flags`:
// Node or V8 flags the gateway is started with (a way to try one without changing bin/gateway).
// The file of the task's reload target, 100,000 consumers (`manyConsumers`), YAML or JSON:
//   node -e "const c = require('./bench/configs.js'); require('fs').writeFileSync('/tmp/kong.json', c.configText(c.manyConsumers({ upstreamPort: 9 }).config, 'json'))"

const { spawn } = require('node:child_process');
const { copyFileSync, appendFileSync, mkdtempSync, openSync, readdirSync, readFileSync } = require('node:fs');
const http = require('node:http');
const { tmpdir } = require('node:os');
const { extname, join } = require('node:path');
const { parseArgs } = require('node:util');

const GATEWAY_BIN = process.env.BENCH_GATEWAY_BIN || join(__dirname, '..', 'bin', 'gateway');
const mb = (kb) => Math.round(kb / 1024);

/** The pid and every process under it (children of any of their threads). */
function tree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${pids[i]}/task`);
    } catch {}
    for (const task of tasks) {
      try {
        pids.push(...readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
      } catch {}
    }
  }
  return pids;
}

function rssKb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** What a process of the gateway is, from its command line (read each time: right after a fork it is still the parent's). */
function role(pid, root) {
  if (pid === root) return 'primary';
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('check-process') ? 'checking' : cmdline.includes('worker') ? 'worker' : 'other';
  } catch {
    return 'gone';
  }
}

/**
 * Samples the process tree every 10 ms from now until stop(): the summed RSS's first value and peak, each
 * process's peak RSS by its role, the checking processes seen.
 */
function sampleTree(root) {
  const peaks = new Map();
  let first;
  let peak = 0;
  let atPeak = {};
  const sample = () => {
    let sum = 0;
    const now = {};
    for (const pid of tree(root)) {
      const rss = rssKb(pid);
      sum += rss;
      const name = `${role(pid, root)} ${pid}`;
      peaks.set(name, Math.max(peaks.get(name) ?? 0, rss));
      if (rss >= 1024) now[name] = mb(rss);
    }
    first ??= sum;
    if (sum > peak) [peak, atPeak] = [sum, now];
  };
  sample();
  const timer = setInterval(sample, 10);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const byProcess = Object.fromEntries([...peaks].filter(([name, kb]) => kb >= 1024 && !name.startsWith('gone')).map(([name, kb]) => [name, mb(kb)]));
      const checking = Object.keys(byProcess).filter((name) => name.startsWith('checking')).length;
      return { rss_before_mb: mb(first), peak_rss_sum_mb: mb(peak), at_sum_peak_mb: atPeak, checking_processes: checking, peak_rss_mb: byProcess };
    },
  };
}

function getJson(port, path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

/** Resolves once /status says every worker serves a configuration_hash other than `old`, the primary's. */
async function allWorkersOnNewHash(adminPort, old) {
  for (;;) {
    const s = await getJson(adminPort, '/status');
    // One process (--workers 1) has no `workers`: its own hash is the one served.
    if (s.configuration_hash !== old && (s.workers ?? []).every((w) => w.configuration_hash === s.configuration_hash)) return s.configuration_hash;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { workers: { type: 'string', default: '2' }, reloads: { type: 'string', default: '3' }, pause: { type: 'string', default: '2' }, 'node-flags': { type: 'string', default: '' } } });
  const file = join(mkdtempSync(join(tmpdir(), 'pool-reload-')), `kong${extname(positionals[0]) || '.yml'}`);
  copyFileSync(positionals[0], file);
  const workers = values.workers === '1' ? [] : ['--workers', values.workers];
  const args = [...values['node-flags'].split(' ').filter(Boolean), GATEWAY_BIN, 'start', '-c', file, ...workers, '--proxy-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--access-log', 'off'];
  const started = Date.now();
  const stdout = process.env.BENCH_GATEWAY_STDOUT ? openSync(process.env.BENCH_GATEWAY_STDOUT, 'w') : 'ignore'; // e.g. --trace-gc's lines
  const proc = spawn(process.execPath, args, { stdio: ['ignore', stdout, 'pipe'] });
  const startSample = sampleTree(proc.pid);
  let logs = '';
  const adminPort = await new Promise((resolve, reject) => {
    proc.stderr.on('data', (d) => {
      logs += d;
      const m = /"msg":"gateway listening".*?"admin":"[^"]*:(\d+)"/.exec(logs);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`the gateway exited (${code}):\n${logs}`)));
  });
  let hash = (await getJson(adminPort, '/status')).configuration_hash;
  console.log(JSON.stringify({ step: 'start', ms: Date.now() - started, ...startSample.stop() }));
  for (let i = 1; i <= Number(values.reloads); i++) {
    await new Promise((r) => setTimeout(r, Number(values.pause) * 1000)); // the previous snapshot retired, the heap settled
    const sampling = sampleTree(proc.pid);
    const at = Date.now();
    appendFileSync(file, file.endsWith('.json') ? '\n' : `# reload ${i}\n`); // JSON has no comments: a blank line
    hash = await allWorkersOnNewHash(adminPort, hash);
    const ms = Date.now() - at;
    console.log(JSON.stringify({ step: `reload ${i}`, ms, ...sampling.stop() }));
  }
  proc.kill('SIGTERM');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
