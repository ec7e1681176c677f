'use strict';
// Whether basic-auth response times tell which usernames exist:
//   node bench/basic-auth-timing.js [--requests N] [--cost C]
// Starts the gateway (bin/gateway, or BENCH_GATEWAY_BIN) with one basic-auth credential hashed at bcrypt cost C
// (default 10, `gateway hash-password`'s), then sends N requests (default 50) with a wrong password for that
// username and N with an unknown username, alternating, one at a time on one keep-alive connection, after a few
// unmeasured ones. Prints one JSON line: the median and the 10th and 90th percentiles of each, in ms.

const http = require('node:http');
const { mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const bcrypt = require('bcryptjs');
const { CORES, startGateway } = require('./processes');

const { values } = parseArgs({ options: { requests: { type: 'string', default: '50' }, cost: { type: 'string', default: '10' } } });
const requests = Number(values.requests);
const cost = Number(values.cost);

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function config() {
  return [
    '_format_version: "3.0"',
    'routes:',
    '  - name: basic',
    '    paths: [/]',
    '    plugins: [{name: basic-auth}, {name: request-termination, config: {status_code: 200, message: ok}}]',
    'consumers:',
    '  - username: alice',
    `    basicauth_credentials: [{username: alice, password: '${bcrypt.hashSync('right', cost)}'}]`,
    '',
  ].join('\n');
}

/** One request's round trip in ms, and its status. */
function timed(agent, port, authorization) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, headers: { authorization } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', reject);
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
function summary(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 100) / 100;
  return { median_ms: round(percentile(sorted, 50)), p10_ms: round(percentile(sorted, 10)), p90_ms: round(percentile(sorted, 90)) };
}

async function main() {
  const file = join(mkdtempSync(join(tmpdir(), 'basic-auth-timing-')), 'kong.yml');
  writeFileSync(file, config());
  const gw = await startGateway(file, String(CORES.proxy), 'basic-auth');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const known = [];
  const unknown = [];
  try {
    for (let i = 0; i < 5; i++) await timed(agent, gw.port, basic(i % 2 ? 'alice' : 'nobody', `warm-${i}`));
    for (let i = 0; i < requests; i++) {
      const a = await timed(agent, gw.port, basic('alice', `wrong-${i}`));
      const b = await timed(agent, gw.port, basic(`nobody-${i}`, `wrong-${i}`));
      if (a.status !== 401 || b.status !== 401) throw new Error(`expected 401s, got ${a.status} and ${b.status}`);
      known.push(a.ms);
      unknown.push(b.ms);
    }
  } finally {
    agent.destroy();
    await gw.stop();
  }
  console.log(JSON.stringify({ cost, requests, known_username_wrong_password: summary(known), unknown_username: summary(unknown) }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
