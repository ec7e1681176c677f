'use strict';
// Medians over rounds and the Markdown tables the benchmark prints (the README keeps a copy of one).

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const fixed = (digits) => (x) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const ms1 = fixed(1);
const ms2 = fixed(2);
const ms3 = fixed(3);
const int = (x) => (Number.isFinite(x) ? String(Math.round(x)) : '–');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');
const signed = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(3)}` : '–');

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Per target: median requests/s, the median of the per-round ratios to the http-proxy baseline measured
 * just before it, latency under full load, and the proxy's CPU: its share of a core (near 100% means the
 * proxy, not the load generator, was the limit) and CPU time per request, which other processes on the
 * machine disturb far less than requests/s.
 */
// A side-by-side pair compares work per request only when the proxy core had no time to spare (the two
// servers, and whatever else ran there, kept it busy); with the core partly idle, the load side decides how the
// requests split.
const SATURATED = 0.9;
const saturated = (pair) => pair.proxy_core_busy === undefined || pair.proxy_core_busy >= SATURATED;

/** `together`: the side-by-side pairs by case, where measured; only those that saturated the core count. */
function summarizeThroughput(rounds, together = {}) {
  const out = {};
  for (const [id, runs] of Object.entries(rounds)) {
    const measured = together[id] ?? [];
    const pairs = measured.filter(saturated);
    out[id] = {
      rounds: runs.length,
      rps: median(runs.map((r) => r.target.rps)),
      baseline_rps: median(runs.map((r) => r.baseline.rps)),
      ratio: median(runs.map((r) => r.target.rps / r.baseline.rps)),
      p50_ms: median(runs.map((r) => r.target.latency.p50)),
      p99_ms: median(runs.map((r) => r.target.latency.p99)),
      cpu: median(runs.map((r) => r.target.cpu)),
      baseline_cpu: median(runs.map((r) => r.baseline.cpu)),
      cpu_us_per_request: median(runs.map((r) => r.target.cpu_us_per_request)),
      baseline_cpu_us_per_request: median(runs.map((r) => r.baseline.cpu_us_per_request)),
      cpu_ratio: median(runs.map((r) => r.baseline.cpu_us_per_request / r.target.cpu_us_per_request)),
      foreign_cpu: median(runs.flatMap((r) => [r.baseline.foreign_cpu, r.target.foreign_cpu])),
      non2xx: runs.reduce((n, r) => n + r.target.non2xx + r.target.errors, 0),
      side_by_side_pairs: measured.length,
      side_by_side_saturated: pairs.length,
      side_by_side_ratio: pairs.length > 0 ? median(pairs.map((r) => r.target.rps / r.baseline.rps)) : measured.length > 0 ? NaN : undefined,
      side_by_side_cpu_ratio: pairs.length > 0 ? median(pairs.map((r) => r.baseline.cpu_us_per_request / r.target.cpu_us_per_request)) : undefined,
    };
  }
  return out;
}

function summarizeLatency(rounds) {
  const out = {};
  for (const [id, runs] of Object.entries(rounds)) {
    out[id] = {
      rounds: runs.length,
      rate: runs[0]?.target.rate,
      p50_ms: median(runs.map((r) => r.target.latency.p50)),
      p99_ms: median(runs.map((r) => r.target.latency.p99)),
      baseline_p50_ms: median(runs.map((r) => r.baseline.latency.p50)),
      baseline_p99_ms: median(runs.map((r) => r.baseline.latency.p99)),
      added_p50_ms: median(runs.map((r) => r.target.latency.p50 - r.baseline.latency.p50)),
      added_p99_ms: median(runs.map((r) => r.target.latency.p99 - r.baseline.latency.p99)),
      cpu_us_per_request: median(runs.map((r) => r.target.cpu_us_per_request)),
      baseline_cpu_us_per_request: median(runs.map((r) => r.baseline.cpu_us_per_request)),
      cpu_ratio: median(runs.map((r) => r.baseline.cpu_us_per_request / r.target.cpu_us_per_request)),
      non2xx: runs.reduce((n, r) => n + r.target.non2xx + r.target.errors, 0),
    };
  }
  return out;
}

/**
 * What each feature costs, for every pair (on, off) that ran: per round, the feature-on case's requests/s over
 * the feature-off case's and the CPU µs per request of each (both measured in that round), then medians. A
 * cost is met when it is within `target` (0.05: at most 5% fewer requests/s, or 5% more CPU per request).
 */
function summarizeCosts(rounds, pairs) {
  const out = [];
  for (const { feature, on, off, target } of pairs) {
    if (rounds[on] === undefined || rounds[off] === undefined) continue;
    const n = Math.min(rounds[on].length, rounds[off].length);
    const each = (f) => Array.from({ length: n }, (_, i) => f(rounds[on][i].target, rounds[off][i].target));
    const per = (f) => median(each(f));
    const range = (values) => [Math.min(...values), Math.max(...values)];
    const ratio = per((a, b) => a.rps / b.rps);
    const cpuRatio = per((a, b) => a.cpu_us_per_request / b.cpu_us_per_request);
    out.push({
      feature,
      on,
      off,
      rounds: n,
      rps_on: per((a) => a.rps),
      rps_off: per((_, b) => b.rps),
      ratio,
      cpu_us_per_request_on: per((a) => a.cpu_us_per_request),
      cpu_us_per_request_off: per((_, b) => b.cpu_us_per_request),
      added_cpu_us_per_request: per((a, b) => a.cpu_us_per_request - b.cpu_us_per_request),
      cost_rps: 1 - ratio,
      cost_cpu: cpuRatio - 1,
      // how far single rounds strayed: a median inside the target with a wide range is not yet a verdict
      cost_rps_range: range(each((a, b) => 1 - a.rps / b.rps)),
      cost_cpu_range: range(each((a, b) => a.cpu_us_per_request / b.cpu_us_per_request - 1)),
      target,
      met_rps: 1 - ratio <= target,
      met_cpu: cpuRatio - 1 <= target,
      foreign_cpu: median(rounds[on].slice(0, n).flatMap((r, i) => [r.target.foreign_cpu, rounds[off][i].target.foreign_cpu])),
    });
  }
  return out;
}

function costTable(costs) {
  const mark = (met) => (met ? 'yes' : '**no**');
  const cost = (median, [min, max], met) => `${pct(median)} (rounds ${pct(min)} … ${pct(max)}): ${mark(met)}`;
  const rows = costs.map((c) => [
    c.feature,
    `${c.on} / ${c.off}`,
    `${int(c.rps_on)} / ${int(c.rps_off)}`,
    pct(c.ratio),
    `${ms1(c.cpu_us_per_request_on)} / ${ms1(c.cpu_us_per_request_off)}`,
    `${c.added_cpu_us_per_request >= 0 ? '+' : ''}${ms1(c.added_cpu_us_per_request)}`,
    `≤ ${pct(c.target)}`,
    cost(c.cost_rps, c.cost_rps_range, c.met_rps),
    cost(c.cost_cpu, c.cost_cpu_range, c.met_cpu),
  ]);
  return table(['cost of', 'on / off', 'req/s on / off', 'req/s ratio', 'CPU µs/req on / off', 'added CPU µs/req', 'target', 'cost (req/s): met', 'cost (CPU/req): met'], rows);
}

function throughputTable(summary, baselineLabel, labels) {
  const ids = Object.keys(summary);
  const baseRps = median(ids.map((id) => summary[id].baseline_rps));
  const baseCpu = median(ids.map((id) => summary[id].baseline_cpu));
  const baseUs = median(ids.map((id) => summary[id].baseline_cpu_us_per_request));
  const sideBySide = ids.some((id) => summary[id].side_by_side_ratio !== undefined);
  const extra = (cell) => (sideBySide ? [cell] : []);
  // With nginx in the run, every target is also put beside it: its ratio to the baseline over nginx's.
  const nginx = summary.nginx;
  const vsNginx = (cell) => (nginx ? [cell] : []);
  const rows = [[baselineLabel, int(baseRps), '100%', ...vsNginx(pct(1 / nginx?.ratio)), ...extra('100%'), ms1(baseUs), '100%', ...vsNginx(pct(1 / nginx?.cpu_ratio)), '', '', pct(baseCpu)]];
  for (const id of ids) {
    const s = summary[id];
    const together = s.side_by_side_ratio === undefined ? '' : `${pct(s.side_by_side_ratio)} (${s.side_by_side_saturated}/${s.side_by_side_pairs})`;
    rows.push([labels[id], int(s.rps), pct(s.ratio), ...vsNginx(pct(s.ratio / nginx?.ratio)), ...extra(together), ms1(s.cpu_us_per_request), pct(s.cpu_ratio), ...vsNginx(pct(s.cpu_ratio / nginx?.cpu_ratio)), ms2(s.p50_ms), ms2(s.p99_ms), pct(s.cpu)]);
  }
  return table(['target', 'req/s', 'vs http-proxy', ...vsNginx('vs nginx'), ...extra('side by side'), 'CPU µs/req', 'vs http-proxy (CPU)', ...vsNginx('vs nginx (CPU)'), 'p50 ms', 'p99 ms', 'proxy CPU'], rows);
}

function latencyTable(summary, baselineLabel, labels) {
  const ids = Object.keys(summary);
  const all = (field) => median(ids.map((id) => summary[id][field]));
  const rows = [[baselineLabel, ms3(all('baseline_p50_ms')), ms3(all('baseline_p99_ms')), '', '', ms1(all('baseline_cpu_us_per_request')), '100%']];
  for (const id of ids) {
    const s = summary[id];
    rows.push([labels[id], ms3(s.p50_ms), ms3(s.p99_ms), signed(s.added_p50_ms), signed(s.added_p99_ms), ms1(s.cpu_us_per_request), pct(s.cpu_ratio)]);
  }
  return table(['target', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'CPU µs/req', 'vs http-proxy (CPU)'], rows);
}

function largeConfigTable(e) {
  const formats = Object.keys(e.formats);
  const row = (label, cell) => [label, ...formats.map((f) => cell(e.formats[f]))];
  const msCell = (field) => (f) => `${int(f.load[field])} ms`;
  const reloads = (f, pick) => f.reloads.map(pick);
  const rows = [
    row('file size', (f) => `${f.load.mb.toFixed(1)} MB`),
    row('read + parse', msCell('read_parse_ms')),
    row('schema validation', msCell('schema_ms')),
    row('normalize', msCell('normalize_ms')),
    row('snapshot (indexes, router, plugins)', msCell('snapshot_ms')),
    row('**validate + compile, total**', (f) => `**${int(f.load.total_ms)} ms**`),
    row('peak RSS while loading (in-process)', (f) => `${int(f.load.peak_rss_mb)} MB`),
    row('`gateway validate` (whole command, node start included)', (f) => `${int(f.validate_ms)} ms`),
    row('**gateway RSS after start**', (f) => `**${int(f.rss_after_start_mb)} MB**`),
    row('gateway peak RSS while starting (VmHWM)', (f) => `${int(f.peak_rss_start_mb)} MB`),
    row('loadConfigFileOffThread: load time', (f) => `${int(f.load.off_thread_ms)} ms`),
    row('**loadConfigFileOffThread: longest event-loop delay**', (f) => `**${ms1(f.load.off_thread_max_delay_ms)} ms**`),
  ];
  if (e.formats[formats[0]].reloads.length > 0) {
    const rate = e.formats[formats[0]].reloads[0].rate;
    rows.push(row(`SIGHUP reload (Gateway.reload; a child process checks files ≥ 256 KB) under ${rate} req/s: reload time (median)`, (f) => `${int(median(reloads(f, (r) => r.reload_ms)))} ms`));
    rows.push(row('**longest wait of a request during the reload** (median / worst)', (f) => `**${int(median(reloads(f, (r) => r.max_latency_ms)))} ms** / ${int(Math.max(...reloads(f, (r) => r.max_latency_ms)))} ms`));
    rows.push(row('requests that waited over 100 ms (median)', (f) => int(median(reloads(f, (r) => r.over_100ms)))));
    rows.push(row('gateway RSS after the reloads', (f) => `${int(f.rss_after_reloads_mb)} MB`));
    rows.push(row('**gateway peak RSS, start and reloads (VmHWM)**', (f) => `**${int(f.peak_rss_reloads_mb)} MB**`));
  }
  return table([`(e) ${e.consumers.toLocaleString('en-US')} consumers with keys`, ...formats.map((f) => f.toUpperCase())], rows);
}

module.exports = { median, summarizeThroughput, summarizeLatency, summarizeCosts, throughputTable, costTable, latencyTable, largeConfigTable };
