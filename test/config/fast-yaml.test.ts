import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readPlainYaml } from '../../src/config/fast-yaml';
import { parseConfigText, readYamlWithPositions } from '../../src/config/source';
import { yaml } from '../helpers/config';

const MAX_DEPTH = 64;
const ROOT = join(__dirname, '..', '..');

/**
 * The fast reading either steps aside or gives exactly what the full YAML 1.1 reading gives; a text the full
 * reading refuses is never read fast. Returns whether it was read fast.
 */
function agrees(t: Tap.Test, text: string, name: string): boolean {
  let full: unknown;
  let refused = false;
  try {
    full = readYamlWithPositions(text, 'kong.yml').data;
  } catch {
    refused = true;
  }
  const fast = readPlainYaml(text, MAX_DEPTH);
  if (refused) t.equal(fast, undefined, `${name}: refused by the full reading, so not read fast`);
  else if (fast !== undefined) t.strictSame(fast, full, `${name}: the same data`);
  return fast !== undefined;
}

t.test('the configs in this repository read the same both ways, and fast', async (t) => {
  const files = [join(ROOT, 'kong.yml'), ...readdirSync(join(ROOT, 'examples')).map((f) => join(ROOT, 'examples', f))];
  for (const file of files) t.ok(agrees(t, readFileSync(file, 'utf8'), file), `${file} is read fast`);
});

t.test('YAML forms a kong.yml uses read the same both ways', async (t) => {
  const texts: Record<string, string> = {
    'block and flow collections': yaml('a:', '  - x', '  - {b: 1, c: [2, 3, {d: e}]}', 'f: [ ]', 'g: { }', 'h: [a, b, ]'),
    'block scalars': yaml('a: |', '  one', '   two', '', 'b: >', '  folded', '  text', '', '  kept', 'c: |-', '  strip', 'd: |+', '  keep', '', 'e: |2', '    indented'),
    'quoted scalars': yaml('a: "tab\\tnl\\n\\u00e9\\x41 \\"q\\" \\\\"', "b: 'it''s # not a comment'", 'c: "multi', '  line"', "d: ''", 'e: "yes"', "f: '1'"),
    'plain scalars': yaml('a: multi', '  line plain', 'b: a#b', 'c: x:y', 'd: -dash', 'e: http://x:80/p?q=1#f', 'f: ~/path', 'g: ÿ 日本 🚀', 'h: a  b'),
    'comments and markers': yaml('# head', '---', 'a: 1 # trailing', '# between', 'b:', '  # inside', '  c: d', '...'),
    'empty values': yaml('a:', 'b: ~', 'c: null', 'd: Null', 'e: NULL', 'f: []'),
    booleans: yaml('a: yes', 'b: No', 'c: on', 'd: OFF', 'e: y', 'f: N', 'g: true', 'h: False', 'i: TRUE', 'j: yES', 'k: Yes'),
    'plain numbers': yaml('a: 0', 'b: -0', 'c: +1', 'd: 42', 'e: 1.5', 'f: -2.25', 'g: 10.0', 'h: 99999999999999999999', 'i: 3.14159265358979'),
    'keys of all kinds': yaml('"quoted key": 1', "'single': 2", 'with space: 3', '? explicit', ': 4', 'a-b_c.d: 5', '"": 6'),
    'windows line ends': 'a: 1\r\nb:\r\n  - x\r\n  - "y"\r\n',
    'a byte-order mark': '\ufeffa: 1\nb: two\n',
    'tabs inside values': 'a: x\ty\nb: "\t"\n',
    'a kong.yml in JSON': '{"_format_version": "3.0", "services": [{"name": "s", "url": "http://x"}]}\n',
  };
  for (const [name, text] of Object.entries(texts)) t.ok(agrees(t, text, name), `${name}: read fast`);
});

t.test('texts the full reading refuses are never read fast', async (t) => {
  const texts: Record<string, string> = {
    'a repeated key': yaml('a: 1', 'a: 2'),
    'a repeated nested key': yaml('a:', '  b: 1', '  b: 1'),
    'bad indentation': yaml('a:', '  b: 1', ' c: 2'),
    'an unclosed flow sequence': yaml('a: [1, 2'),
    'tab indentation': 'a:\n\tb: 1\n',
    'a list at the top': yaml('- a', '- b'),
    'a scalar at the top': 'just text\n',
    'nothing at all': '',
    'only a comment': '# nothing\n',
  };
  for (const [name, text] of Object.entries(texts)) {
    agrees(t, text, name);
    t.equal(readPlainYaml(text, MAX_DEPTH), undefined, `${name}: not read fast`);
  }
});

