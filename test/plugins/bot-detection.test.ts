import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { rawExchange } from '../helpers/raw';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';

const SPEC = 'spec/03-plugins/21-bot-detection/01-access_spec.lua';
const HELLOWORLD = 'HelloWorld';
const FACEBOOK = 'facebookexternalhit/1.1';
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/50.0.2661.102 Safari/537.36';

let gw: RunningGateway;
let global: RunningGateway;
let upstream: Upstream;

t.before(async () => {
  upstream = await startUpstream();
  const route = (host: string, config: object) => ({ name: host, hosts: [host], service: 'up', plugins: [{ name: 'bot-detection', config }] });
  const services = [{ name: 'up', url: `http://127.0.0.1:${upstream.port}` }];
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services,
      routes: [route('bot.test', {}), route('bot2.test', { deny: [HELLOWORLD] }), route('bot3.test', { allow: [FACEBOOK] })],
    }),
  );
  global = await startGateway(
    JSON.stringify({ _format_version: '3.0', services, routes: [{ name: 'r', hosts: ['bot.test'], service: 'up' }], plugins: [{ name: 'bot-detection' }] }),
  );
});
t.teardown(async () => {
  await Promise.all([gw.stop(), global.stop()]);
  await upstream.close();
});

const as = (g: RunningGateway, host: string, userAgent?: string) =>
  request(g.proxyPort, '/request', { headers: userAgent === undefined ? { host } : { host, 'user-agent': userAgent } });

t.test(`${SPEC}: allows regular requests`, async (t) => {
  for (const ua of [undefined, CHROME, HELLOWORLD, 'curl/7.43.0']) t.equal((await as(gw, 'bot.test', ua)).status, 200, String(ua));
});

t.test(`${SPEC}: blocks bots with Kong's 403 Forbidden`, async (t) => {
  const before = upstream.seen.length;
  for (const ua of ['Googlebot/2.1 (+http://www.google.com/bot.html)', FACEBOOK]) {
    const r = await as(gw, 'bot.test', ua);
    t.equal(r.status, 403, ua);
    t.equal(r.json().message, 'Forbidden');
  }
  t.equal(upstream.seen.length, before);
});

t.test(`${SPEC}: blocks denied user-agents`, async (t) => {
  t.equal((await as(gw, 'bot2.test', HELLOWORLD)).status, 403);
  t.equal((await as(gw, 'bot2.test', 'curl/7.43.0')).status, 200);
});

t.test(`${SPEC}: allows allowed user-agents, even a known bot`, async (t) => {
  t.equal((await as(gw, 'bot3.test', FACEBOOK)).status, 200);
  t.equal((await as(gw, 'bot3.test', 'Googlebot/2.1')).status, 403, 'other bots are still refused');
});

t.test(`${SPEC}: configured global: allows regular requests, blocks bots`, async (t) => {
  for (const ua of [undefined, CHROME, HELLOWORLD, 'curl/7.43.0']) t.equal((await as(global, 'bot.test', ua)).status, 200, String(ua));
  t.equal((await as(global, 'bot.test', FACEBOOK)).status, 403);
});

t.test('kong/plugins/bot-detection/rules.lua: a sample of the built-in list', async (t) => {
  const bots = ['Twitterbot/1.0', 'Pingdom.com_bot_version_1.4', 'python-requests Scrapy/2.1', 'aws-cli/2.13.0', 'Go-http-client/1.1', 'okhttp/4.9.0', 'axios/1.6.0', 'SemrushBot/7', 'some crawler 1.0'];
  for (const ua of bots) t.equal((await as(gw, 'bot.test', ua)).status, 403, ua);
});

t.test('kong/plugins/bot-detection/handler.lua: two User-Agent headers are refused with 400', async (t) => {
  const r = await rawExchange(gw.proxyPort, 'GET /request HTTP/1.1\r\nHost: bot.test\r\nUser-Agent: a\r\nUser-Agent: b\r\nConnection: close\r\n\r\n');
  t.equal(r.status, 400);
  t.equal(JSON.parse(r.body).message, 'Only one User-Agent header allowed');
});

t.test('spec/03-plugins/21-bot-detection/03-api_spec.lua: fails when using a bad regex in allow or deny', async (t) => {
  const conf = (config: string) => ['_format_version: "3.0"', 'plugins:', '  - name: bot-detection', `    config: ${config}`, ''].join('\n');
  t.match(errorsOf(conf("{allow: ['(https?:\\/\\/.*']}")), [/config\.allow\[0\]: not a valid regex: \(https\?:\\\/\\\/\.\*/]);
  t.match(errorsOf(conf("{deny: [ok, '(https?:\\/\\/.*']}")), [/config\.deny\[1\]: not a valid regex/]);
  t.same(errorsOf(conf('{allow: null, deny: [helloworld]}')), []);
});

t.test('Kong no_consumer: bot-detection cannot be scoped to a consumer', async (t) => {
  const text = ['_format_version: "3.0"', 'consumers: [{username: alice}]', 'plugins: [{name: bot-detection, consumer: alice}]', ''].join('\n');
  t.match(errorsOf(text), [/plugins\[0\]\.consumer: value must be null \('bot-detection' cannot be scoped to a consumer/]);
});

t.test('the built-in list reads the first 512 characters of a User-Agent; allow and deny read all of it', async (t) => {
  t.equal((await as(gw, 'bot.test', `${FACEBOOK} ${'a'.repeat(4000)}`)).status, 403, 'a bot named early is refused');
  t.equal((await as(gw, 'bot.test', `${'a '.repeat(300)}${FACEBOOK}`)).status, 200, 'a bot name past 512 characters is not read');
  t.equal((await as(gw, 'bot2.test', `${'a '.repeat(300)}${HELLOWORLD}`)).status, 403, 'deny reads the whole value');
});
