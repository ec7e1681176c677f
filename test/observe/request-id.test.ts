// X-Request-Id: honoured when acceptable, else generated; sent upstream and back, in error bodies and log lines.
import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { waitFor } from '../helpers/wait';

let upstream: Upstream;
let gw: RunningGateway;

t.before(async () => {
  upstream = await startUpstream((req, res) => {
    // An upstream with ids of its own: the gateway's id still wins on the way back.
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-Request-Id': 'upstream-made-id', 'X-Kong-Request-Id': 'upstream-made-id' });
    res.end(JSON.stringify({ id: req.headers['x-request-id'], kongId: req.headers['x-kong-request-id'] }));
  });
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      `  - {name: up, url: "http://127.0.0.1:${upstream.port}", routes: [{name: open, paths: [/open]}, {name: keyed, paths: [/keyed], plugins: [{name: key-auth}]}]}`,
      '  - {name: down, url: "http://127.0.0.1:9", routes: [{name: broken, paths: [/broken]}]}',
    ),
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const accessLine = (id: string) =>
  waitFor(`the access line of ${id}`, () =>
    gw
      .output()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.request_id === id),
  );
const GENERATED = /^[0-9a-f]{32}$/;

t.test('an acceptable incoming X-Request-Id is used everywhere', async (t) => {
  for (const id of ['0f8fad5b-d9cb-469f-a165-70867728950e', 'trace.01:span_02-x', 'x'.repeat(200)]) {
    const r = await request(gw.proxyPort, '/open', { headers: { 'X-Request-Id': id } });
    t.equal(r.status, 200);
    t.same(r.json(), { id, kongId: id }, 'sent upstream as X-Request-Id and X-Kong-Request-Id');
    t.equal(r.headers['x-request-id'], id, 'sent back to the client');
    t.equal(r.headers['x-kong-request-id'], id);
    t.equal((await accessLine(id)).status, 200, 'in the access log line');
  }
});

t.test('an unacceptable one is replaced by a generated id, never trimmed or escaped', async (t) => {
  const cases: Array<[string, Record<string, string | string[]>]> = [
    ['201 characters', { 'X-Request-Id': 'x'.repeat(201) }],
    ['a space', { 'X-Request-Id': 'two words' }],
    ['a quote', { 'X-Request-Id': 'a"b' }],
    ['a slash', { 'X-Request-Id': 'a/b' }],
    ['an empty value', { 'X-Request-Id': '' }],
    ['two headers', { 'X-Request-Id': ['one', 'two'] }],
    ['none', {}],
  ];
  const seen = new Set<string>();
  for (const [what, headers] of cases) {
    const r = await request(gw.proxyPort, '/open', { headers });
    const id = r.headers['x-request-id'] as string;
    t.match(id, GENERATED, what);
    t.same(r.json(), { id, kongId: id }, `${what}: the generated id goes upstream`);
    t.equal(r.headers['x-kong-request-id'], id, what);
    seen.add(id);
  }
  t.equal(seen.size, cases.length, 'a new id per request');
});

t.test('gateway answers carry the id in their headers and error bodies', async (t) => {
  const json = await request(gw.proxyPort, '/keyed', { headers: { 'X-Request-Id': 'refused-1' } });
  t.equal(json.status, 401);
  t.same(json.json(), { message: 'No API key found in request', request_id: 'refused-1' });
  t.equal(json.headers['x-request-id'], 'refused-1');
  t.equal(json.headers['x-kong-request-id'], 'refused-1');
  t.equal((await accessLine('refused-1')).reason, 'no credentials');

  const text = await request(gw.proxyPort, '/broken', { headers: { 'X-Request-Id': 'broken-1' } });
  t.equal(text.status, 502);
  t.equal(text.body, 'An invalid response was received from the upstream server\nrequest_id: broken-1\n');
  t.equal(text.headers['x-request-id'], 'broken-1');

  const none = await request(gw.proxyPort, '/nothing', { headers: { 'X-Request-Id': 'lost-1' } });
  t.equal(none.status, 404);
  t.equal(none.json().request_id, 'lost-1');
  t.equal(none.headers['x-request-id'], 'lost-1');
  t.equal((await accessLine('lost-1')).reason, 'no route');
});
