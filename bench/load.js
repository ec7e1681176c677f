'use strict';
// The two ways the benchmark loads a server:
// - throughput: closed loop, N connections as fast as the server answers (autocannon, or bench/raw-load.js);
// - paced: an open-loop client sending at a fixed rate (for latency at a steady load and for stalls).
// Latencies are kept as floats in milliseconds: autocannon's own histogram has 1 ms resolution, too coarse
// for what a gateway adds per request.

const http = require('node:http');
const autocannon = require('autocannon');
const { rawThroughput, encodable } = require('./raw-load');

/** Growable Float64Array of samples. */
class Samples {
  constructor(capacity = 1 << 16) {
    this.values = new Float64Array(capacity);
    this.length = 0;
  }

  push(v) {
    if (this.length === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = v;
  }

  /** p50/p99/max of the samples, in ms. */
  summary() {
    if (this.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
    const sorted = this.values.slice(0, this.length).sort();
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
  }
}

/**
 * A copy of the request list for autocannon, which writes into its entries; a `setupRequest` function (a request
 * rebuilt every time it is sent) is kept.
 */
function copyRequests(requests) {
  return requests.map((r) => ({ ...r, headers: r.headers === undefined ? undefined : { ...r.headers } }));
}

function runAutocannon(opts, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (onResponse) instance.on('response', onResponse);
  });
}

/**
 * Loads `port` with `requests` for `duration` seconds after a warm-up of `warmup` seconds; returns requests/s,
 * latency percentiles, anything that was not a 2xx and the requests answered (measured and warm-up), plus what
 * `meter()` reports: it is called when the measured part starts and returns a function that, called at its end
 * with the number of requests, returns fields to add (CPU use). `generator`: 'autocannon' (requests cycled per
 * connection, a new set of connections for the measured part) or 'raw' (bench/raw-load.js: pre-encoded requests
 * handed out in turn over all connections, the same connections throughout; far less work per request).
 */
async function throughput(port, requests, { connections, duration, warmup, generator = 'autocannon' }, meter = () => () => ({})) {
  const latencies = new Samples();
  if (generator === 'raw') {
    if (!encodable(requests)) throw new Error('the raw load generator sends fixed requests only (no setupRequest, no body)');
    const { seconds, ...r } = await rawThroughput(port, requests, { connections, duration, warmup }, meter, latencies);
    return { ...r, rps: r.requests / seconds, latency: latencies.summary(), timeouts: 0 };
  }
  const base = { url: `http://127.0.0.1:${port}`, connections, pipelining: 1, requests: copyRequests(requests) };
  const warm = warmup > 0 ? await runAutocannon({ ...base, duration: warmup }) : undefined;
  const metered = meter();
  const result = await runAutocannon({ ...base, requests: copyRequests(requests), duration }, (_client, _status, _bytes, ms) => latencies.push(ms));
  const seconds = result.duration || duration;
  return {
    ...metered(result.requests.total),
    rps: result.requests.total / seconds,
    latency: latencies.summary(),
    requests: result.requests.total,
    warmup_requests: warm?.requests.total ?? 0,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/**
 * Sends `rate` requests per second, open loop: requests go out on schedule whether or not earlier ones were
 * answered, so a server that stalls is charged for every request that waited (no coordinated omission).
 * Latency counts from the moment the request is issued (timer lateness on this side is not the server's).
 * Stops sending after `duration` seconds, or earlier once `until(elapsedMs)` returns true; `until` is
 * called on every tick, so it can also trigger events (a reload) at a given time. `meter` as for throughput.
 */
const GIVE_UP_MS = 60_000;

function paced(port, requests, { rate, duration, until }, meter = () => () => ({})) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies = new Samples();
  const timeline = []; // [issued ms since start, latency ms]
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  let sending = true;
  const start = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - start) / 1e6;
  const metered = meter();

  return new Promise((resolve) => {
    const settle = () => {
      if (sending || done < sent) return;
      agent.destroy();
      resolve({ ...metered(sent), rate, latency: latencies.summary(), timeline, non2xx, errors, sent });
    };
    const send = () => {
      const next = requests[sent % requests.length];
      const r = next.setupRequest === undefined ? next : next.setupRequest({ ...next });
      sent++;
      const issuedMs = elapsedMs();
      const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const ms = elapsedMs() - issuedMs;
          latencies.push(ms);
          timeline.push([issuedMs, ms]);
          if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
          done++;
          settle();
        });
      });
      req.on('error', () => {
        errors++;
        done++;
        settle();
      });
      req.end();
    };
    const timer = setInterval(() => {
      const now = elapsedMs();
      const stop = now >= duration * 1000 || (until !== undefined && until(now));
      const due = Math.floor((Math.min(now, duration * 1000) * rate) / 1000);
      while (sent < due) send();
      if (stop) {
        clearInterval(timer);
        sending = false;
        settle();
        // Requests still unanswered after this are counted as errors: a measurement always ends.
        setTimeout(() => agent.destroy(), GIVE_UP_MS).unref();
      }
    }, 1);
  });
}

module.exports = { throughput, paced };
