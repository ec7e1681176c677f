import t from 'tap';
import { addKnownUndiciHeaderNames, GATEWAY_UPSTREAM_HEADER_NAMES } from '../../src/proxy/undici-header-names';

const table = require('undici/lib/core/constants').headerNameLowerCasedRecord as Record<string, string | undefined>;

t.test("the gateway's upstream header names join undici's table of known names, as themselves", async (t) => {
  t.equal(addKnownUndiciHeaderNames(), true, 'the installed undici keeps the table where it is looked for');
  for (const name of GATEWAY_UPSTREAM_HEADER_NAMES) t.equal(table[name], name);
  t.equal(table['content-type'], 'content-type', 'its own entries untouched');
});

t.test('only lower-case tokens are added: anything else keeps going through undici’s checks', async (t) => {
  addKnownUndiciHeaderNames(['X-Upper-Case', 'x bad', 'x-fine-name']);
  t.equal(table['X-Upper-Case'], undefined);
  t.equal(table['x bad'], undefined);
  t.equal(table['x-fine-name'], 'x-fine-name');
});
