// The address a connection is counted under for --max-connections-per-ip.
import t from 'tap';
import { clientKey } from '../../src/proxy/connections-per-ip';

t.test('an IPv4 address is its own key, also written IPv4-mapped', async (t) => {
  t.equal(clientKey('203.0.113.7'), '203.0.113.7');
  t.equal(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
});

t.test('an IPv6 address counts under its /64, however it is written', async (t) => {
  const key = '2001:db8:1:2::/64';
  for (const a of ['2001:db8:1:2::1', '2001:db8:1:2:a:b:c:d', '2001:db8:1:2::', '2001:db8:1:2:0:0:0:9']) {
    t.equal(clientKey(a), key, a);
  }
  t.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientKey('2001:db8:1::2:3:4:5'), '2001:db8:1:0::/64', 'the gap stands for as few groups as are missing');
  t.equal(clientKey('1::2:3:4:5:6:7'), '1:0:2:3::/64');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'the zone is not part of the address');
  t.equal(clientKey('64:ff9b::198.51.100.1'), '64:ff9b:0:0::/64', 'an embedded IPv4 part is two groups');
  t.not(clientKey('2001:db8:1:3::1'), key, 'another /64 is another client');
});
