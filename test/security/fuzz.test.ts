// Hostile config files: generated and mutated kong.yml documents fed to the loader. Every one must end as a valid
// config (and a snapshot the proxy could serve) or as a ConfigError whose every issue is located (line, col >= 1)
// and says something; never another exception, never a hang. Seeded: FUZZ_SEED=n FUZZ_COUNT=n reproduce a run,
// and a failure names the document's index, which regenerates it alone.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigText } from '../../src/config/load';
import { ConfigError } from '../../src/config/errors';
import { errorsOf, yaml } from '../helpers/config';

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);

/** mulberry32: small, fast, and the same everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SAMPLES: Json[] = [
  parse(readFileSync(join(__dirname, '..', '..', 'kong.yml'), 'utf8')),
  parse(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: users',
      '    url: http://users.internal:8080/v1',
      '    retries: 3',
      '    connect_timeout: 1000',
      '    tags: [team-a, public]',
      '    routes:',
      '      - name: users-api',
      '        paths: [/users, "~/users/(?<id>\\\\d+)$"]',
      '        methods: [GET, POST]',
      '        hosts: [api.example.com, "*.example.org"]',
      '        headers: {x-version: ["1", "~*v2"]}',
      '        strip_path: false',
      '        regex_priority: 10',
      '        plugins:',
      '          - name: request-termination',
      '            config: {status_code: 403, message: closed}',
      '  - name: orders',
      '    protocol: https',
      '    host: orders.internal',
      '    port: 8443',
      '    path: /api/',
      'routes:',
      '  - name: orders-route',
      '    service: orders',
      '    paths: [/orders]',
      '    preserve_host: true',
      '    protocols: [http, https]',
      'consumers:',
      '  - username: alice',
      '    custom_id: a-1',
      '    keyauth_credentials: [{key: alice-key-123}]',
      '    basicauth_credentials: [{username: alice, password: s3cret}]',
      '    acls: [{group: admins}]',
      '  - username: bob',
      '    plugins:',
      '      - name: request-termination',
      '        config: {status_code: 429}',
      'keyauth_credentials:',
      '  - consumer: bob',
      '    key: bob-key',
      'plugins:',
      '  - name: request-termination',
      '    route: orders-route',
      '    consumer: alice',
      '    config: {status_code: 200, body: hi, content_type: text/plain}',
      '    enabled: false',
    ),
  ),
  { _format_version: '1.1', services: [{ name: 'legacy', host: 'legacy.internal', routes: [{ paths: ['/old/\\d+', '/plain'] }] }] },
  { _format_version: '3.0', _transform: true, consumers: [{ custom_id: 'only-custom' }], routes: [{ name: 'r', hosts: ['x.test'] }] },
];

const FIELD_NAMES = [
  'name', 'id', 'host', 'port', 'path', 'url', 'protocol', 'retries', 'connect_timeout', 'read_timeout', 'routes', 'paths',
  'hosts', 'methods', 'headers', 'strip_path', 'preserve_host', 'service', 'consumer', 'route', 'plugins', 'config',
  'username', 'custom_id', 'key', 'password', 'group', 'tags', 'enabled', 'protocols', 'regex_priority', 'path_handling',
  'services', 'consumers', 'upstreams', 'keyauth_credentials', 'basicauth_credentials', 'acls', '_format_version',
  'status_code', 'message', 'trigger', 'instance_name', '__proto__', 'constructor', 'prototype', 'hasOwnProperty',
];

const SCALARS: Json[] = [
  '', ' ', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~', 'true', '0x1F', '0o17', '017', '1_000', '1:30', '.inf', '-.nan',
  '3.0', '1.1', '2.1', '/', '//', '/a/../b', '~/(?<x>[a-z]+', '~/[', '*', '*.example.*', 'http://', 'http://h:99999/p',
  'https://[::1]:8443/x', 'ftp://x', 'GET', 'get', 'FOO BAR', 'a'.repeat(300), 'ünïcødé', '日本語', '🙂🚀', 'a\u0000b',
  '\u202eevil', 'e\u0301', '\ufeff', '%', '%2e%2e', '../..', '\\', '"', "'", '#', '&a', '!!str', '{}', '[]',
  0, -1, 1, 65535, 65536, 32767, 32768, 2 ** 31, 2 ** 31 - 2, 2 ** 53 + 1, 1e308, -1e308, 1.5, -0, Number.MAX_VALUE,
  true, false, null,
];

const TEXT_SNIPPETS = [
  '&a ', '*a', '<<: *a', '!!binary ', '!!python/object:os.system ', '!!set ', '!!omap ', '!!timestamp ', '!custom ', '? ',
  '--- ', '...\n', '%YAML 1.1\n---\n', '%TAG ! tag:x,2000:\n', '\t', '|\n', '>-\n', '- ', ': ', '{', '}', '[', ']', ',', '#',
  '"', "'", '\\', '1e999', '99999999999999999999999999', '-0x', '\u0000', '\u0007', '\ufeff', '\r', '\r\n', '\u2028', '🙂',
  '\ud800', '@', '`', '%', '&', '*', '!', '|', '>',
];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

/** Every container (object or array) in the tree, with a way to reach it. */
function containers(root: Json): Array<Json[] | { [k: string]: Json }> {
  const out: Array<Json[] | { [k: string]: Json }> = [];
  const seen = new Set<unknown>();
  const walk = (v: Json) => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    out.push(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child);
  };
  walk(root);
  return out;
}

