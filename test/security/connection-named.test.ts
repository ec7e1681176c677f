// A client's Connection header names the headers it sends hop-by-hop, and they are removed before forwarding
// (RFC 9110 7.6.1). It must never remove what the gateway or a plugin sets: naming X-Anonymous-Consumer made an
// anonymous caller reach the upstream looking authenticated. Kong clears the named headers after its plugins ran
// (kong/runloop/handler.lua, "clear hop-by-hop request headers"), with that very effect; here they are dropped on
// arrival. Checked on the bytes the upstream received.
import t from 'tap';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { rawExchange, startRawUpstream, type RawUpstream } from '../helpers/raw';

let raw: RawUpstream;
let gw: RunningGateway;

const ALICE_KEY_ID = 'a11ce000-0000-4000-8000-00000000000a';

t.before(async () => {
  raw = await startRawUpstream();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: raw',
      `    url: http://127.0.0.1:${raw.port}`,
      '    routes:',
      '      - name: keyed',
      '        paths: [/keyed]',
      '        plugins: [{name: key-auth, config: {anonymous: guest}}, {name: acl, config: {allow: [readers]}}]',
      'consumers:',
      '  - username: alice',
      '    custom_id: a-1',
      `    keyauth_credentials: [{id: ${ALICE_KEY_ID}, key: alice-key}]`,
      '    acls: [{group: readers}]',
      '  - username: guest',
      '    acls: [{group: readers}]',
    ),
  );
});

t.teardown(async () => {
  await gw.stop();
  await raw.close();
});

/** Sends `headerLines` on a raw socket and returns the head of the request the upstream received for it. */
async function forwardedHead(headerLines: string[]): Promise<string> {
  const before = raw.received().length;
  const r = await rawExchange(gw.proxyPort, `GET /keyed HTTP/1.1\r\nHost: gw.test\r\n${headerLines.join('\r\n')}\r\n\r\n`);
  if (r.status !== 200) throw new Error(`expected 200, got: ${r.text.slice(0, 200)}`);
  const got = raw.received().slice(before);
  return got.slice(0, got.indexOf('\r\n\r\n') + 2);
}

const header = (head: string, name: string) => new RegExp(`\r\n${name}: ([^\r]*)\r\n`, 'i').exec(head)?.[1];

t.test('Connection: X-Anonymous-Consumer does not hide that the caller is anonymous', async (t) => {
  for (const lines of [
    ['Connection: X-Anonymous-Consumer', 'Connection: close'],
    ['Connection: close, x-anonymous-consumer'],
    ['Connection: close,X-ANONYMOUS-CONSUMER , X-Consumer-Username'],
  ]) {
    const head = await forwardedHead(lines);
    t.equal(header(head, 'x-anonymous-consumer'), 'true', lines.join(' / '));
    t.equal(header(head, 'x-consumer-username'), 'guest', lines.join(' / '));
  }
});

t.test('no header the gateway or a plugin sets can be named away', async (t) => {
  const gatewaySet = [
    'X-Consumer-ID',
    'X-Consumer-Custom-ID',
    'X-Consumer-Username',
    'X-Credential-Identifier',
    'X-Consumer-Groups',
    'X-Request-Id',
    'X-Kong-Request-Id',
    'X-Forwarded-For',
    'X-Forwarded-Proto',
    'X-Forwarded-Host',
    'X-Forwarded-Port',
    'X-Forwarded-Path',
    'X-Real-IP',
    'Via',
  ];
  const head = await forwardedHead([`Connection: close, ${gatewaySet.join(', ')}`, 'apikey: alice-key']);
  t.equal(header(head, 'x-consumer-username'), 'alice');
  t.equal(header(head, 'x-consumer-custom-id'), 'a-1');
  t.match(header(head, 'x-consumer-id'), /^[0-9a-f-]{36}$/);
  t.equal(header(head, 'x-credential-identifier'), ALICE_KEY_ID);
  t.equal(header(head, 'x-consumer-groups'), 'readers', 'set by acl');
  t.equal(header(head, 'x-anonymous-consumer'), undefined);
  t.match(header(head, 'x-request-id'), /^[0-9a-f]{32}$/);
  t.equal(header(head, 'x-kong-request-id'), header(head, 'x-request-id'));
  t.equal(header(head, 'x-forwarded-for'), '127.0.0.1');
  t.equal(header(head, 'x-forwarded-proto'), 'http');
  t.equal(header(head, 'x-forwarded-host'), 'gw.test');
  t.equal(header(head, 'x-forwarded-port'), String(gw.proxyPort));
  t.equal(header(head, 'x-forwarded-path'), '/keyed');
  t.equal(header(head, 'x-real-ip'), '127.0.0.1');
  t.match(header(head, 'via'), /^1\.1 gateway\//);
});

t.test("the client's own named headers are still dropped, framing and TE: trailers kept", async (t) => {
  const head = await forwardedHead([
    'Connection: close, X-Private, X-Forwarded-For, Via, TE, Host',
    'X-Private: between us',
    'X-Forwarded-For: 10.9.9.9',
    'Via: 1.0 client-proxy',
    'TE: trailers',
    'X-Public: yes',
  ]);
  t.equal(header(head, 'x-private'), undefined);
  t.equal(header(head, 'x-forwarded-for'), '127.0.0.1', "the client's X-Forwarded-For was hop-by-hop: not extended");
  t.match(header(head, 'via'), /^1\.1 gateway\//, "the client's Via was hop-by-hop");
  t.equal(header(head, 'te'), 'trailers');
  t.equal(header(head, 'x-public'), 'yes');
  t.equal(header(head, 'host'), `127.0.0.1:${raw.port}`);
  t.equal(header(head, 'x-anonymous-consumer'), 'true');
});
