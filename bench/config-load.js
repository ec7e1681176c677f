'use strict';
// Times each step from a config file to a servable snapshot, in this process, with the gateway's own modules:
//   node bench/config-load.js FILE              prints {"read_parse_ms", "schema_ms", "normalize_ms", "snapshot_ms", ...}
//   node bench/config-load.js FILE --off-thread prints {"load_ms", "max_event_loop_delay_ms"} for loadConfigFileOffThread
// Run in a fresh process per file so one measurement's heap does not weigh on the next.

const { join } = require('node:path');

const DIST = join(__dirname, '..', 'dist', 'config');
const { readConfigFile } = require(join(DIST, 'source'));
const { validateSchema, schemaValidator } = require(join(DIST, 'validate'));
const { normalize } = require(join(DIST, 'normalize'));
const { buildSnapshot } = require(join(DIST, 'snapshot'));

function timed(fn) {
  const started = process.hrtime.bigint();
  const value = fn();
  return [value, Number(process.hrtime.bigint() - started) / 1e6];
}

function main(file) {
  // Compiling the schema happens once per process, before any file: it is not part of loading one.
  const [, schemaCompileMs] = timed(() => schemaValidator());
  const [source, parseMs] = timed(() => readConfigFile(file));
  const [{ issues: schemaIssues }, schemaMs] = timed(() => validateSchema(source));
  const [normalized, normalizeMs] = timed(() => normalize(source));
  const [snapshot, snapshotMs] = timed(() => buildSnapshot(normalized.entities, 'bench'));
  const errors = [...schemaIssues, ...normalized.issues].filter((i) => i.severity !== 'warning');
  const out = {
    file,
    valid: errors.length === 0,
    consumers: normalized.entities.consumers.length,
    schema_compile_ms: schemaCompileMs,
    read_parse_ms: parseMs,
    schema_ms: schemaMs,
    normalize_ms: normalizeMs,
    snapshot_ms: snapshotMs,
    total_ms: parseMs + schemaMs + normalizeMs + snapshotMs,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    routes: snapshot.routes.size,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** How long the event loop is held while a file loads off the main thread. */
async function offThread(file) {
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const { loadConfigFileOffThread } = require(join(DIST, 'load-off-thread'));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // A 1 ms timer keeps the loop turning, as traffic would; the longest gap between its ticks is the stall.
  let last = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  delay.enable();
  const started = performance.now();
  const loaded = await loadConfigFileOffThread(file);
  const loadMs = performance.now() - started;
  delay.disable();
  clearInterval(ticker);
  const out = { file, consumers: loaded.entities.consumers.length, load_ms: loadMs, max_event_loop_delay_ms: Math.max(delay.max / 1e6, longestGap) };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv.includes('--off-thread')) offThread(process.argv[2]);
else main(process.argv[2]);
