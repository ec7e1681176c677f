'use strict';
// A closed-loop load generator that costs little per request: each request shape is encoded once into a Buffer
// (the bytes autocannon would send), written as is on keep-alive sockets (one request in flight per connection,
// no pipelining), and a response is read by its status line and Content-Length (or chunk sizes) alone, with no
// header parsing beyond that. Used where autocannon's own per-request work (a JavaScript HTTP parser, events,
// timers, histograms) would fill the load generator's core before the proxies fill theirs: case (c), side by side.

const net = require('node:net');
const { performance } = require('node:perf_hooks');

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** The request bytes: request line, Host, Connection: keep-alive, then the headers, as autocannon builds them. */
function encodeRequest({ method = 'GET', path = '/', headers }, host) {
  const lines = [`${method} ${path} HTTP/1.1`];
  const given = headers ?? {};
  if (!Object.keys(given).some((name) => name.toLowerCase() === 'host')) lines.push(`Host: ${host}`);
  lines.push('Connection: keep-alive');
  for (const [name, value] of Object.entries(given)) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/**
 * Whether a request list can be sent pre-encoded: no shape rebuilt per request, no body, no HEAD (its answer's
 * Content-Length announces a body that never comes, which the reader does not know to skip).
 */
function encodable(requests) {
  return requests.every((r) => r.setupRequest === undefined && r.body === undefined && r.method !== 'HEAD');
}

// Response framing read from the header block.
const FRAMING = /\r\n(?:content-length:[ \t]*(\d+)|transfer-encoding:[ \t]*([^\r]*)|connection:[ \t]*([^\r]*))/gi;

/**
 * One keep-alive connection, one request at a time. `load` hands out the next request and is told of every
 * response (`answered`) and failure (`failed`).
 */
class Connection {
  constructor(load) {
    this.load = load;
    this.pending = undefined; // bytes of a response not complete yet
    this.sentAt = 0;
    this.inFlight = false;
    this.connect();
  }

  connect() {
    const socket = net.connect(this.load.port, '127.0.0.1');
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('connect', () => this.send());
    socket.on('data', (chunk) => this.read(chunk));
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => this.closed(socket));
  }

  send() {
    if (this.load.stopped) return;
    this.pending = undefined;
    this.inFlight = true;
    this.sentAt = performance.now();
    this.socket.write(this.load.nextRequest());
  }

  read(chunk) {
    if (!this.inFlight) return; // nothing asked: bytes the server should not have sent
    const bytes = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    const headEnd = bytes.indexOf(CRLF2);
    if (headEnd === -1) {
      this.pending = bytes;
      return;
    }
    const status = (bytes[9] - 48) * 100 + (bytes[10] - 48) * 10 + (bytes[11] - 48);
    const bodyStart = headEnd + 4;
    let length = 0;
    let chunked = false;
    let close = false;
    const head = bytes.toString('latin1', 0, headEnd);
    FRAMING.lastIndex = 0;
    for (let m = FRAMING.exec(head); m !== null; m = FRAMING.exec(head)) {
      if (m[1] !== undefined) length = Number(m[1]);
      else if (m[2] !== undefined) chunked = m[2].toLowerCase().includes('chunked');
      else close = m[3].toLowerCase().includes('close');
    }
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) length = 0;
    if (chunked ? !chunkedComplete(bytes, bodyStart) : bytes.length - bodyStart < length) {
      this.pending = bytes;
      return;
    }
    this.inFlight = false;
    this.pending = undefined;
    this.load.answered(status, performance.now() - this.sentAt);
    if (close) this.socket.destroy();
    else this.send();
  }

  closed(socket) {
    if (socket !== this.socket) return;
    if (this.inFlight) {
      this.inFlight = false;
      this.load.failed();
    }
    if (!this.load.stopped) this.connect();
  }

  destroy() {
    this.socket.destroy();
  }
}

/** Whether a chunked body starting at `start` has its last chunk: chunk sizes walked, extensions ignored. */
function chunkedComplete(bytes, start) {
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf(CRLF, at);
    if (lineEnd === -1) return false;
    const size = parseInt(bytes.toString('latin1', at, lineEnd), 16);
    if (!(size >= 0)) return true; // not chunked after all: let the caller move on
    // The last chunk, then either an empty line at once or trailer lines ending with one.
    if (size === 0) return (bytes[lineEnd + 2] === 13 && bytes[lineEnd + 3] === 10) || bytes.indexOf(CRLF2, lineEnd) !== -1;
    at = lineEnd + 2 + size + 2;
    if (at > bytes.length) return false;
  }
}

/**
 * Loads `port` like load.throughput (same options and result fields), with `requests` pre-encoded and handed
 * out in turn over all connections (one counter: the shapes rotate evenly whatever the connections' speeds).
 * The warm-up and the measured part share the connections; the measured part counts the responses that arrive
 * within it. Latencies are recorded into `latencies` (a Samples) for the measured part.
 */
function rawThroughput(port, requests, { connections, duration, warmup }, meter, latencies) {
  const encoded = requests.map((r) => encodeRequest(r, `127.0.0.1:${port}`));
  return new Promise((resolve) => {
    const load = {
      port,
      stopped: false,
      measuring: false,
      next: 0,
      warmupRequests: 0,
      requests: 0,
      non2xx: 0,
      errors: 0,
      nextRequest() {
        const r = encoded[this.next];
        this.next = this.next + 1 === encoded.length ? 0 : this.next + 1;
        return r;
      },
      answered(status, ms) {
        if (!this.measuring) {
          this.warmupRequests++;
          return;
        }
        this.requests++;
        if (status < 200 || status > 299) this.non2xx++;
        latencies.push(ms);
      },
      failed() {
        if (this.measuring) this.errors++;
      },
    };
    const conns = Array.from({ length: connections }, () => new Connection(load));
    let metered;
    let startedAt;
    const begin = () => {
      load.measuring = true;
      metered = meter();
      startedAt = performance.now();
      setTimeout(end, duration * 1000);
    };
    const end = () => {
      // Responses after this instant are not counted: the count matches the measured time.
      load.measuring = false;
      const seconds = (performance.now() - startedAt) / 1000;
      const fields = metered(load.requests);
      load.stopped = true;
      for (const c of conns) c.destroy();
      resolve({ ...fields, seconds, requests: load.requests, warmup_requests: load.warmupRequests, non2xx: load.non2xx, errors: load.errors });
    };
    if (warmup > 0) setTimeout(begin, warmup * 1000);
    else begin();
  });
}

module.exports = { rawThroughput, encodeRequest, encodable };
