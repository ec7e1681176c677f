import t from 'tap';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { checkConfigText, loadConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { retireSnapshot } from '../../src/config/snapshot';
import type { CompiledRateLimit } from '../../src/plugins/rate-limiting';

const withConfig = (config: string) => yaml('_format_version: "3.0"', 'plugins:', '  - name: rate-limiting', `    config: ${config}`);
const warningsOf = (text: string) => checkConfigText(text, 'kong.yml').warnings.map(formatIssue);

t.test("Kong's defaults are filled", async (t) => {
  const checked = checkConfigText(withConfig('{minute: 5}'), 'kong.yml');
  t.same(checked.entities.plugins[0].config, {
    minute: 5,
    limit_by: 'consumer',
    policy: 'local',
    fault_tolerant: true,
    hide_client_headers: false,
    error_code: 429,
    error_message: 'API rate limit exceeded',
    sync_rate: -1,
    redis: { port: 6379, timeout: 2000, database: 0, ssl: false, ssl_verify: false },
  });
});

t.test('limits: at least one, each above 0, a longer period never lower', async (t) => {
  t.same(errorsOf(withConfig('{limit_by: ip}')), [
    "kong.yml:4:13: plugins[0].config: at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'",
  ]);
  t.same(errorsOf(withConfig('{minute: 0}')), ['kong.yml:4:22: plugins[0].config.minute: value must be greater than 0']);
  t.same(errorsOf(withConfig('{minute: -1.5}')), ['kong.yml:4:22: plugins[0].config.minute: value must be greater than 0']);
  t.same(errorsOf(withConfig('{minute: 10, hour: 5}')), [
    'kong.yml:4:32: plugins[0].config.hour: The limit for hour(5.0) cannot be lower than the limit for minute(10.0)',
  ]);
  t.same(errorsOf(withConfig('{second: 2.5, year: 2}')), [
    'kong.yml:4:33: plugins[0].config.year: The limit for year(2.0) cannot be lower than the limit for second(2.5)',
  ]);
  t.same(errorsOf(withConfig('{second: 1, minute: 1, hour: 1.5}')), [], 'equal or higher is fine');
});

t.test('policy cluster needs a database: a clear error in DB-less mode', async (t) => {
  const errs = errorsOf(withConfig('{minute: 5, policy: cluster}'));
  t.equal(errs.length, 1);
  t.match(errs[0], /^kong\.yml:4:33: plugins\[0\]\.config\.policy: policy 'cluster' keeps counters in Kong's database, and this gateway runs without one \(DB-less\): use 'local' .* or 'redis'/);
  t.same(errorsOf(withConfig('{minute: 5, policy: memcached}')), ['kong.yml:4:33: plugins[0].config.policy: expected one of: local, cluster, redis']);
});

t.test('the fields a choice requires', async (t) => {
  t.same(errorsOf(withConfig('{minute: 5, policy: redis}')), ["kong.yml:4:13: plugins[0].config.redis.host: required field missing (policy is 'redis')"]);
  t.same(errorsOf(withConfig('{minute: 5, limit_by: header}')), ["kong.yml:4:13: plugins[0].config.header_name: required field missing (limit_by is 'header')"]);
  t.same(errorsOf(withConfig('{minute: 5, limit_by: path}')), ["kong.yml:4:13: plugins[0].config.path: required field missing (limit_by is 'path')"]);
  t.same(errorsOf(withConfig('{minute: 5, limit_by: path, path: reports}')), ["kong.yml:4:47: plugins[0].config.path: invalid value 'reports': should start with: /"]);
  t.same(errorsOf(withConfig('{minute: 5, limit_by: header, header_name: "X Tenant"}')), [
    "kong.yml:4:56: plugins[0].config.header_name: invalid value 'X Tenant': bad header name: only letters, digits and !#$%&'*+.^_`|~- are allowed",
  ]);
  t.same(errorsOf(withConfig('{minute: 5, error_code: 99}')), ['kong.yml:4:37: plugins[0].config.error_code: value should be between 100 and 599']);
  t.same(errorsOf(withConfig('{minute: 5, redis: {host: localhost, port: 70000}}')), ['kong.yml:4:56: plugins[0].config.redis.port: value should be between 0 and 65535']);
});

t.test("sync_rate, as Kong checks it; the redis policy counts on every request anyway", async (t) => {
  t.same(errorsOf(withConfig('{minute: 5, sync_rate: 10}')), ['kong.yml:4:36: plugins[0].config.sync_rate: sync_rate can only be used with the redis policy']);
  t.same(errorsOf(withConfig('{minute: 5, policy: redis, redis: {host: r}, sync_rate: 0.01}')), [
    'kong.yml:4:69: plugins[0].config.sync_rate: sync_rate must be greater than 0.02, or -1 to disable',
  ]);
  t.same(warningsOf(withConfig('{minute: 5, policy: redis, redis: {host: r}, sync_rate: 10}')), [
    'kong.yml:4:69: warning: plugins[0].config.sync_rate: ignored: this gateway counts in Redis on every request (as with -1)',
  ]);
});

t.test("Kong's flat redis_* fields still work, with a warning", async (t) => {
  const text = withConfig('{minute: 5, policy: redis, redis_host: flat.example, redis_port: 6380, redis: {host: nested.example}}');
  t.same(warningsOf(text), [
    'kong.yml:4:52: warning: plugins[0].config.redis_host: deprecated: use config.redis.host instead',
    'kong.yml:4:78: warning: plugins[0].config.redis_port: deprecated: use config.redis.port instead',
  ]);
  const snap = snapshotOf(text);
  const compiled = [...snap.compiledPlugins.values()][0].conf as CompiledRateLimit;
  t.match(compiled.redis!.key, /"flat\.example",6380/, 'the flat fields win, as in Kong');
  retireSnapshot(snap, undefined);
});

t.test('plugins with the same Redis settings share one client; it closes with its last user', async (t) => {
  const redis = (host: string) => `{hour: 5, policy: redis, redis: {host: ${host}}}`;
  const snap = snapshotOf(
    yaml(
      '_format_version: "3.0"',
      'routes:',
      `  - {name: a, paths: [/a], plugins: [{name: rate-limiting, config: ${redis('one.example')}}]}`,
      `  - {name: b, paths: [/b], plugins: [{name: rate-limiting, config: ${redis('one.example')}}]}`,
      `  - {name: c, paths: [/c], plugins: [{name: rate-limiting, config: ${redis('two.example')}}]}`,
    ),
  );
  const [a, b, c] = [...snap.compiledPlugins.values()].map((p) => (p.conf as CompiledRateLimit).redis!);
  t.equal(a, b);
  t.not(a, c);
  t.equal(a.users, 2);
  retireSnapshot(snap, undefined);
  t.equal(a.users, 0);
});

t.test('a reload keeps unchanged plugins as they are, and the Redis client while its settings stay', async (t) => {
  const text = (hour: number, message: string) =>
    yaml(
      '_format_version: "3.0"',
      'routes:',
      `  - {name: a, paths: [/a], plugins: [{name: rate-limiting, config: {hour: ${hour}, policy: redis, redis: {host: one.example}}}]}`,
      `  - {name: b, paths: [/b], plugins: [{name: request-termination, config: {message: ${message}}}]}`,
    );
  const rateLimit = (snap: ReturnType<typeof snapshotOf>) =>
    [...snap.compiledPlugins.values()].map((p) => p.conf).find((c): c is CompiledRateLimit => (c as CompiledRateLimit).redis !== undefined)!;
  const first = loadConfigText(text(5, 'one'), 'kong.yml').snapshot;
  const second = loadConfigText(text(5, 'two'), 'kong.yml', first).snapshot;
  retireSnapshot(first, second);
  t.equal(rateLimit(second), rateLimit(first), 'same config: the compiled plugin is reused');
  t.equal(rateLimit(second).redis!.users, 1);
  const third = loadConfigText(text(9, 'two'), 'kong.yml', second).snapshot;
  retireSnapshot(second, third);
  t.not(rateLimit(third), rateLimit(second), 'a changed limit compiles anew');
  t.equal(rateLimit(third).redis, rateLimit(second).redis, '… on the same Redis client');
  t.equal(rateLimit(third).redis!.users, 1);
  retireSnapshot(third, undefined);
  t.equal(rateLimit(third).redis!.users, 0);
});