function randomValue(rand: () => number, depth = 0): Json {
  const r = rand();
  if (r < 0.6 || depth > 3) return pick(rand, SCALARS);
  if (r < 0.8) return Array.from({ length: Math.floor(rand() * 3) }, () => randomValue(rand, depth + 1));
  const o: { [k: string]: Json } = {};
  for (let i = Math.floor(rand() * 3); i > 0; i--) o[pick(rand, FIELD_NAMES)] = randomValue(rand, depth + 1);
  return o;
}

function keysOf(c: Json[] | { [k: string]: Json }): Array<string | number> {
  return Array.isArray(c) ? c.map((_, i) => i) : Object.keys(c);
}

/** One structural change: delete, duplicate, retype, replace, add, rename, share (alias) or wrap. */
function mutateTree(rand: () => number, root: Json): Json {
  const all = containers(root);
  if (all.length === 0) return randomValue(rand);
  const c = pick(rand, all);
  const keys = keysOf(c);
  const key = keys.length > 0 ? pick(rand, keys) : undefined;
  const set = (k: string | number, v: Json) => ((c as Record<string | number, Json>)[k] = v);
  const get = (k: string | number) => (c as Record<string | number, Json>)[k];
  switch (Math.floor(rand() * 9)) {
    case 0: // delete
      if (key === undefined) break;
      if (Array.isArray(c)) c.splice(key as number, 1);
      else delete c[key as string];
      break;
    case 1: // duplicate an entry (a copy, or the same object: an alias once written out)
      if (Array.isArray(c) && key !== undefined) c.push(rand() < 0.5 ? structuredClone(get(key)) : get(key));
      break;
    case 2: // retype
      if (key !== undefined) set(key, randomValue(rand, 2));
      break;
    case 3: // random scalar
      if (key !== undefined) set(key, pick(rand, SCALARS));
      break;
    case 4: // add a field, real or not
      if (Array.isArray(c)) c.push(randomValue(rand));
      else c[pick(rand, FIELD_NAMES)] = randomValue(rand);
      break;
    case 5: // rename a key to a near miss
      if (!Array.isArray(c) && key !== undefined) {
        const v = c[key as string];
        delete c[key as string];
        c[`${key}${pick(rand, ['s', '_', '', 'X'])}`.replace(/^./, (ch) => (rand() < 0.3 ? ch.toUpperCase() : ch))] = v;
      }
      break;
    case 6: // share another container here (an anchor and alias in YAML)
      if (key !== undefined) set(key, pick(rand, all) as Json);
      break;
    case 7: // wrap
      if (key !== undefined) set(key, rand() < 0.5 ? [get(key)] : { [pick(rand, FIELD_NAMES)]: get(key) });
      break;
    default: // point a reference somewhere else
      if (!Array.isArray(c)) c[pick(rand, ['service', 'route', 'consumer'])] = pick(rand, ['users', 'orders', 'alice', 'nobody', '00000000-0000-4000-8000-000000000000', { id: 'x' }] as Json[]);
  }
  return root;
}

