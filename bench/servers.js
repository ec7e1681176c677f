'use strict';
// The servers the gateway is measured against, one per process:
//   node bench/servers.js upstream                   a minimal upstream: a fixed small JSON body
//   node bench/servers.js http-proxy --target PORT   bare http-proxy with a keep-alive agent (the baseline)
//   node bench/servers.js pipe --target PORT         node:http request piped both ways (an alternative)
//   node bench/servers.js undici --target PORT       undici's stream() into the response (an alternative)
//   node bench/servers.js fast-gateway --target PORT      fast-gateway as shipped, every path to the upstream (a peer)
//   node bench/servers.js fast-gateway-key --target PORT  the same behind an apikey check: the peer of case (b)
// Each listens on an ephemeral loopback port and prints {"port": N} on stdout.

const http = require('node:http');
const { randomUUID } = require('node:crypto');

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

/**
 * fast-gateway with its defaults (restana's: each request handled on setImmediate, security headers added; the
 * proxy's own keep-alive agent), one route taking every path; `middlewares` run before the proxy.
 */
function fastGateway(target, middlewares = []) {
  const gateway = require('fast-gateway');
  const server = http.createServer({ keepAliveTimeout: 60_000 });
  gateway({ restana: { server }, middlewares, routes: [{ prefix: '', target: `http://127.0.0.1:${target}` }] });
  return server;
}

/**
 * What case (b) asks of the gateway, as a fast-gateway user writes it: the key looked up in a Map of case (b)'s
 * consumers' keys, the consumer told to the upstream as key-auth does, else 401 with a JSON message as Kong's.
 */
function fastGatewayKey(target) {
  const { config } = require('./configs').keyAuth({ upstreamPort: target });
  const keyName = config.services[0].plugins[0].config.key_names[0];
  const consumers = new Map();
  for (const c of config.consumers) {
    const consumer = { id: randomUUID(), username: c.username };
    for (const credential of c.keyauth_credentials) consumers.set(credential.key, consumer);
  }
  const noKey = Buffer.from(JSON.stringify({ message: 'No API key found in request' }));
  const invalid = Buffer.from(JSON.stringify({ message: 'Unauthorized' }));
  const keyAuth = (req, res, next) => {
    const key = req.headers[keyName];
    const consumer = typeof key === 'string' ? consumers.get(key) : undefined;
    if (consumer === undefined) {
      const body = key === undefined ? noKey : invalid;
      res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'WWW-Authenticate': 'Key' });
      res.end(body);
      return;
    }
    req.headers['x-consumer-id'] = consumer.id;
    req.headers['x-consumer-username'] = consumer.username;
    next();
  };
  return fastGateway(target, [keyAuth]);
}

const SERVERS = { upstream, 'http-proxy': httpProxyBaseline, pipe: pipeBaseline, undici: undiciBaseline, 'fast-gateway': fastGateway, 'fast-gateway-key': fastGatewayKey };

function main(argv) {
  const kind = argv[0];
  const t = argv.indexOf('--target');
  const target = t === -1 ? undefined : Number(argv[t + 1]);
  const make = Object.hasOwn(SERVERS, kind) ? SERVERS[kind] : undefined;
  if (make === undefined || (kind !== 'upstream' && !(target > 0))) {
    process.stderr.write(`usage: node bench/servers.js upstream | ${Object.keys(SERVERS).slice(1).join('|')} --target PORT\n`);
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

if (require.main === module) main(process.argv.slice(2));

module.exports = { UPSTREAM_BODY: BODY.toString() };
