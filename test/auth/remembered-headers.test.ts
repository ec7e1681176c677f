// basic-auth remembers a verified Authorization header as a keyed digest (one digest and one map lookup when the
// same header comes again). What is kept must stay bounded by the credentials, never the header itself.
import t from 'tap';
import { RememberedHeaders, rememberedFor } from '../../src/plugins/basic-auth/verifier';
import type { BasicAuthCredentialEntity } from '../../src/config/entities';

const credential = (username: string): BasicAuthCredentialEntity => Object.freeze({ id: username, consumer: 'c', username, password: '$2b$04$x' });

t.test('a digest, not the header: keyed, fixed length, the same for the same header', async (t) => {
  const r = new RememberedHeaders();
  const header = 'Basic Ym9iOmtvbmc=';
  t.equal(r.digest(header), r.digest(header));
  t.not(r.digest(header), r.digest(header + ' '));
  t.notMatch(r.digest(header), /Ym9iOmtvbmc/);
  t.equal(Buffer.from(r.digest(header), 'base64').length, 32);
});

t.test('at most one remembered header per credential: a new one replaces the last', async (t) => {
  const r = new RememberedHeaders();
  const bob = credential('bob');
  const first = r.digest('Basic Ym9iOmtvbmc=');
  const second = r.digest('basic  Ym9iOmtvbmc=');
  r.remember(first, bob);
  t.equal(r.get(first), bob);
  r.remember(second, bob);
  t.equal(r.get(second), bob);
  t.equal(r.get(first), undefined, 'the earlier header is forgotten');
  for (let i = 0; i < 1000; i++) r.remember(r.digest(`Basic ${' '.repeat(i)}Ym9iOmtvbmc=`), bob);
  t.equal((r as unknown as { byDigest: Map<string, unknown> }).byDigest.size, 1, 'a thousand variants of one credential keep one entry');
  const alice = credential('alice');
  r.remember(first, alice);
  t.equal(r.get(first), alice);
});

t.test('one set per credential index (per snapshot): a new index starts empty', async (t) => {
  const users = new Map<string, BasicAuthCredentialEntity>();
  const r = rememberedFor(users);
  t.equal(rememberedFor(users), r);
  r.remember(r.digest('Basic x'), credential('x'));
  const next = rememberedFor(new Map());
  t.not(next, r);
  t.equal(next.get(next.digest('Basic x')), undefined);
});
