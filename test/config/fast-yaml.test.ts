import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readInPieces, readPlainYaml } from '../../src/config/fast-yaml';
import { findBigSequences } from '../../src/config/yaml-pieces';
import { parseConfigText, readYamlWithPositions } from '../../src/config/source';
import { yaml } from '../helpers/config';

const MAX_DEPTH = 64;
const ROOT = join(__dirname, '..', '..');

// Any text is split however small: each item a piece of its own, or a few short items a piece.
const IN_PIECES = [1, 20].map((pieceLength) => ({ piecesAbove: 0, pieceLength }));

/**
 * The fast reading, whole or with its sequences read in pieces, either steps aside or gives exactly what the full
 * YAML 1.1 reading gives; a text the full reading refuses is never read fast. Returns whether it was read fast.
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
  for (const options of [{}, ...IN_PIECES]) {
    const read = readPlainYaml(text, MAX_DEPTH, options);
    const how = `${name}, ${JSON.stringify(options)}`;
    if (refused) t.equal(read, undefined, `${how}: refused by the full reading, so not read fast`);
    else if (read !== undefined) t.strictSame(read, full, `${how}: the same data`);
  }
  return fast !== undefined;
}

/** The text's sequences read in pieces of about `pieceLength` characters (not the whole text instead), or undefined. */
function readPieces(text: string, pieceLength: number): unknown {
  const sequences = findBigSequences(text, pieceLength);
  if (sequences === undefined || sequences.length === 0) return undefined;
  try {
    return readInPieces(text, sequences, pieceLength, MAX_DEPTH);
  } catch {
    return undefined;
  }
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

const BIG_KEYS = ['consumers', 'keyauth_credentials', 'acls', 'plugins', 'routes', 'services'];

t.test('generated documents with long sequences read the same in pieces', async (t) => {
  const next = random(20261204);
  const styles: Array<Parameters<typeof stringify>[1]> = [
    { version: '1.1' },
    { version: '1.1', indentSeq: false },
    { version: '1.1', indent: 4 },
    { version: '1.1', defaultKeyType: 'PLAIN', defaultStringType: 'QUOTE_DOUBLE', lineWidth: 20 },
    { version: '1.1', defaultKeyType: 'PLAIN', defaultStringType: 'QUOTE_SINGLE', lineWidth: 20 },
    { version: '1.1', defaultKeyType: 'PLAIN', defaultStringType: 'BLOCK_LITERAL', lineWidth: 20 },
    { version: '1.1', defaultKeyType: 'PLAIN', defaultStringType: 'BLOCK_FOLDED', lineWidth: 20, indentSeq: false },
    { version: '1.1', lineWidth: 20, minContentWidth: 0 },
  ];
  let inPieces = 0;
  let total = 0;
  for (let i = 0; i < 100; i++) {
    const doc: Record<string, unknown> = { _format_version: '3.0' };
    for (const key of BIG_KEYS) {
      if (key !== 'consumers' && next() < 0.5) continue;
      doc[key] = Array.from({ length: 3 + Math.floor(next() * 8) }, () => randomValue(next, 1));
      if (next() < 0.3) doc[`after_${key}`] = randomValue(next, 2);
    }
    for (const style of styles) {
      const text = stringify(doc, { ...style, aliasDuplicateObjects: false });
      const name = `document ${i}, ${JSON.stringify(style)}`;
      agrees(t, text, name);
      let full: unknown;
      try {
        full = readYamlWithPositions(text, 'kong.yml').data;
      } catch {
        t.equal(readPieces(text, 1), undefined, `${name}: refused by the full reading, so not read in pieces`);
        continue;
      }
      // Counted: what the whole text is read fast, one item a piece (with longer pieces, a short sequence is not cut).
      const counted = readPlainYaml(text, MAX_DEPTH) !== undefined;
      if (counted) total++;
      for (const pieceLength of [1, 40]) {
        const pieces = readPieces(text, pieceLength);
        if (pieces === undefined) continue;
        if (counted && pieceLength === 1) inPieces++;
        t.strictSame(pieces, full, `${name}, pieces of ${pieceLength}: the same data`);
      }
    }
  }
  t.equal(inPieces, total, `each one read fast is read in pieces too (${inPieces} of ${total})`);
});

t.test('what is written across where a sequence is cut', async (t) => {
  const cases: Record<string, { lines: string[]; pieces: boolean }> = {
    'a sequence indented under its key': { lines: ['a: 1', 'consumers:', '  - x', '  - y', '  - z', 'b: 2'], pieces: true },
    'a sequence at column 0 under its key': { lines: ['a: 1', 'consumers:', '- x', '- y', '- z', 'b: 2'], pieces: true },
    'the sequence last in the file, with no line end': { lines: ['consumers:', '  - x', '  - y', '  - z'], pieces: true },
    'two sequences, one after the other': { lines: ['consumers:', '- a', '- b', 'acls:', '  - c', '  - d'], pieces: true },
    '`-` alone on a line': { lines: ['consumers:', '  -', '    username: a', '  -', '  - x', '  -'], pieces: true },
    'nested sequences, deeper': { lines: ['consumers:', '  - - a', '    - - b', '      - c', '  - tags:', '    - d', '    - e', '  - f'], pieces: true },
    'nested sequences at column 0 under their key': { lines: ['consumers:', '- tags:', '  - a', '  - b', '- tags:', '  - c'], pieces: true },
    'comments everywhere': {
      lines: ['consumers: ', '# before', 'consumers2:', '  # first', '  - a # trailing', '# at column 0', '  - # on the item', '    b: 1', '    # deeper', '  - c', '# after', 'z: 1'],
      pieces: true,
    },
    'blank lines between items': { lines: ['consumers:', '', '  - a', '', '', '  - b', '  - c', '', 'z: 1'], pieces: true },
    'block scalars': {
      lines: ['consumers:', '  - |', '    text', '    - not an item', '', '  - >-', '    folded', '    text', '  - key: |+', '      kept', '', '  - |1', '    one', '  - y'],
      pieces: true,
    },
    'block scalars at column 0 under their key': { lines: ['consumers:', '- |', '  text', '  - not an item', '- |1', ' x', '- y'], pieces: true },
    'plain scalars over several lines': { lines: ['consumers:', '  - a', '    b', '  - c:', '      d', '      e', '  - f'], pieces: true },
    'quoted scalars over several lines, inside items': { lines: ['consumers:', '  - "a', '    - b"', "  - 'c", '', "    d'", '  - e'], pieces: true },
    'flow collections over several lines, inside items': { lines: ['consumers:', '  - {a: 1,', '    b: [2,', '     3]}', '  - [x,', '    y]', '  - z'], pieces: true },
    'a double-quoted scalar across an item line': { lines: ['consumers:', '  - username: "a', '  - b"', '  - c'], pieces: false },
    'a single-quoted scalar across an item line': { lines: ['consumers:', "- 'a", "- b'", '- c'], pieces: false },
    'a flow mapping across an item line': { lines: ['consumers:', '  - {username: a,', '  - b}', '  - c'], pieces: false },
    'a flow sequence across an item line': { lines: ['consumers:', '  - [a,', '  - b]', '  - c'], pieces: false },
    'a key line inside a quoted scalar': { lines: ['a: "x', 'consumers:', '  - y', '  - z', '"', '"consumers":'], pieces: false },
    'a key line inside a quoted scalar, with a valid file': { lines: ['a: "x', ' consumers:', '  - y', '  - z', ' "', 'consumers:', '  - y', '  - z'], pieces: true },
    'a key line inside a flow mapping': { lines: ['{', 'consumers:', '  - y', '  - z', '}'], pieces: false },
    'a key written twice': { lines: ['consumers:', '  - a', '  - b', 'consumers:', '  - c', '  - d'], pieces: false },
    'the key with a value on its line': { lines: ['consumers: []', 'b:', '  - a', '  - b'], pieces: true },
    'a sequence that is not a block sequence': { lines: ['consumers:', '  a: 1', '  b: 2', '  c: 3'], pieces: false },
    'a line less indented than the items': { lines: ['consumers:', '    - a', '    - b', '  - c'], pieces: false },
    'a line at the items indentation that is not an item': { lines: ['consumers:', '  - a', '  -b', '  - c'], pieces: false },
    'a tab at the start of a line': { lines: ['consumers:', '  - a', '\t- b', '  - c'], pieces: false },
    'a document end': { lines: ['consumers:', '  - a', '  - b', '  - c', '...'], pieces: true },
    'a second document': { lines: ['consumers:', '  - a', '  - b', '  - c', '---', 'b: 1'], pieces: false },
    'an anchor in an item': { lines: ['consumers:', '  - &x a', '  - b', '  - c'], pieces: false },
  };
  for (const [name, { lines, pieces }] of Object.entries(cases)) {
    const text = yaml(...lines).replace(/\n$/, name.includes('no line end') ? '' : '\n');
    agrees(t, text, name);
    const read = readPieces(text, 1);
    t.equal(read !== undefined, pieces, `${name}: ${pieces ? '' : 'not '}read in pieces`);
    if (read !== undefined) t.strictSame(read, readYamlWithPositions(text, 'kong.yml').data, `${name}: the same data`);
  }
  t.equal(findBigSequences(yaml('consumers:', '  - a', '  - b', '  - c').replace(/\n/g, '\r\n'), 1), undefined, 'windows line ends: not split');
});

t.test('a large generated kong.yml reads the same in pieces as whole', async (t) => {
  const consumers = Array.from({ length: 5000 }, (_, i) => ({ username: `c${i}`, keyauth_credentials: [{ key: `k${i}` }], tags: i % 7 === 0 ? ['yes', 'a\nb'] : undefined }));
  const text = stringify({ _format_version: '3.0', consumers, acls: consumers.map((c) => ({ consumer: c.username, group: 'g' })) }, { version: '1.1' });
  t.ok(text.length > 256 * 1024, 'large enough');
  const pieces = readPieces(text, 20_000);
  t.ok(pieces !== undefined, 'read in pieces');
  t.strictSame(pieces, readPlainYaml(text, MAX_DEPTH, { piecesAbove: Infinity }), 'the same data as read whole');
});
