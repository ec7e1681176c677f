import t from 'tap';
import { request } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

let gw: RunningGateway;

const rt = (route: string, config: string[]) => [
  `  - name: ${route}`,
  `    paths: [/${route}]`,
  '    plugins:',
  '      - name: request-termination',
  '        config:',
  ...config.map((c) => `          ${c}`),
];

t.before(async () => {
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: svc',
      '    url: http://127.0.0.1:9/base',
      'routes:',
      ...rt('default', ['{}']).slice(0, 4),
      ...rt('custom', ['status_code: 403', 'message: Go away']),
      ...rt('known', ['status_code: 404']),
      ...rt('reason', ['status_code: 418']),
      ...rt('raw', ['status_code: 200', 'body: "<h1>hi</h1>"', 'content_type: text/html']),
      ...rt('rawjson', ['status_code: 201', "body: '{\"ok\":true}'"]),
      ...rt('echo', ['status_code: 200', 'echo: true']),
      ...rt('trig', ['status_code: 410', 'trigger: X-Stop']),
      '  - name: echo-svc',
      '    service: svc',
      '    paths: [/svc-echo]',
      '    plugins: [{name: request-termination, config: {echo: true, status_code: 202}}]',
    ),
  );
});
t.teardown(() => gw.stop());

t.test('defaults: 503 Service unavailable', async (t) => {
  const r = await request(gw.proxyPort, '/default');
  t.equal(r.status, 503);
  t.equal(r.json().message, 'Service unavailable');
  t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
});

t.test('status_code and message', async (t) => {
  const r = await request(gw.proxyPort, '/custom');
  t.equal(r.status, 403);
  t.equal(r.json().message, 'Go away');
  t.equal((await request(gw.proxyPort, '/known')).json().message, 'Not found');
  t.equal((await request(gw.proxyPort, '/reason')).json().message, "I'm a Teapot");
});

t.test('body and content_type', async (t) => {
  const r = await request(gw.proxyPort, '/raw');
  t.equal(r.status, 200);
  t.equal(r.body, '<h1>hi</h1>');
  t.equal(r.headers['content-type'], 'text/html');
  const j = await request(gw.proxyPort, '/rawjson');
  t.equal(j.status, 201);
  t.same(j.json(), { ok: true });
  t.equal(j.headers['content-type'], 'application/json; charset=utf-8');
});

t.test('HEAD gets the status without a body', async (t) => {
  const r = await request(gw.proxyPort, '/custom', { method: 'HEAD' });
  t.equal(r.status, 403);
  t.equal(r.body, '');
});

t.test('echo returns the request, route and service', async (t) => {
  const r = await request(gw.proxyPort, '/echo/sub?a=1&b=two', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Test': 'yes', Host: 'echo.test:9999' },
    body: '{"hello":"world"}',
  });
  t.equal(r.status, 200);
  const e = r.json();
  t.equal(e.request.method, 'POST');
  t.equal(e.request.path, '/echo/sub');
  t.equal(e.request.host, 'echo.test');
  t.equal(e.request.port, gw.proxyPort);
  t.same(e.request.query, { a: '1', b: 'two' });
  t.equal(e.request.headers['x-test'], 'yes');
  t.same(e.request.body, { hello: 'world' });
  t.equal(e.request.raw_body, '{"hello":"world"}');
  t.equal(e.matched_route.name, 'echo');
  t.equal(e.matched_service, null);
  const s = await request(gw.proxyPort, '/svc-echo');
  t.equal(s.status, 202);
  t.equal(s.json().matched_service.name, 'svc');
  t.equal(s.json().matched_service.path, '/base');
});

t.test('trigger: only when the header or query parameter is present', async (t) => {
  const pass = await request(gw.proxyPort, '/trig');
  t.equal(pass.status, 503, 'not triggered: the serviceless route answers 503 no Service');
  t.equal(pass.json().message, 'no Service found with those values');
  t.equal((await request(gw.proxyPort, '/trig', { headers: { 'x-stop': '1' } })).status, 410);
  t.equal((await request(gw.proxyPort, '/trig?X-Stop')).status, 410);
  t.equal((await request(gw.proxyPort, '/trig?x-stop=1')).status, 503, 'query names are case-sensitive');
});
