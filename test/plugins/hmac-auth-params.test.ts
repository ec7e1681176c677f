import t from 'tap';
import { parseHmacParams } from '../../src/plugins/hmac-auth/params';
import { parseHttpDate } from '../../src/plugins/hmac-auth/http-date';

// kong/plugins/hmac-auth/access.lua's retrieve_hmac_fields, as its regex reads a header.
const KONG = /\s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"/;

t.test("the parser reads every header as Kong's greedy regex does", async (t) => {
  const pieces = ['hmac username="', 'Hmac  username="', '",algorithm="', '", headers="', '",  signature="', 'a', '"', ' ', 'b c', ','];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let compared = 0;
  const fill = () => {
    let out = '';
    for (let k = Math.floor(next() * 4); k > 0; k--) out += pieces[Math.floor(next() * pieces.length)];
    return out;
  };
  for (let i = 0; i < 20000; i++) {
    // The four fields in order, each filled with random pieces (delimiters included), some left out.
    const parts = [pieces[Math.floor(next() * 2)], fill(), pieces[2], fill(), pieces[3], fill(), pieces[4], fill(), '"', fill()];
    const s = parts.filter(() => next() > 0.05).join('');
    const m = KONG.exec(s);
    const expected = m === null ? undefined : { username: m[1], algorithm: m[2], headers: m[3].split(' '), signature: m[4] };
    if (expected !== undefined) compared++;
    if (JSON.stringify(parseHmacParams(s)) !== JSON.stringify(expected)) t.fail(JSON.stringify(s));
  }
  t.ok(compared > 500, `${compared} headers that parse`);
  t.same(parseHmacParams('hmac username="bob", algorithm="hmac-sha1", headers="date  request-line", signature="c2ln"'), {
    username: 'bob', algorithm: 'hmac-sha1', headers: ['date', '', 'request-line'], signature: 'c2ln',
  });
});

t.test('a crafted header of many delimiters is read in one pass', async (t) => {
  const crafted = `hmac username="${'",algorithm="",headers="",signature="'.repeat(400)}x`;
  t.ok(parseHmacParams(crafted));
});

t.test("HTTP dates in nginx's three forms", async (t) => {
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), 784111777);
  t.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), 784111777);
  t.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), 784111777);
  for (const bad of ['wrong date', '06 Nov 1994 08:49:37 GMT', 'Sun, 06 Foo 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:49:37 GMT', '784111777']) t.equal(parseHttpDate(bad), undefined, bad);
});
