// normalize's releaseDocument (used where the document is not read afterwards: the checking of a large file away
// from the event loop) lets each consumer's entry go as its entities are made: the outcome must be the same.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '../../src/config/normalize';
import { parseConfigText } from '../../src/config/source';
import { validateSchema } from '../../src/config/validate';
import { formatPath } from '../../src/config/errors';

const CORPUS = ['..', join('..', '..')].map((up) => join(__dirname, '..', '..', up, 'shared', 'corpus', 'kong')).find((d) => existsSync(d));

function outcome(text: string, releaseDocument: boolean) {
  const source = parseConfigText(text, 'kong.yml');
  const { broken } = validateSchema(source);
  const { entities, issues, locations } = normalize(source, broken, { releaseDocument });
  return { entities, issues, locations: [...locations].map(([entity, path]) => [JSON.stringify(entity), formatPath(path)]) };
}

const HAND_WRITTEN: Record<string, string> = {
  'nested credentials of every kind, consumer plugins': `
_format_version: "3.0"
services:
  - name: s
    url: http://127.0.0.1:9
    routes: [{ name: r, paths: [/] }]
plugins:
  - name: key-auth
consumers:
  - username: a
    keyauth_credentials: [{ key: a-key-0123456789abcdef }, { key: a-key-2-0123456789abcdef }]
    basicauth_credentials: [{ username: a, password: p }]
    acls: [{ group: g }]
    plugins: [{ name: rate-limiting, config: { minute: 5 } }]
  - custom_id: b
    jwt_secrets: [{ key: b-iss, secret: b-secret-0123456789 }]
    hmacauth_credentials: [{ username: b, secret: s }]
keyauth_credentials:
  - consumer: a
    key: top-level-key-0123456789
`,
  'errors: a repeated key, a consumer without a name, an entry that is not a consumer': `
_format_version: "3.0"
consumers:
  - username: a
    keyauth_credentials: [{ key: same-key-0123456789abc }]
  - keyauth_credentials: [{ key: other-key-0123456789ab }]
  - just a string
  - username: c
    keyauth_credentials: [{ key: same-key-0123456789abc }]
`,
};

t.test('hand-written documents: the same entities, issues and locations with the document let go', async (t) => {
  for (const [name, text] of Object.entries(HAND_WRITTEN)) t.same(outcome(text, true), outcome(text, false), name);
});

t.test('the corpus: the same outcome with the document let go', { skip: CORPUS === undefined && 'no corpus here' }, async (t) => {
  let compared = 0;
  for (const name of readdirSync(CORPUS!)) {
    if (!/\.(ya?ml|json)$/.test(name)) continue;
    const text = readFileSync(join(CORPUS!, name), 'utf8');
    let expected;
    try {
      expected = outcome(text, false);
    } catch {
      continue; // refused before normalizing (not readable as a config): nothing to compare
    }
    t.same(outcome(text, true), expected, name);
    compared++;
  }
  t.ok(compared > 0, `${compared} files compared`);
});