t.test('each form the fast reading could read differently makes it step aside', async (t) => {
  const triggers: Record<string, string> = {
    'an anchor and an alias': yaml('a: &x {b: 1}', 'c: *x'),
    'a merge key': yaml('a: {b: 1}', 'c:', '  <<: {b: 2}'),
    'a merge key with an alias': yaml('a: &x {b: 1}', 'c:', '  <<: *x'),
    'a tag': yaml('a: !!str 1'),
    'a custom tag': yaml('a: !thing x'),
    'a tag on a collection': yaml('a: !!set {x, y}'),
    'a %YAML directive': yaml('%YAML 1.1', '---', 'a: 1'),
    'a second document': yaml('a: 1', '---', 'b: 2'),
    'a repeated key': yaml('a: 1', 'a: 2'),
    'a number as a key': yaml('1: a'),
    'a boolean as a key': yaml('yes: a'),
    'an empty key': yaml(': a', 'b: c'),
    'a collection as a key': yaml('? [a, b]', ': c'),
    'a __proto__ key': yaml('__proto__: {polluted: true}'),
    'an octal number': yaml('a: 0755'),
    'a hexadecimal number': yaml('a: 0x1F'),
    'a binary number': yaml('a: 0b101'),
    'an underscored number': yaml('a: 1_000'),
    'an exponent': yaml('a: 1e3'),
    'a float with no integer part': yaml('a: .5'),
    'a float with no fraction': yaml('a: 1.'),
    'infinity': yaml('a: .inf'),
    'not a number': yaml('a: .NaN'),
    'a sexagesimal number': yaml('a: 1:30'),
    'a timestamp': yaml('a: 2024-01-02'),
    'a date and time': yaml('a: 2024-01-02T10:00:00Z'),
    'a NEL line break': 'a: x\u0085b\n',
    'nesting deeper than the limit': `a: ${'['.repeat(70)}${']'.repeat(70)}\n`,
  };
  for (const [name, text] of Object.entries(triggers)) {
    t.equal(readPlainYaml(text, MAX_DEPTH), undefined, `${name}: steps aside`);
    agrees(t, text, name);
    let full: unknown;
    let fullError: unknown;
    try {
      full = readYamlWithPositions(text, 'kong.yml').data;
    } catch (err) {
      fullError = err;
    }
    if (fullError !== undefined) t.throws(() => parseConfigText(text, 'kong.yml'), fullError as Error, `${name}: the full reading's error`);
    else t.strictSame(parseConfigText(text, 'kong.yml').data, full, `${name}: the full reading's data`);
  }
});

/** A small seeded generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings that look like other things, or need quoting, in one YAML version or the other.
const AWKWARD = [
  'yes', 'No', 'on', 'off', 'y', 'n', 'true', 'null', '~', '', ' ', '0', '-0', '007', '0x1F', '1_000', '1e3', '.5', '1.', '12:30', '2024-01-02',
  '.inf', '<<', '- x', 'a: b', 'a #b', '#c', '"q"', "'s'", 'multi\nline', 'trailing\n', ' lead', 'tail ', 'tab\there', '[x]', '{y}', '*z',
  '&a', '!t', '%p', '@at', '`tick', '|', '>', '?', 'é日🚀', '\\', 'a\u00a0b', '/path/{id}', '~/regex$', 'http://h:8000/p?q#f',
];

function randomValue(next: () => number, depth: number): unknown {
  const r = next();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  if (depth > 3 || r < 0.45) {
    const kind = Math.floor(next() * 6);
    if (kind === 0) return pick(AWKWARD);
    if (kind === 1) return Math.floor(next() * 100000) - 50000;
    if (kind === 2) return Math.round(next() * 10000) / 100;
    if (kind === 3) return next() < 0.5;
    if (kind === 4) return null;
    return `${pick(AWKWARD)}${pick(AWKWARD)}`;
  }
  if (r < 0.7) return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 5); i > 0; i--) o[next() < 0.5 ? pick(AWKWARD) : `k${Math.floor(next() * 50)}`] = randomValue(next, depth + 1);
  return o;
}

t.test('generated documents in many styles read the same both ways', async (t) => {
  const next = random(20261203);
  const styles: Array<Parameters<typeof stringify>[1]> = [
    { version: '1.1' },
    { version: '1.2' },
    { version: '1.1', collectionStyle: 'flow' },
    { version: '1.1', defaultStringType: 'QUOTE_SINGLE' },
    { version: '1.1', defaultStringType: 'BLOCK_LITERAL', lineWidth: 20 },
    { version: '1.1', defaultStringType: 'BLOCK_FOLDED', lineWidth: 20 },
    { version: '1.1', defaultKeyType: 'PLAIN', indentSeq: false, indent: 4 },
  ];
  let fast = 0;
  let total = 0;
  for (let i = 0; i < 300; i++) {
    const doc = { _format_version: '3.0', ...(randomValue(next, 0) as object), consumers: [{ username: `u${i}`, tags: [String(randomValue(next, 4))] }] };
    for (const style of styles) {
      const text = stringify(doc, { ...style, aliasDuplicateObjects: false });
      total++;
      if (agrees(t, text, `document ${i}, ${JSON.stringify(style)}`)) fast++;
    }
  }
  t.ok(fast > total / 2, `most are read fast (${fast} of ${total})`);
});
