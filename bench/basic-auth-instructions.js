'use strict';
// basic-auth's access() alone, for credentials already verified (case d's path without the proxy around it):
//   valgrind --tool=callgrind node bench/basic-auth-instructions.js DIST N
// with N = 0 and N = 50000: the difference of the two runs' instruction totals over N is the instructions of one
// call (the fake request context's allocation included, the same for every build). DIST: a build's dist/ folder.
const dist = require('node:path').resolve(process.argv[2] ?? `${__dirname}/../dist`);
const N = Number(process.argv[3] ?? 50000);
const bcrypt = require('bcryptjs');
const { basicAuth } = require(dist + '/plugins/basic-auth/index.js');
const consumer = Object.freeze({ id: 'c1', username: 'consumer-1' });
const users = new Map();
for (let i = 0; i < 100; i++) users.set(`user${i}`, Object.freeze({ id: `cred${i}`, consumer: 'c1', username: `user${i}`, password: bcrypt.hashSync(`pw${i}`, 4) }));
const snapshot = { basicAuthByUsername: users, basicAuthDecoy: users.get('user0'), consumersById: new Map([['c1', consumer]]) };
const compiled = basicAuth.compile({ hide_credentials: false, realm: 'service', anonymous: null }, {});
const headers = Array.from({ length: 100 }, (_, i) => `Basic ${Buffer.from(`user${i}:pw${i}`).toString('base64')}`);
function ctxFor(i) {
  const req = { method: 'GET', headers: { host: 'x', authorization: headers[i % 100] } };
  return {
    req, snapshot, credential: undefined, consumer: undefined, anonymous: false, hiddenHeaders: undefined,
    clientHeader(name) { return this.req.headers[name]; },
    hideHeader(name) { delete this.req.headers[name]; },
    error(status) { throw new Error(`refused ${status}`); },
    respond(status) { throw new Error(`refused ${status}`); },
  };
}
(async () => {
  for (let i = 0; i < 100; i++) await basicAuth.access(ctxFor(i), compiled); // every password verified once (bcrypt workers)
  for (let i = 0; i < 20000; i++) { const r = basicAuth.access(ctxFor(i), compiled); if (r instanceof Promise) await r; } // JIT warm
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { const c = ctxFor(i); const r = basicAuth.access(c, compiled); if (r !== undefined || c.credential === undefined) throw new Error('not remembered'); }
  console.log('done', N, Number(process.hrtime.bigint() - t0) / 1e6, 'ms');
  process.exit(0);
})();
