import t from 'tap';
import tls from 'node:tls';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { tlsOf } from '../../src/observe/log-entry';

// kong/pdk/log.lua build_tls_info: request.tls only on a TLS connection (version, cipher, client_verify).
type Socket = Parameters<typeof tlsOf>[0];

t.test('kong/pdk/log.lua serialize: request.tls holds version, cipher and client_verify on TLS, and is absent on plain TCP', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'entry-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=edge.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const seen: Array<ReturnType<typeof tlsOf>> = [];
  const server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (socket) => {
    seen.push(tlsOf(socket as unknown as Socket));
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => c.on('close', resolve).resume());
    c.on('error', reject);
  });
  server.close();
  t.match(seen[0], { version: /^TLSv1\.[23]$/, cipher: /^[A-Z0-9_-]+$/, client_verify: 'NONE' }, 'no client certificate: NONE');

  const plain = net.createServer((socket) => {
    seen.push(tlsOf(socket as unknown as Socket));
    socket.end();
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => net.connect((plain.address() as AddressInfo).port, '127.0.0.1').on('close', () => resolve()).resume());
  plain.close();
  t.equal(seen[1], undefined);
});
