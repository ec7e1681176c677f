// The kinds of request the soak sends, what each must get back, and how each is sent.
import http from 'node:http';
import net from 'node:net';
import { BASIC, KEYS, TERMINATION_STATUS } from './config.mjs';

const basicAuth = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Requests sent with Node's HTTP client on keep-alive connections: kind → [path, headers, allowed statuses]. */
const HTTP_KINDS = {
  'valid key': ['/keyed', { apikey: KEYS.user }, [200]],
  'basic-auth': ['/basic', { authorization: basicAuth(BASIC.username, BASIC.password) }, [200]],
  anonymous: ['/open', {}, [200]],
  'bad key': ['/keyed', { apikey: 'not-a-key' }, [401]],
  'wrong password': ['/basic', { authorization: basicAuth(BASIC.username, 'wrong') }, [401]],
  'acl deny': ['/admins', { apikey: KEYS.user }, [403]],
  'rate-limited': ['/limited', { apikey: KEYS.limited }, [200, 429]],
  terminated: ['/maintenance', {}, [TERMINATION_STATUS]],
};

// Malformed requests over raw sockets: each must get a 400 and a closed connection.
const MALFORMED = [
  'GET /open HTTP/1.1\r\nHost: soak\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'GET /open HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
  'G@T /open HTTP/1.1\r\nHost: soak\r\n\r\n',
  'GET /open HTTP/1.1\r\n\r\n',
  'GET /open HTTP/1.1\nHost: soak\n\n',
  'GET /open HTTP/1.1\r\nHost: soak\r\n folded: header\r\n\r\n',
];

/**
 * Writes `parts` to a fresh connection, `gapMs` apart, and reads until the server closes (or `waitMs` passes).
 * Resolves with the first status (0 for none) and whether the upstream produced the answer.
 */
function rawExchange(port, parts, gapMs, waitMs) {
  return new Promise((resolve) => {
    const chunks = [];
    let done = false;
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (let i = 0; i < parts.length && !done; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!socket.destroyed) socket.write(parts[i], 'latin1');
      }
    });
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, fromUpstream: /\r\nx-upstream: yes\r\n/i.test(text), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** The kinds, each with its allowed statuses and a `send(port)` resolving with { status, fromUpstream } or { error }. */
export function trafficKinds(timeouts) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const kinds = {};
  for (const [kind, [path, headers, allowed]] of Object.entries(HTTP_KINDS)) {
    kinds[kind] = {
      allowed,
      send: (port) =>
        new Promise((resolve) => {
          const req = http.get({ host: '127.0.0.1', port, path, headers, agent, timeout: 10_000 }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, fromUpstream: res.headers['x-upstream'] === 'yes' }));
          });
          req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
          req.on('error', (err) => resolve({ error: err.code ?? err.message }));
        }),
    };
  }
  let malformed = 0;
  kinds.malformed = { allowed: [400], send: (port) => rawExchange(port, [MALFORMED[malformed++ % MALFORMED.length]], 0, 5000) };
  const head = 'GET /open HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n';
  // Within the header timeout: the head in three parts spread over a fifth of it.
  kinds['slow headers, in time'] = {
    allowed: [200],
    send: (port) => rawExchange(port, [head.slice(0, 10), head.slice(10, 30), head.slice(30)], timeouts.header / 10, timeouts.header * 3),
  };
  // Beyond it: the rest of the head comes after twice the timeout, too late.
  kinds['slow headers, too late'] = {
    allowed: [408],
    send: (port) => rawExchange(port, [head.slice(0, 20), head.slice(20)], timeouts.header * 2, timeouts.header * 3),
  };
  const post = 'POST /open HTTP/1.1\r\nHost: soak\r\nConnection: close\r\nContent-Length: 10\r\n\r\n';
  kinds['slow body, in time'] = {
    allowed: [200],
    send: (port) => rawExchange(port, [post, 'abcde', 'fghij'], timeouts.body / 5, timeouts.body * 3),
  };
  kinds['slow body, too late'] = {
    allowed: [408],
    send: (port) => rawExchange(port, [post, 'abcde', 'fghij'], timeouts.body * 2, timeouts.body * 3),
  };
  return { kinds, close: () => agent.destroy() };
}

/** One round of the traffic mix: most requests are ordinary, a few are slow or wrong passwords (bcrypt work). */
export const MIX = [
  ...Array(6).fill('valid key'),
  ...Array(3).fill('basic-auth'),
  ...Array(3).fill('anonymous'),
  ...Array(2).fill('bad key'),
  ...Array(2).fill('acl deny'),
  ...Array(3).fill('rate-limited'),
  'terminated',
  'malformed',
  'malformed',
];
export const RARE_MIX = ['wrong password', 'slow headers, in time', 'slow headers, too late', 'slow body, in time', 'slow body, too late'];
