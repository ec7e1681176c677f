'use strict';
// Kong 3.x declarative configs for the benchmark cases. Every generator returns a plain object (written as
// YAML by writeConfig) plus what the load generator must send to pass its plugins.

const { createHash, createHmac, generateKeyPairSync, sign } = require('node:crypto');
const bcrypt = require('bcryptjs');
const { stringify } = require('yaml');

const ROUTE_PATH = '/bench';
const KEY_HEADER = 'apikey';
// A limit no benchmark run can reach: requests are counted, never refused.
const UNREACHABLE_LIMIT = 1_000_000_000;
// bcrypt's cost only matters on a cache miss; 4 keeps generating the hashes fast.
const BCRYPT_COST = 4;

/** A deterministic, key-like secret: runs stay comparable and files reproducible. */
function keyFor(i) {
  return createHash('sha256').update(`bench-key-${i}`).digest('hex').slice(0, 32);
}

function consumerName(i) {
  return `consumer-${String(i).padStart(6, '0')}`;
}

function service(upstreamPort, plugins) {
  const s = { name: 'bench-upstream', url: `http://127.0.0.1:${upstreamPort}`, routes: [{ name: 'bench', paths: [ROUTE_PATH] }] };
  if (plugins.length > 0) s.plugins = plugins;
  return s;
}

function doc(services, consumers) {
  const d = { _format_version: '3.0', services };
  if (consumers !== undefined) d.consumers = consumers;
  return d;
}

/** One request shape for every connection. */
function fixedRequest(headers) {
  return [{ method: 'GET', path: ROUTE_PATH, headers }];
}

/** (a) one route, no plugins. */
function plain({ upstreamPort }) {
  return { config: doc([service(upstreamPort, [])]), requests: fixedRequest(undefined) };
}

/**
 * (lb) one route whose service names an upstream of three targets, round-robin: the same upstream server reached
 * on three loopback addresses (127.0.0.1-3, one connection pool each), so the load it carries matches (a)'s.
 */
function balanced({ upstreamPort }) {
  const targets = [1, 2, 3].map((n) => ({ target: `127.0.0.${n}:${upstreamPort}` }));
  const upstreams = [{ name: 'bench-upstreams', algorithm: 'round-robin', targets }];
  const services = [{ name: 'bench-upstream', host: 'bench-upstreams', routes: [{ name: 'bench', paths: [ROUTE_PATH] }] }];
  return { config: { _format_version: '3.0', upstreams, services }, requests: fixedRequest(undefined) };
}

/** (b) key-auth, one consumer. */
function keyAuth({ upstreamPort }) {
  const consumers = [{ username: consumerName(0), keyauth_credentials: [{ key: keyFor(0) }] }];
  const plugins = [{ name: 'key-auth', config: { key_names: [KEY_HEADER] } }];
  return { config: doc([service(upstreamPort, plugins)], consumers), requests: fixedRequest({ [KEY_HEADER]: keyFor(0) }) };
}

/**
 * (c) key-auth + acl + local rate-limiting (never reached), the key rotating over every consumer; without
 * `rateLimiting`, the same minus the rate-limiting plugin (what the plugin costs is the difference).
 */
function keyAuthAclRateLimit({ upstreamPort, consumers: count = 1000, rateLimiting = true }) {
  const consumers = [];
  const requests = [];
  for (let i = 0; i < count; i++) {
    consumers.push({ username: consumerName(i), keyauth_credentials: [{ key: keyFor(i) }], acls: [{ group: 'bench' }] });
    requests.push({ method: 'GET', path: ROUTE_PATH, headers: { [KEY_HEADER]: keyFor(i) } });
  }
  const plugins = [
    { name: 'key-auth', config: { key_names: [KEY_HEADER] } },
    { name: 'acl', config: { allow: ['bench'] } },
  ];
  if (rateLimiting) plugins.push({ name: 'rate-limiting', config: { second: UNREACHABLE_LIMIT, policy: 'local', limit_by: 'consumer' } });
  return { config: doc([service(upstreamPort, plugins)], consumers), requests };
}