/** One textual change: lines deleted, duplicated, swapped or re-indented; bytes and YAML tokens inserted; truncation. */
function mutateText(rand: () => number, text: string): string {
  const lines = text.split('\n');
  const i = Math.floor(rand() * lines.length);
  const at = Math.floor(rand() * (text.length + 1));
  switch (Math.floor(rand() * 9)) {
    case 0:
      lines.splice(i, 1);
      return lines.join('\n');
    case 1:
      lines.splice(i, 0, lines[i]);
      return lines.join('\n');
    case 2: {
      const j = Math.floor(rand() * lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return lines.join('\n');
    }
    case 3:
      lines[i] = rand() < 0.5 ? lines[i].replace(/^ {1,3}/, '') : pick(rand, [' ', '  ', '   ', '\t']) + lines[i];
      return lines.join('\n');
    case 4:
      return text.slice(0, at) + pick(rand, TEXT_SNIPPETS) + text.slice(at);
    case 5:
      return text.slice(0, at);
    case 6: {
      let out = text;
      for (let k = Math.floor(rand() * 8) + 1; k > 0; k--) {
        const p = Math.floor(rand() * (out.length + 1));
        out = out.slice(0, p) + String.fromCharCode(Math.floor(rand() * (rand() < 0.8 ? 128 : 0x3000))) + out.slice(p + 1);
      }
      return out;
    }
    case 7:
      return text.slice(0, at) + String(pick(rand, SCALARS)) + text.slice(at);
    default:
      return text.replace(/: (\S+)/, (_m, v: string) => `: ${rand() < 0.5 ? `&x ${v}` : '*x'}`);
  }
}

function write(rand: () => number, tree: Json): string {
  try {
    return rand() < 0.15 ? (JSON.stringify(tree, null, rand() < 0.5 ? 2 : 0) ?? 'null') : stringify(tree);
  } catch {
    return stringify(tree); // a shared object made a cycle: only YAML (a recursive alias) can write it
  }
}

const SAMPLE_TEXTS = SAMPLES.flatMap((sample) => [stringify(sample), JSON.stringify(sample, null, 2)]);

/** Document number `index` of the run: the same for the same seed, whatever ran before it. */
function generate(index: number): string {
  const rand = prng(SEED ^ Math.imul(index + 1, 0x9e3779b1));
  let text: string;
  if (rand() < 0.5) {
    text = pick(rand, SAMPLE_TEXTS);
  } else {
    let tree = structuredClone(pick(rand, SAMPLES));
    for (let k = Math.floor(rand() * 4) + 1; k > 0; k--) tree = mutateTree(rand, tree);
    text = write(rand, tree);
  }
  for (let k = Math.floor(rand() * 4); k > 0; k--) text = mutateText(rand, text);
  return text;
}

type Outcome = 'valid' | 'errors';

/** Loads one document; describes what is wrong with the outcome, if anything. */
function check(text: string): { outcome?: Outcome; problem?: string } {
  let result: ReturnType<typeof loadConfigText>;
  try {
    result = loadConfigText(text, 'fuzz.yml');
  } catch (err) {
    if (!(err instanceof ConfigError)) return { problem: `threw ${(err as Error)?.stack ?? String(err)}` };
    if (err.issues.length === 0) return { problem: 'a ConfigError without issues' };
    const lines = text.split('\n').length;
    for (const issue of err.issues) {
      if (!Number.isInteger(issue.line) || issue.line < 1 || issue.line > lines + 1) return { problem: `bad line in ${JSON.stringify(issue)}` };
      if (!Number.isInteger(issue.col) || issue.col < 1) return { problem: `bad col in ${JSON.stringify(issue)}` };
      if (typeof issue.message !== 'string' || issue.message.trim() === '') return { problem: `no message in ${JSON.stringify(issue)}` };
      if (issue.file !== 'fuzz.yml') return { problem: `wrong file in ${JSON.stringify(issue)}` };
    }
    return { outcome: 'errors' };
  }
  if (result.snapshot === undefined) return { problem: 'valid, but no snapshot' };
  return { outcome: 'valid' };
}

t.test(`${COUNT} generated and mutated documents (seed ${SEED})`, async (t) => {
  const outcomes: Record<Outcome, number> = { valid: 0, errors: 0 };
  const failures: string[] = [];
  let slowest = 0;
  for (let i = 0; i < COUNT; i++) {
    const text = generate(i);
    const started = Date.now();
    const { outcome, problem } = check(text);
    slowest = Math.max(slowest, Date.now() - started);
    if (outcome) outcomes[outcome]++;
    if (problem && failures.length < 5) failures.push(`document ${i} (FUZZ_SEED=${SEED}): ${problem}\n--- document ---\n${text.slice(0, 2000)}`);
  }
  t.same(failures, [], 'every document ends valid or with located errors');
  t.ok(outcomes.valid > COUNT / 50, `some documents stay valid (${outcomes.valid})`);
  t.ok(outcomes.errors > COUNT / 2, `most are refused (${outcomes.errors})`);
  t.ok(slowest < 5000, `no document takes long (slowest ${slowest} ms)`);
});

t.test('hostile constructions are refused with a clear, located message', async (t) => {
  const head = '_format_version: "3.0"';
  const bomb = [head, 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) bomb.push(`${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(9).fill(`*${'abcdefghij'[i - 1]}`).join(', ')}]`);
  t.same(errorsOf(yaml(...bomb)), ['kong.yml:1:1: aliases expand to more than 1000 nodes: a YAML alias bomb is not accepted']);

  const brackets = `${head}\ntags: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
  t.same(errorsOf(brackets), ['kong.yml:2:71: nesting deeper than 64 levels is not accepted']);
  t.same(errorsOf(`${head}\ntags: ${'{a: '.repeat(100_000)}`), ['kong.yml:2:263: nesting deeper than 64 levels is not accepted']);
  // brackets inside scalars and comments are not nesting
  t.same(errorsOf(yaml(head, `_comment: "${'['.repeat(100)}"`, `# ${'{'.repeat(100)}`, `_workspace: a${'['.repeat(100)}`, `_ignore: ['${'{'.repeat(100)}']`)), []);

  let block = `${head}\n_ignore:\n`;
  for (let i = 1; i < 3000; i++) block += `${' '.repeat(i)}- k:\n`;
  t.same(errorsOf(block), ['kong.yml:67:66: nesting deeper than 64 levels is not accepted']);

  t.same(errorsOf(yaml(head, 'consumers: [{username: a}]', 'consumers: []')), [
    "kong.yml:3:1: failed parsing declarative configuration: Map keys must be unique ('consumers' repeats)",
  ]);
  // equal once read as text, as JavaScript objects do: one would silently replace the other
  t.same(errorsOf(yaml(head, 'services:', '  - {name: a, host: h, port: 80, "port": 81}')), [
    "kong.yml:3:34: failed parsing declarative configuration: Map keys must be unique ('port' repeats)",
  ]);
  t.same(errorsOf(yaml(head, '_ignore:', '  - 1: a', '    "1": b')), [
    "kong.yml:4:5: failed parsing declarative configuration: Map keys must be unique ('1' repeats)",
  ]);
  t.same(errorsOf(yaml(head, '? [a, b]', ': 1')), ['kong.yml:2:3: a map key must be a plain value, not a collection or an alias']);
  t.same(errorsOf(yaml(head, '---', head)), ['kong.yml:2:1: failed parsing declarative configuration: a file holds one document, this is a second one']);
  t.same(errorsOf(''), ['kong.yml:1:1: failed parsing declarative configuration: expected an object']);
  // found by this fuzzer: a header regex the router could not compile used to escape as a SyntaxError
  t.same(errorsOf(yaml(head, 'routes:', '  - name: r', '    headers: {x-v: ["~*[v2"]}')), [
    "kong.yml:4:21: routes[0].headers.x-v[0]: invalid regex: '[v2' (Invalid regular expression: /[v2/i: Unterminated character class)",
  ]);
});
