import t from 'tap';
import { checkConfigText } from '../../src/config/load';
import { parseConfigText } from '../../src/config/source';
import { errorsOf, yaml } from '../helpers/config';

t.test('a JSON file reads to the same entities as its YAML twin', async (t) => {
  const fromYaml = checkConfigText(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: a',
      '    url: http://example.com:8080/base',
      '    retries: 1.0',
      '    routes:',
      '      - name: r',
      '        paths: ["/x\\u0041"]',
      '        methods: [GET]',
      'consumers:',
      '  - username: "\\ud83d\\ude00"',
      '    keyauth_credentials:',
      '      - key: "k\\/1"',
    ),
    'kong.yml',
  ).entities;
  const json = JSON.stringify({
    _format_version: '3.0',
    services: [{ name: 'a', url: 'http://example.com:8080/base', retries: 1.0, routes: [{ name: 'r', paths: ['/xA'], methods: ['GET'] }] }],
    consumers: [{ username: '😀', keyauth_credentials: [{ key: 'k/1' }] }],
  }).replace('"/xA"', '"/x\\u0041"').replace('"k/1"', '"k\\/1"');
  t.same(checkConfigText(json, 'kong.json').entities, fromYaml);
});

t.test('a key repeated in a JSON object with another value is refused, located, as in YAML', async (t) => {
  const repeated = '{\n  "_format_version": "3.0",\n  "services": [],\n  "services": [{"host": "x"}]\n}\n';
  const errs = errorsOf(repeated, 'kong.json');
  t.equal(errs.length, 1);
  t.match(errs[0], /^kong\.json:4:3: failed parsing declarative configuration: .*unique/i);
  // the same key spelled with an escape
  t.match(errorsOf('{"_format_version": "3.0", "\\u0073ervices": [], "services": [{"host": "x"}]}', 'kong.json')[0], /unique/i);
  // with the same value, Kong's reading keeps that value: only a warning
  t.same(errorsOf('{"_format_version": "3.0", "\\u0073ervices": [], "services": []}', 'kong.json'), []);
  // after a nested object that used the same name
  t.match(errorsOf('{"_format_version": "3.0", "_ignore": [{"a": {"a": 1}, "a": 2}]}', 'kong.json')[0], /unique/i);
  // in an object with many keys
  const many = Array.from({ length: 40 }, (_, i) => `"k${i}": ${i}`).join(', ');
  t.match(errorsOf(`{"_format_version": "3.0", "_ignore": [{${many}, "k25": 0}]}`, 'kong.json')[0], /unique/i);
  t.same(errorsOf(`{"_format_version": "3.0", "_ignore": [{${many}}]}`, 'kong.json'), []);
  // the same key in two different objects is fine
  t.same(errorsOf('{"_format_version": "3.0", "_ignore": [{"a": {"a": 1}}, {"a": 2}], "_comment": "x\\"y"}', 'kong.json'), []);
});

t.test('JSON nesting is limited as YAML nesting is', async (t) => {
  const deep = `{"_format_version": "3.0", "_ignore": ${'['.repeat(200)}${']'.repeat(200)}}`;
  t.same(errorsOf(deep, 'kong.json'), ['kong.json:1:1: nesting deeper than 64 levels is not accepted']);
  const fine = `{"_format_version": "3.0", "_ignore": ${'['.repeat(60)}${']'.repeat(60)}}`;
  t.same(errorsOf(fine, 'kong.json'), []);
});

t.test('what is not plain JSON is read as YAML', async (t) => {
  // a JSON-like document with a YAML comment, and one with a trailing comma: both YAML flow mappings
  const commented = parseConfigText('{"_format_version": "3.0"} # comment\n', 'kong.yml');
  t.same(commented.data, { _format_version: '3.0' });
  t.same(parseConfigText('{"_format_version": "3.0", "_ignore": [yes, on],}', 'kong.yml').data, { _format_version: '3.0', _ignore: [true, true] });
});

t.test('positions in a JSON file point at the field', async (t) => {
  const source = parseConfigText('{\n  "_format_version": "3.0",\n  "services": [\n    {"name": "a"}\n  ]\n}\n', 'kong.json');
  t.same(source.locate(['services', 0, 'name']), { line: 4, col: 14 });
  t.same(source.locate(['services', 0, 'name'], true), { line: 4, col: 6 });
});
