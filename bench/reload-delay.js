'use strict';
// How long a reload holds the event loop, and the memory it takes, for one config file:
//   node bench/reload-delay.js FILE [--reloads N]
// Starts a gateway on FILE in this process (no traffic), then reloads it N times (default 3, as SIGHUP does) while a
// 1 ms timer measures the longest gap between its ticks (what a request arriving then would wait) and RSS is sampled
// every 5 ms (a start's worker thread counts, being this process; a reload's checking process does not). cpu_ms
// counts every thread of the process, main_thread_cpu_ms the event loop's thread only, main_thread_waiting_for_cpu_ms
// the time that thread was ready to run but other threads or processes had the CPU (Linux). Prints one JSON line
// per step.

const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const { Gateway } = require(join(__dirname, '..', 'dist', 'gateway'));
const { setLogLevel } = require(join(__dirname, '..', 'dist', 'log'));

const mb = (bytes) => Math.round(bytes / 1024 / 1024);

/** This (the main) thread's CPU time and time spent runnable but waiting for a CPU, so far (Linux /proc). */
function mainThreadTimes() {
  try {
    const [cpuNs, waitNs] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return { cpu: cpuNs / 1e6, wait: waitNs / 1e6 };
  } catch {
    return { cpu: NaN, wait: NaN };
  }
}

/** Runs `fn` while watching the event loop and RSS; returns what it saw. */
async function watched(fn) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let longestGap = 0;
  let peakRss = process.memoryUsage.rss();
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 5);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const mainBefore = mainThreadTimes();
  delay.enable();
  const value = await fn();
  delay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const mainAfter = mainThreadTimes();
  clearInterval(ticker);
  clearInterval(sampler);
  return {
    value,
    ms: Math.round(performance.now() - started),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    main_thread_cpu_ms: Math.round(mainAfter.cpu - mainBefore.cpu),
    main_thread_waiting_for_cpu_ms: Math.round(mainAfter.wait - mainBefore.wait),
    max_event_loop_delay_ms: Math.round(Math.max(delay.max / 1e6, longestGap)),
    peak_rss_mb: mb(Math.max(peakRss, process.memoryUsage.rss())),
  };
}

function memoryAfter() {
  const m = process.memoryUsage();
  return { rss_after_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), heap_total_mb: mb(m.heapTotal), external_mb: mb(m.external) };
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { reloads: { type: 'string', default: '3' } } });
  const file = positionals[0];
  if (!file) throw new Error('usage: node bench/reload-delay.js FILE [--reloads N]');
  setLogLevel('error');
  const start = await watched(() => Gateway.start({ configFile: file, proxyListen: { host: '127.0.0.1', port: 0 }, adminListen: null }));
  const gateway = start.value;
  const settle = () => new Promise((r) => setTimeout(r, 200));
  await settle();
  const say = (step, w) => process.stdout.write(`${JSON.stringify({ step, ms: w.ms, cpu_ms: w.cpu_ms, main_thread_cpu_ms: w.main_thread_cpu_ms, main_thread_waiting_for_cpu_ms: w.main_thread_waiting_for_cpu_ms, max_event_loop_delay_ms: w.max_event_loop_delay_ms, peak_rss_mb: w.peak_rss_mb, ...memoryAfter() })}\n`);
  say('start', start);
  for (let i = 1; i <= Number(values.reloads); i++) {
    const w = await watched(() => gateway.reload());
    if (!w.value.accepted) throw new Error(`reload rejected: ${w.value.errors.join('\n')}`);
    await settle();
    say(`reload ${i}`, w);
  }
  await gateway.stop(0);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
