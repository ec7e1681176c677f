// What a log line or the Admin API may show of a secret, function by function.
import t from 'tap';
import { redactTarget, secretQueryNames } from '../../src/observe/redact';
import { prettyLine } from '../../src/observe/pretty';
import { isMasked, maskConfig, maskSecret, maskedSecretFields } from '../../src/config/secrets';
import { snapshotOf, yaml } from '../helpers/config';

t.test('query values of key names are redacted, names compared decoded', async (t) => {
  const names = new Set(['apikey', 'x key']);
  const cases: Array<[string, string]> = [
    ['/a', '/a'],
    ['/a?x=1', '/a?x=1'],
    ['/a?apikey=s3cret', '/a?apikey=[REDACTED]'],
    ['/a?x=1&apikey=s3cret&y=2', '/a?x=1&apikey=[REDACTED]&y=2'],
    ['/a?apikey=one&apikey=two', '/a?apikey=[REDACTED]&apikey=[REDACTED]'],
    ['/a?api%6Bey=s3cret', '/a?api%6Bey=[REDACTED]'],
    ['/a?x+key=s3cret&x%20key=s3cret', '/a?x+key=[REDACTED]&x%20key=[REDACTED]'],
    ['/a?APIKEY=s3cret', '/a?APIKEY=s3cret'],
    ['/a?apikey', '/a?apikey'],
    ['/a?apikey=', '/a?apikey=[REDACTED]'],
    ['http://u:p4ss@host:8000/a?apikey=s3cret', '/a?apikey=[REDACTED]'],
    ['https://host', '/'],
  ];
  for (const [target, logged] of cases) t.equal(redactTarget(target, names), logged, target);
  t.equal(redactTarget('/a?apikey=s3cret', new Set()), '/a?apikey=s3cret', 'no key-auth in the config: nothing to redact');
});

t.test('the key names of every key-auth plugin in the config, enabled or not', async (t) => {
  const snapshot = snapshotOf(
    yaml(
      '_format_version: "3.0"',
      'routes: [{name: a, paths: [/a], plugins: [{name: key-auth, config: {key_names: [apikey, token]}}]}, {name: b, paths: [/b]}]',
      'plugins: [{name: key-auth, enabled: false, config: {key_names: [Secret-Name]}}]',
    ),
  );
  t.same([...secretQueryNames(snapshot)].sort(), ['Secret-Name', 'apikey', 'token']);
  t.equal(secretQueryNames(snapshot), secretQueryNames(snapshot), 'computed once per config');
  t.equal(secretQueryNames(snapshotOf(yaml('_format_version: "3.0"'))).size, 0);
});

t.test('Admin API masking: a prefix only for long secrets; masked values are recognized', async (t) => {
  t.equal(maskSecret('0123456789abcdef'), '0123…');
  t.equal(maskSecret('0123456789abcde'), '…');
  t.equal(maskSecret(''), '…');
  t.ok(isMasked('0123…') && isMasked('…'));
  t.notOk(isMasked('a real key…with more') || isMasked('plain'));
  const config = { minute: 5, redis: { host: 'h', password: 'redis-secret-value', username: 'u' }, redis_password: 'short', list: [{ password: 'x' }] };
  t.same(maskConfig(config), { minute: 5, redis: { host: 'h', password: 'redi…', username: 'u' }, redis_password: '…', list: [{ password: '…' }] });
  t.same(config.redis.password, 'redis-secret-value', 'the config itself is untouched');
  t.same(maskedSecretFields(maskConfig(config)), [['redis', 'password'], ['redis_password'], ['list', 0, 'password']]);
  t.same(maskedSecretFields(config), []);
});

t.test('pretty lines: events and access lines', async (t) => {
  t.equal(
    prettyLine('{"level":"warn","time":"2024-05-01T12:34:56.789Z","msg":"redis unavailable","host":"r1","error":"connect ECONNREFUSED"}'),
    '12:34:56.789 WARN  redis unavailable host=r1 error="connect ECONNREFUSED"\n',
  );
  t.equal(
    prettyLine('{"time":"2024-05-01T12:34:56.789Z","request_id":"abc","method":"GET","path":"/a?x=1","status":401,"latency_ms":3,"reason":"no credentials"}'),
    '12:34:56.789 GET /a?x=1 401 3ms request_id=abc reason="no credentials"\n',
  );
  t.equal(prettyLine('not json\n'), 'not json\n', 'anything else passes through');
});
