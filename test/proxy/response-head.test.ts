import t from 'tap';
import { ResponseHead } from '../../src/proxy/response-head';

t.test('headers compare without case; get joins repeated values; set replaces every value', async (t) => {
  const head = new ResponseHead(200, ['content-type', 'text/plain', 'Vary', 'Accept', 'vary', 'Origin'], true);
  t.equal(head.get('Content-Type'), 'text/plain');
  t.equal(head.get('VARY'), 'Accept, Origin');
  t.equal(head.get('x-none'), undefined);
  head.set('Vary', 'Origin');
  t.same(head.headers, ['content-type', 'text/plain', 'vary', 'Origin']);
  head.append('set-cookie', 'a=1');
  head.append('Set-Cookie', 'b=2');
  t.equal(head.get('set-cookie'), 'a=1, b=2');
  head.remove('SET-COOKIE');
  t.notOk(head.has('set-cookie'));
  t.same(head.headers, ['content-type', 'text/plain', 'vary', 'Origin']);
});

t.test('a value given as a list reads back joined', async (t) => {
  const head = new ResponseHead(200, ['set-cookie', ['a=1', 'b=2']], true);
  t.equal(head.get('set-cookie'), 'a=1, b=2');
});

t.test('bufferBody outside a header filter is a programming error', async (t) => {
  const head = new ResponseHead(200, [], true);
  t.throws(() => head.bufferBody(10));
});
