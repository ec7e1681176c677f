// Upstreams and targets as Kong 3.x reads them: kong/db/schema/entities/upstreams.lua, targets.lua and
// kong/db/dao/targets.lua (the default port).
import t from 'tap';
import { errorsOf, snapshotOf } from '../helpers/config';

const file = (doc: object) => JSON.stringify({ _format_version: '3.0', ...doc });

t.test('upstreams.lua: every field gets Kong’s default, healthchecks with probing off', async (t) => {
  const s = snapshotOf(file({ upstreams: [{ name: 'backend', targets: [{ target: '10.0.0.1' }, { target: 'a.example:81', weight: 0 }] }] }));
  const u = s.entities.upstreams[0];
  t.match(u, { name: 'backend', algorithm: 'round-robin', hash_on: 'none', hash_fallback: 'none', hash_on_cookie_path: '/', slots: 10000, use_srv_name: false });
  t.same(u.healthchecks.active.healthy, { interval: 0, http_statuses: [200, 302], successes: 0 });
  t.same(u.healthchecks.active.unhealthy, { interval: 0, http_statuses: [429, 404, 500, 501, 502, 503, 504, 505], tcp_failures: 0, timeouts: 0, http_failures: 0 });
  t.match(u.healthchecks.active, { type: 'http', timeout: 1, concurrency: 10, http_path: '/', https_verify_certificate: true });
  t.same(u.healthchecks.passive.unhealthy, { http_statuses: [429, 500, 503], tcp_failures: 0, timeouts: 0, http_failures: 0 });
  t.equal(u.healthchecks.passive.healthy.successes, 0);
  t.equal(u.healthchecks.threshold, 0);
  t.same(
    s.entities.targets.map((x) => [x.target, x.weight]),
    [['10.0.0.1:8000', 100], ['a.example:81', 0]],
    'targets.lua: port 8000 when none is given, weight 100 by default',
  );
});

t.test('upstreams.lua shorthands: hash_on sets the algorithm, least-connections and latency drop hash_on', async (t) => {
  const s = snapshotOf(
    file({
      upstreams: [
        { name: 'a', hash_on: 'ip' },
        { name: 'b', algorithm: 'consistent-hashing', hash_on: 'none' },
        { name: 'c', algorithm: 'least-connections', hash_on: 'ip' },
        { name: 'd', algorithm: 'latency' },
      ],
    }),
  );
  t.same(
    s.entities.upstreams.map((u) => [u.algorithm, u.hash_on]),
    [['consistent-hashing', 'ip'], ['round-robin', 'none'], ['least-connections', 'none'], ['latency', 'none']],
  );
});

t.test('upstreams.lua entity checks', async (t) => {
  const errors = (u: object) => errorsOf(file({ upstreams: [{ name: 'u', ...u }] })).join('\n');
  t.match(errors({ hash_on: 'header' }), /hash_on_header: required field missing/);
  t.match(errors({ hash_on: 'ip', hash_fallback: 'header' }), /hash_fallback_header: required field missing/);
  t.match(errors({ hash_on: 'cookie' }), /hash_on_cookie: required field missing/);
  t.match(errors({ hash_on: 'query_arg' }), /hash_on_query_arg: required field missing/);
  t.match(errors({ hash_on: 'uri_capture' }), /hash_on_uri_capture: required field missing/);
  t.match(errors({ hash_on: 'ip', hash_fallback: 'ip' }), /hash_fallback: must not be the same as hash_on/);
  t.match(errors({ hash_on: 'cookie', hash_on_cookie: 'c', hash_fallback: 'ip' }), /hash_fallback: expected one of: none/);
  t.match(errors({ hash_on: 'header', hash_on_header: 'X-A', hash_fallback: 'header', hash_fallback_header: 'x-a' }), /values of these fields must be distinct/);
  t.match(errors({ slots: 5 }), /slots/);
  t.match(errors({ algorithm: 'random' }), /algorithm: expected one of/);
  t.match(errors({ healthchecks: { active: { type: 'grpc' } } }), /healthchecks\.active\.type: 'grpc' health checks are not supported/);
  t.match(errors({ client_certificate: { id: 'x' } }), /upstreams\[0\]\.client_certificate: invalid reference 'client_certificate: x' \(no such entry in 'certificates'\)/);
  t.same(errors({ hash_on: 'header', hash_on_header: 'X-A', hash_fallback: 'ip' }), '');
  t.match(errorsOf(file({ upstreams: [{ name: '10.0.0.1' }] })).join('\n'), /Invalid name \('10\.0\.0\.1'\); no ip addresses allowed/);
  t.match(errorsOf(file({ upstreams: [{ name: 'a:80' }] })).join('\n'), /no port allowed/);
  t.match(errorsOf(file({ upstreams: [{ name: 'a' }, { name: 'a' }] })).join('\n'), /uniqueness violation: 'upstreams' entity with name set to 'a'/);
});

t.test('targets.lua: addresses, weights, references', async (t) => {
  const errors = (doc: object) => errorsOf(file(doc)).join('\n');
  t.match(errors({ upstreams: [{ name: 'u', targets: [{ target: 'bad host' }] }] }), /Invalid target \('bad host'\); not a valid hostname or ip address/);
  t.match(errors({ upstreams: [{ name: 'u', targets: [{ target: 'a', weight: 70000 }] }] }), /weight: value should be between 0 and 65535/);
  t.match(errors({ upstreams: [{ name: 'u', targets: [{ target: 'a:8000' }, { target: 'a' }] }] }), /uniqueness violation: target 'a:8000'/);
  t.match(errors({ targets: [{ target: 'a', upstream: 'nope' }] }), /invalid reference 'upstream: nope'/);
  t.match(errors({ targets: [{ target: 'a' }] }), /targets\[0\]\.upstream: required field missing/);
  const s = snapshotOf(file({ upstreams: [{ name: 'u' }], targets: [{ target: '[::1]', upstream: 'u' }, { target: '[::1]:81', upstream: { id: s0id() } }] }));
  t.same(s.entities.targets.map((x) => x.target), ['[::1]:8000', '[::1]:81']);
});

function s0id(): string {
  return snapshotOf(file({ upstreams: [{ name: 'u' }] })).entities.upstreams[0].id;
}

t.test('a service whose host names an upstream is balanced over its targets', async (t) => {
  const s = snapshotOf(
    file({
      upstreams: [{ name: 'backend', host_header: 'api.internal', targets: [{ target: '127.0.0.1:9001' }, { target: 'b.local:80' }] }],
      services: [
        { name: 'balanced', host: 'backend', routes: [{ name: 'r1', paths: ['/a'] }] },
        { name: 'plain', host: 'example.com', routes: [{ name: 'r2', paths: ['/b'] }] },
      ],
    }),
  );
  const [r1, r2] = [...s.routes.values()];
  t.same(r1.balanced!.targets.map((x) => [x.host, x.port, x.hostHeader]), [['127.0.0.1', 9001, 'api.internal'], ['b.local', 80, 'api.internal']]);
  t.equal(r2.balanced, undefined);
  t.equal(s.upstreams.get('backend')!.targets.length, 2);
});
