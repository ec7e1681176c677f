import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { IpRanges, parseCidr } from '../../src/proxy/ip-ranges';
import { ClientAddresses, parseTrustedIps } from '../../src/proxy/client-address';

const request = (peer: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;

t.test('spec/03-plugins/17-ip-restriction/01-schema_spec.lua: which addresses and CIDRs are valid', async (t) => {
  for (const ok of ['127.0.0.1', '127.0.0.1/32', '127.0.0.1/8', '0.0.0.0/0', '::', '::/0', '::/1', '::/128', '::1', 'fe80::/8', '2001:db8::1:0:0:1', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8']) {
    t.not(parseCidr(ok), undefined, ok);
  }
  for (const bad of ['hello', '0.0.0.0/a', '0.0.0.0/-1', '0.0.0.0/33', '::/a', '::/-1', '::/129', '::1/a', '::1/-1', '::1/129', '256.0.0.1', '1.2.3', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1', '1:', '']) {
    t.equal(parseCidr(bad), undefined, bad);
  }
});

t.test('IpRanges: addresses and blocks of both families, host bits ignored, overlaps merged', async (t) => {
  const set = IpRanges.of(['10.0.0.0/8', '10.1.0.0/16', '192.168.1.7', '127.0.0.1/8', 'fe80::/10', '2001:db8::1']);
  for (const yes of ['10.0.0.0', '10.255.255.255', '10.1.2.3', '192.168.1.7', '127.9.9.9', 'fe80::1', 'febf:ffff::1', '2001:db8::1', '2001:db8:0:0:0:0:0:1', '::ffff:10.2.3.4']) {
    t.ok(set.has(yes), yes);
  }
  for (const no of ['11.0.0.0', '9.255.255.255', '192.168.1.8', 'fec0::1', '2001:db8::2', '::1', 'nonsense', '']) t.notOk(set.has(no), no);
  t.ok(IpRanges.of(['0.0.0.0/0']).has('255.255.255.255'));
  t.ok(IpRanges.of(['::/0']).has('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  t.notOk(IpRanges.of(['::/0']).has('1.2.3.4'), 'IPv4 is not in an IPv6 block');
  t.ok(IpRanges.of([]).empty);
});

t.test('trusted_ips is parsed as Kong writes it; a bad entry is named', async (t) => {
  t.same(parseTrustedIps('0.0.0.0/0, ::/0'), ['0.0.0.0/0', '::/0']);
  t.throws(() => parseTrustedIps('10.0.0.0/8, nope'), /invalid ip or cidr range: 'nope'/);
});

t.test('no trusted proxy (the default): the peer address, whatever the headers say', async (t) => {
  const none = new ClientAddresses();
  t.equal(none.of(request('127.0.0.1', { 'x-real-ip': '1.1.1.1', 'x-forwarded-for': '2.2.2.2' })), '127.0.0.1');
  t.notOk(none.trustsPeer(request('127.0.0.1')));
});

t.test("nginx realip: a trusted peer's header names the client; an untrusted peer's does not", async (t) => {
  const realIp = new ClientAddresses({ trustedIps: ['10.0.0.0/8'], header: 'X-Real-IP', recursive: false });
  t.equal(realIp.of(request('10.0.0.5', { 'x-real-ip': '203.0.113.9' })), '203.0.113.9');
  t.equal(realIp.of(request('192.0.2.1', { 'x-real-ip': '203.0.113.9' })), '192.0.2.1', 'untrusted peer');
  t.equal(realIp.of(request('10.0.0.5')), '10.0.0.5', 'no header');
  t.equal(realIp.of(request('10.0.0.5', { 'x-real-ip': 'garbage' })), '10.0.0.5', 'not an address');
  t.equal(realIp.of(request('10.0.0.5', { 'x-real-ip': '203.0.113.9:4444' })), '203.0.113.9', 'a port is dropped');
  t.equal(realIp.of(request('10.0.0.5', { 'x-real-ip': '[2001:db8::7]:4444' })), '2001:db8::7', 'bracketed IPv6');
  t.equal(realIp.of(request('::ffff:10.0.0.5', { 'x-real-ip': '203.0.113.9' })), '203.0.113.9', 'a dual-stack socket’s IPv4 peer');
});

t.test('X-Forwarded-For: its last entry, or (recursive) the last one that is not a trusted proxy', async (t) => {
  const opts = { trustedIps: ['10.0.0.0/8'], header: 'X-Forwarded-For' };
  const last = new ClientAddresses({ ...opts, recursive: false });
  const walk = new ClientAddresses({ ...opts, recursive: true });
  const xff = '198.51.100.1, 203.0.113.9, 10.0.0.7';
  t.equal(last.of(request('10.0.0.5', { 'x-forwarded-for': xff })), '10.0.0.7');
  t.equal(walk.of(request('10.0.0.5', { 'x-forwarded-for': xff })), '203.0.113.9');
  t.equal(walk.of(request('10.0.0.5', { 'x-forwarded-for': '10.0.0.9, 10.0.0.8' })), '10.0.0.9', 'all trusted: the first');
  t.equal(walk.of(request('10.0.0.5', { 'x-forwarded-for': 'junk, 10.0.0.8' })), '10.0.0.8', 'a bad entry stops the walk');
  t.equal(walk.of(request('10.0.0.5', { 'x-forwarded-for': ' ,, ' })), '10.0.0.5', 'an empty list');
});