/** (d) basic-auth, bcrypt-hashed passwords; the warm-up fills the verification cache. */
function basicAuth({ upstreamPort, consumers: count = 100 }) {
  const consumers = [];
  const requests = [];
  for (let i = 0; i < count; i++) {
    const username = consumerName(i);
    const password = keyFor(i);
    consumers.push({ username, basicauth_credentials: [{ username, password: bcrypt.hashSync(password, BCRYPT_COST) }] });
    const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    requests.push({ method: 'GET', path: ROUTE_PATH, headers: { authorization } });
  }
  const plugins = [{ name: 'basic-auth', config: {} }];
  return { config: doc([service(upstreamPort, plugins)], consumers), requests };
}

/** (e) 100,000 consumers with keys; the route requires a key and traffic rotates over a sample of them. */
function manyConsumers({ upstreamPort, consumers: count = 100_000 }) {
  const consumers = new Array(count);
  for (let i = 0; i < count; i++) consumers[i] = { username: consumerName(i), keyauth_credentials: [{ key: keyFor(i) }] };
  const plugins = [{ name: 'key-auth', config: { key_names: [KEY_HEADER] } }];
  const requests = [];
  const step = Math.max(1, Math.floor(count / 1000));
  for (let i = 0; i < count; i += step) requests.push({ method: 'GET', path: ROUTE_PATH, headers: { [KEY_HEADER]: keyFor(i) } });
  return { config: doc([service(upstreamPort, plugins)], consumers), requests };
}

const JWT_SECRET = keyFor('jwt');

