import t from 'tap';
import { jsonString, jsonValue } from '../../src/observe/json-text';

// The log entries' JSON writer must give JSON.stringify's bytes: collectors parse what Kong's serializer sends.
t.test('jsonString and jsonValue give JSON.stringify text, escapes included', async (t) => {
  const strings = ['', 'plain', 'a"b', 'a\\b', 'tab\there', 'nl\n', '\u0000\u001f', 'é latin1 ÿ', '\u007f', '\u2028\u2029', '😀', '\ud800 lone', 'lone \udfff', '</script>'];
  strings.forEach((s, i) => t.equal(jsonString(s), JSON.stringify(s), `string ${i}`));
  const values: unknown[] = [
    0, -0, 1.5, -3, 1e21, NaN, Infinity, true, false, null,
    [], [1, 'a', undefined, null, [true]],
    {}, { a: 1, b: undefined, c: 'x"y', d: [{ e: 'f' }] },
    { 2: 'two', 1: 'one', z: 'last', '': 'empty' },
    Object.assign(Object.create(null), { n: 'null prototype' }),
    { when: new Date(0) },
  ];
  values.forEach((v, i) => t.equal(jsonValue(v), JSON.stringify(v), `value ${i}`));
  t.equal(jsonValue(undefined), undefined);
});
