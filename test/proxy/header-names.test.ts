import t from 'tap';
import { headerNameOf, headerValueOf } from '../../src/proxy/header-names';

const bytes = (s: string) => Buffer.from(s, 'latin1');

t.test('a name is lower-cased in any case, and the same string comes back when it repeats', async (t) => {
  const first = headerNameOf(bytes('Content-Type'));
  t.equal(first, 'content-type');
  t.equal(headerNameOf(bytes('CONTENT-TYPE')), first);
  t.equal(headerNameOf(bytes('content-type')), first);
  // Same length and first letter, another name: never taken for the one remembered.
  t.equal(headerNameOf(bytes('Content-Tape')), 'content-tape');
  t.equal(headerNameOf(bytes('Content-Type')), 'content-type');
});

t.test('names past the ASCII range, empty or very long are decoded as node:http does', async (t) => {
  t.equal(headerNameOf(bytes('X-\u00c4')), 'x-\u00e4');
  t.equal(headerNameOf(bytes('X-\u00c4')), 'x-\u00e4');
  t.equal(headerNameOf(bytes('')), '');
  const long = `X-${'A'.repeat(100)}`;
  t.equal(headerNameOf(bytes(long)), long.toLowerCase());
});

t.test('a value is decoded byte for byte, case kept, and one sharing its slot never answers for it', async (t) => {
  t.equal(headerValueOf(bytes('application/json')), 'application/json');
  t.equal(headerValueOf(bytes('application/json')), 'application/json');
  // Same length, first and last byte: the same slot, another value.
  t.equal(headerValueOf(bytes('applicatioN/json')), 'applicatioN/json');
  t.equal(headerValueOf(bytes('application/json')), 'application/json');
  t.equal(headerValueOf(bytes('caf\u00e9 \u00ff')), 'caf\u00e9 \u00ff');
  t.equal(headerValueOf(bytes('')), '');
  const long = 'v'.repeat(200);
  t.equal(headerValueOf(bytes(long)), long);
});