function jwtToken(claims, alg, key) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ typ: 'JWT', alg })}.${b64(claims)}`;
  const signature = alg === 'HS256' ? createHmac('sha256', key).update(input).digest() : sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

/** jwt with one consumer: `tokens` tokens (distinct by jti) signed with HS256 or RS256, claims exp checked. */
function jwtCase({ upstreamPort }, alg, tokens) {
  const credential = { key: 'bench-issuer', algorithm: alg };
  let signingKey = JWT_SECRET;
  if (alg === 'HS256') credential.secret = JWT_SECRET;
  else {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    credential.rsa_public_key = pair.publicKey.export({ type: 'spki', format: 'pem' });
    signingKey = pair.privateKey;
  }
  const consumers = [{ username: consumerName(0), jwt_secrets: [credential] }];
  const plugins = [{ name: 'jwt', config: { claims_to_verify: ['exp'] } }];
  const exp = Math.floor(Date.now() / 1000) + 86400;
  const authorizations = [];
  for (let i = 0; i < tokens; i++) authorizations.push(`Bearer ${jwtToken({ iss: 'bench-issuer', exp, jti: String(i) }, alg, signingKey)}`);
  const request = { method: 'GET', path: ROUTE_PATH, headers: { authorization: authorizations[0] } };
  if (tokens > 1) {
    // One counter for all connections (autocannon cycles a request list per connection, in step): each request
    // sent carries the next token, so no token comes back before the cache has dropped it.
    let sent = 0;
    request.setupRequest = (req) => ({ ...req, headers: { ...req.headers, authorization: authorizations[sent++ % tokens] } });
  }
  return { config: doc([service(upstreamPort, plugins)], consumers), requests: [request] };
}

/** jwt HS256, one token reused (the common case: a client keeps its token until it expires). */
const jwtHs256 = (params) => jwtCase(params, 'HS256', 1);
/** jwt RS256, one token reused: verified once, then remembered until its exp. */
const jwtRs256 = (params) => jwtCase(params, 'RS256', 1);
/** jwt RS256, a new token every request: more distinct tokens than the verified-token cache keeps, in turn. */
const jwtRs256New = (params) => jwtCase(params, 'RS256', 5000);

/**
 * hmac-auth, hmac-sha256 over Date and the request line. The Date is made when the config is, so clock_skew is
 * a day here for the signatures to stay valid through a long run.
 */
function hmacSha256({ upstreamPort }) {
  const secret = keyFor('hmac');
  const consumers = [{ username: consumerName(0), hmacauth_credentials: [{ username: 'bench', secret }] }];
  const plugins = [{ name: 'hmac-auth', config: { clock_skew: 86400 } }];
  const date = new Date().toUTCString();
  const signature = createHmac('sha256', secret).update(`date: ${date}\nGET ${ROUTE_PATH} HTTP/1.1`).digest('base64');
  const authorization = `hmac username="bench", algorithm="hmac-sha256", headers="date request-line", signature="${signature}"`;
  return { config: doc([service(upstreamPort, plugins)], consumers), requests: fixedRequest({ date, authorization }) };
}

/**
 * (t) cors + request-transformer + response-transformer (headers only) on one route: what a browser-facing API
 * commonly stacks. The requests carry an Origin, so cors answers with its headers.
 */
function transforms({ upstreamPort }) {
  const plugins = [
    { name: 'cors', config: { origins: ['https://app.example'], credentials: true } },
    { name: 'request-transformer', config: { add: { headers: ['x-gateway:bench'] }, remove: { headers: ['x-debug'] }, rename: { headers: ['x-client:x-client-id'] } } },
    { name: 'response-transformer', config: { add: { headers: ['x-served-by:gateway'] }, remove: { headers: ['x-powered-by'] } } },
  ];
  const headers = { origin: 'https://app.example', 'x-client': 'bench' };
  return { config: doc([service(upstreamPort, plugins)]), requests: fixedRequest(headers) };
}

/**
 * http-log on every request, to a local collector (the bench upstream, which takes any POST): each entry is built
 * and queued; batches of up to 100 leave at least once a second, as a Kong user shipping logs would set it.
 */
function httpLog({ upstreamPort, collectorPort = upstreamPort }) {
  const plugins = [{ name: 'http-log', config: { http_endpoint: `http://127.0.0.1:${collectorPort}/collect`, queue: { max_batch_size: 100, max_coalescing_delay: 1 } } }];
  return { config: doc([service(upstreamPort, plugins)]), requests: fixedRequest({}) };
}

/**
 * prometheus (global, Kong's default metrics) and http-log on every request, to the local collector: what a file
 * shipping logs and exposing metrics carries.
 */
function prometheusHttpLog({ upstreamPort, collectorPort = upstreamPort }) {
  const { config, requests } = httpLog({ upstreamPort, collectorPort });
  config.plugins = [...(config.plugins ?? []), { name: 'prometheus', config: { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true } }];
  return { config, requests };
}

/**
 * opentelemetry sampling every request (sampling_rate 1.0): spans built, OTLP-encoded and POSTed in batches of 200
 * to the local collector (the bench upstream, which takes any POST).
 */
function openTelemetry({ upstreamPort, collectorPort = upstreamPort }) {
  const plugins = [{ name: 'opentelemetry', config: { traces_endpoint: `http://127.0.0.1:${collectorPort}/v1/traces`, sampling_rate: 1 } }];
  return { config: doc([service(upstreamPort, plugins)]), requests: fixedRequest({}) };
}

/** The text of a generated config: YAML, as people write kong.yml, or JSON. */
function configText(config, format = 'yaml') {
  if (format === 'json') return JSON.stringify(config, null, 1);
  return stringify(config, { lineWidth: 0, aliasDuplicateObjects: false });
}

module.exports = {
  ROUTE_PATH, UNREACHABLE_LIMIT, plain, balanced, keyAuth, keyAuthAclRateLimit, basicAuth, manyConsumers, jwtHs256, jwtRs256, jwtRs256New, hmacSha256, transforms, httpLog, prometheusHttpLog, openTelemetry,
  configText, keyFor,
};
