// Soak: the real gateway and a real upstream on loopback, mixed traffic and a config reload every few seconds for a
// bounded time. Prints what happened and exits non-zero when a criterion fails. `npm run soak -- --help`.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LIMIT_PER_SECOND, soakConfig } from './config.mjs';
import { MIX, RARE_MIX, trafficKinds } from './traffic.mjs';
import { rssKiB, startGateway, startUpstream } from './processes.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    rate: { type: 'string', default: '200' },
    'max-requests': { type: 'string', default: '500000' },
    'reload-every': { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`npm run soak -- [--duration SECONDS (600)] [--rate REQUESTS_PER_SECOND (200)] [--max-requests N (500000)] [--reload-every SECONDS (3)]\n`);
  process.exit(0);
}
const positive = (name) => {
  const n = Number(opts[name]);
  if (!(n > 0)) {
    process.stderr.write(`--${name}: expected a positive number\n`);
    process.exit(2);
  }
  return n;
};
const durationMs = positive('duration') * 1000;
const rate = positive('rate');
const maxRequests = positive('max-requests');
const reloadEveryMs = positive('reload-every') * 1000;
const warmUpMs = Math.min(60_000, durationMs / 10);
const MAX_GROWTH_PERCENT = 10;
const MAX_IN_FLIGHT = 256;
// Small client timeouts, so slow clients both within and beyond them fit in a soak.
const timeouts = { header: 2000, body: 2000 };
const RARE_EVERY = 25; // one request in RARE_EVERY comes from RARE_MIX

// A hard stop whatever happens: the soak never outlives its duration by more than a minute.
const hardStop = setTimeout(() => {
  process.stderr.write('soak: hard stop\n');
  gateway?.proc.kill('SIGKILL');
  process.exit(1);
}, durationMs + 60_000);
hardStop.unref();

const dir = mkdtempSync(join(tmpdir(), 'gateway-soak-'));
const configFile = join(dir, 'kong.yml');
const upstream = await startUpstream();
writeFileSync(configFile, soakConfig('A', upstream.port));

const logs = { reloaded: 0, rejected: 0, errors: [] };
let gateway;
gateway = await startGateway(configFile, timeouts, (entry) => {
  if (entry.msg === 'config reloaded') logs.reloaded++;
  else if (entry.msg?.startsWith('config rejected')) logs.rejected++;
  else if (entry.level === 'error' && logs.errors.length < 20) logs.errors.push(entry);
});
const { kinds, close: closeClients } = trafficKinds(timeouts);

// Outcomes: per kind, per status ('error: CODE' for requests that got no answer).
const outcomes = new Map();
const buckets = new Map();
let sent = 0;
let gateway5xx = 0;
let upstream5xx = 0;
let unexpected = 0;
const samples = [];
const record = (kind, result) => {
  const key = result.error ? `error: ${result.error}` : String(result.status);
  const byStatus = outcomes.get(kind) ?? new Map();
  outcomes.set(kind, byStatus.set(key, (byStatus.get(key) ?? 0) + 1));
  const bucket = result.error ? 'no answer' : `${String(result.status)[0]}xx`;
  buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
  if (result.status >= 500) result.fromUpstream ? upstream5xx++ : gateway5xx++;
  if (result.error || !kinds[kind].allowed.includes(result.status)) {
    unexpected++;
    if (samples.length < 10) samples.push(`${kind}: ${key}`);
  }
};

// Reloads: rewrite the file (write beside it, rename over it) alternating two valid configs.
let version = 'A';
let writes = 0;
const reloader = setInterval(() => {
  version = version === 'A' ? 'B' : 'A';
  writeFileSync(`${configFile}.tmp`, soakConfig(version, upstream.port));
  renameSync(`${configFile}.tmp`, configFile);
  writes++;
}, reloadEveryMs);

const started = Date.now();
let rssStart;
let rssPeak = 0;
const memory = setInterval(() => {
  const rss = rssKiB(gateway.proc.pid);
  rssPeak = Math.max(rssPeak, rss);
  if (rssStart === undefined && Date.now() - started >= warmUpMs) rssStart = rss;
}, 1000);

