'use strict';
// Times each step from a config file to a servable snapshot, in this process, with the gateway's own modules:
//   node bench/config-load.js FILE        prints {"read_parse_ms", "schema_ms", "normalize_ms", "snapshot_ms", ...}
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
  const [schemaIssues, schemaMs] = timed(() => validateSchema(source));
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

main(process.argv[2]);
