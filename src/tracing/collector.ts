import http from 'node:http';
import https from 'node:https';

/** Where a tracing plugin POSTs its batches, with Kong's connect_timeout / send_timeout / read_timeout (ms). */
export interface Collector {
  endpoint: URL;
  contentType: string;
  headers?: Record<string, string>;
  connectTimeout: number;
  sendTimeout: number;
  readTimeout: number;
  /** Keeps connections open between batches (Kong's HTTP client keeps them alive too); a new one per batch without. */
  agent?: http.Agent;
}

/** An agent that keeps idle connections to the collector for the next batch, as long as the collector allows. */
export function keepAliveAgent(endpoint: URL): http.Agent {
  return endpoint.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
}

/** One POST of one batch; rejects (so the queue retries) unless the collector answers 2xx. */
export function postBatch(c: Collector, body: Buffer): Promise<void> {
  const client = c.endpoint.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === undefined) resolve();
      else reject(err);
    };
    const req = client.request(c.endpoint, {
      method: 'POST',
      headers: { ...c.headers, 'content-type': c.contentType, 'content-length': body.length },
      agent: c.agent ?? false,
    });
    // connect, then send, then read: each its own budget, as Kong's set_timeouts.
    let timer = setTimeout(() => req.destroy(new Error('connect timeout')), c.connectTimeout);
    const sending = () => {
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(new Error('send timeout')), c.sendTimeout);
    };
    req.on('socket', (socket) => {
      // A kept-alive connection is connected already.
      if (socket.connecting) socket.once('connect', sending);
      else sending();
    });
    req.on('finish', () => {
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(new Error('read timeout')), c.readTimeout);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode! >= 200 && res.statusCode! < 300 ? undefined : new Error(`the collector answered ${res.statusCode}`)));
      res.on('error', done);
    });
    req.on('error', done);
    req.end(body);
  });
}
