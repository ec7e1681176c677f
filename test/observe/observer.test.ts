// The observer on a real node:http server on loopback: one entry per request when its response closes, with the
// bytes of that request only, on fresh and reused connections, and for a client that leaves before its answer.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Snapshot } from '../../src/config/snapshot';
import type { AccessEntry } from '../../src/observe/access-log';
import { Observer } from '../../src/observe/observer';
import { waitFor } from '../helpers/wait';

const snapshot = { entities: { plugins: [] } } as unknown as Snapshot;

async function observedServer(t: { teardown(fn: () => unknown): void }) {
  const entries: AccessEntry[] = [];
  const observer = new Observer({ write: (e) => entries.push(e), flush() {} }, undefined);
  let id = 0;
  const server = http.createServer((req, res) => {
    observer.begin(req, res, snapshot, `req-${++id}`, Date.now());
    if (req.url === '/hang') return; // answered never: the client leaves
    res.end(req.url === '/long' ? 'x'.repeat(1000) : 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { entries, port: (server.address() as AddressInfo).port, received: () => id };
}

/** Sends a request for each of `paths` on one connection, one after the other, and resolves when the last answer is in. */
function sendOnOneConnection(port: number, paths: string[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return paths
    .reduce(
      (prev, path) =>
        prev.then(
          () =>
            new Promise<void>((resolve, reject) => {
              http.get({ host: '127.0.0.1', port, path, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
            }),
        ),
      Promise.resolve(),
    )
    .finally(() => agent.destroy());
}

t.test('one entry per request on a reused connection, each with its own bytes', async (t) => {
  const { entries, port } = await observedServer(t);
  await sendOnOneConnection(port, ['/a', '/long', '/a']);
  await waitFor('three entries', () => entries.length === 3 || undefined);
  t.same(
    entries.map((e) => [e.request_id, e.path, e.status]),
    [
      ['req-1', '/a', 200],
      ['req-2', '/long', 200],
      ['req-3', '/a', 200],
    ],
  );
  t.equal(entries[0].bytes_out, entries[2].bytes_out, 'the same answer counts the same bytes, not the connection’s total');
  t.equal(entries[0].bytes_in, entries[2].bytes_in);
  t.ok(entries[1].bytes_out > entries[0].bytes_out + 990, 'the longer answer counts its body');
});

t.test('a client that leaves before its answer: one entry, 499 and "client closed" (unrouted: no ctx)', async (t) => {
  const { entries, port, received } = await observedServer(t);
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n'));
  await waitFor('the request to arrive', () => (received() === 1 ? true : undefined));
  socket.destroy();
  await waitFor('one entry', () => entries[0]);
  t.equal(entries.length, 1);
  t.match(entries[0], { path: '/hang', status: 499, reason: 'client closed' });
});
