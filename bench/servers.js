'use strict';
// The servers the gateway is measured against, one per process:
//   node bench/servers.js upstream                   a minimal upstream: a fixed small JSON body
//   node bench/servers.js http-proxy --target PORT   bare http-proxy with a keep-alive agent (the baseline)
//   node bench/servers.js pipe --target PORT         node:http request piped both ways (an alternative)
//   node bench/servers.js undici --target PORT       undici's stream() into the response (an alternative)
// Each listens on an ephemeral loopback port and prints {"port": N} on stdout.

const http = require('node:http');

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'bench-upstream' }));
// Same pool shape as the gateway's own agent (src/proxy/forward.ts), so the baselines differ only in code.
const AGENT_OPTIONS = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' };
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function upstream() {
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': BODY.length });
      res.end(BODY);
    });
  });
}

function httpProxyBaseline(target) {
  const httpProxy = require('http-proxy');
  const agent = new http.Agent(AGENT_OPTIONS);
  const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${target}`, agent });
  proxy.on('error', (_err, _req, res) => {
    if (!res.headersSent && res.writeHead) res.writeHead(502);
    res.end();
  });
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => proxy.web(req, res));
}

function pipeBaseline(target) {
  const agent = new http.Agent(AGENT_OPTIONS);
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const headers = {};
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name];
    const out = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers, agent }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
}

function undiciBaseline(target) {
  const { Pool } = require('undici');
  const pool = new Pool(`http://127.0.0.1:${target}`, { connections: 256, pipelining: 1 });
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const headers = {};
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name];
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .stream({ path: req.url, method: req.method, headers, body: hasBody ? req : undefined }, ({ statusCode, headers: upHeaders }) => {
        for (const name of HOP_BY_HOP) delete upHeaders[name];
        res.writeHead(statusCode, upHeaders);
        return res;
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
}

function main(argv) {
  const kind = argv[0];
  const t = argv.indexOf('--target');
  const target = t === -1 ? undefined : Number(argv[t + 1]);
  const make = { upstream, 'http-proxy': httpProxyBaseline, pipe: pipeBaseline, undici: undiciBaseline }[kind];
  if (make === undefined || (kind !== 'upstream' && !(target > 0))) {
    process.stderr.write('usage: node bench/servers.js upstream | http-proxy|pipe|undici --target PORT\n');
    process.exit(2);
  }
  const server = make(target);
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    if (kind !== 'upstream') return process.stdout.write(`${JSON.stringify({ port })}\n`);
    // Also on 127.0.0.2 and .3, same port, same process: case (lb) balances over the three addresses.
    let pending = 2;
    const ready = () => --pending === 0 && process.stdout.write(`${JSON.stringify({ port })}\n`);
    for (const host of ['127.0.0.2', '127.0.0.3']) upstream().listen(port, host, ready);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main(process.argv.slice(2));