// Traffic: one request every 1/rate s, never more than MAX_IN_FLIGHT at once.
let inFlight = 0;
const inFlightDone = [];
while (Date.now() - started < durationMs && sent < maxRequests) {
  const due = started + (sent * 1000) / rate;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  if (inFlight >= MAX_IN_FLIGHT) await new Promise((r) => inFlightDone.push(r));
  const kind = sent % RARE_EVERY === RARE_EVERY - 1 ? RARE_MIX[Math.floor(sent / RARE_EVERY) % RARE_MIX.length] : MIX[sent % MIX.length];
  sent++;
  inFlight++;
  kinds[kind].send(gateway.port).then((result) => {
    record(kind, result);
    inFlight--;
    inFlightDone.shift()?.();
  });
}
clearInterval(reloader);
while (inFlight > 0) await new Promise((r) => inFlightDone.push(r));
const rssEnd = rssKiB(gateway.proc.pid);
clearInterval(memory);

// The last write must be live: the terminated route names the config version.
await new Promise((r) => setTimeout(r, 2000));
const lastAnswer = await fetch(`http://127.0.0.1:${gateway.port}/maintenance`).then((r) => r.text(), (e) => String(e));
const servesLast = lastAnswer.includes(`config-${version}`);
const upAtEnd = gateway.proc.exitCode === null;
closeClients();
gateway.proc.kill('SIGTERM');
await new Promise((r) => (gateway.proc.exitCode !== null ? r() : gateway.proc.once('exit', r)));
upstream.close();
rmSync(dir, { recursive: true, force: true });

// Report.
const growth = rssStart ? ((rssEnd - rssStart) / rssStart) * 100 : NaN;
const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
// Counters are per second: at most LIMIT_PER_SECOND pass in each second the traffic touched, reloads or not.
const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
const limitedPassed = outcomes.get('rate-limited')?.get('200') ?? 0;
const criteria = [
  ['no gateway-produced 5xx', gateway5xx === 0, `${gateway5xx}`],
  ['every request got its expected answer', unexpected === 0, `${unexpected} unexpected${samples.length ? `: ${samples.join('; ')}` : ''}`],
  [`RSS growth < ${MAX_GROWTH_PERCENT}%`, growth < MAX_GROWTH_PERCENT, `${growth.toFixed(1)}%`],
  ['every reload accepted, none rejected', logs.reloaded === writes && logs.rejected === 0, `${logs.reloaded}/${writes} accepted, ${logs.rejected} rejected`],
  ['the rate limit held across reloads', limitedPassed <= LIMIT_PER_SECOND * seconds, `${limitedPassed} passed, at most ${LIMIT_PER_SECOND * seconds}`],
  ['the last config written is served', servesLast, lastAnswer.trim()],
  ['the gateway was up at the end', upAtEnd, upAtEnd ? 'yes' : `exited ${gateway.proc.exitCode}`],
  ['no error logged by the gateway', logs.errors.length === 0, logs.errors.map((e) => e.msg).join('; ') || 'none'],
];
const lines = [];
lines.push(`soak: ${((Date.now() - started) / 1000).toFixed(0)} s, ${sent} requests (${rate}/s target), a reload every ${reloadEveryMs / 1000} s`);
lines.push(`client timeouts: header ${timeouts.header} ms, body ${timeouts.body} ms; warm-up ${(warmUpMs / 1000).toFixed(0)} s`);
lines.push('');
lines.push('by status:   ' + [...buckets].sort().map(([b, n]) => `${b} ${n}`).join(', '));
lines.push(`5xx:         ${gateway5xx} from the gateway, ${upstream5xx} from the upstream`);
lines.push('by kind:');
for (const [kind, byStatus] of outcomes) {
  lines.push(`  ${kind.padEnd(24)} ${[...byStatus].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
}
lines.push(`memory (RSS): ${rssStart ? mib(rssStart) : '?'} after warm-up, ${mib(rssEnd)} at the end (${growth.toFixed(1)}%), peak ${mib(rssPeak)}`);
lines.push(`reloads:     ${writes} writes, ${logs.reloaded} accepted, ${logs.rejected} rejected`);
lines.push('');
for (const [name, ok, detail] of criteria) lines.push(`${ok ? 'PASS' : 'FAIL'}  ${name} (${detail})`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(criteria.every(([, ok]) => ok) ? 0 : 1);
