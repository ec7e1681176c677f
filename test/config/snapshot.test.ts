import t from 'tap';
import { snapshotOf, yaml } from '../helpers/config';

// Eight request-termination configs, one per scope level; each level's status tells which one applied.
const config = yaml(
  '_format_version: "3.0"',
  'services:',
  '  - name: s',
  '    host: upstream.test',
  '    routes:',
  '      - name: r',
  '        paths: [/r]',
  '      - name: other',
  '        paths: [/other]',
  'consumers:',
  '  - username: c',
  '  - username: plain',
  'plugins:',
  '  - {name: request-termination, config: {status_code: 401}, route: r, service: s, consumer: c}',
  '  - {name: request-termination, config: {status_code: 402}, route: r, consumer: c}',
  '  - {name: request-termination, config: {status_code: 403}, service: s, consumer: c}',
  '  - {name: request-termination, config: {status_code: 404}, route: r, service: s}',
  '  - {name: request-termination, config: {status_code: 405}, consumer: c}',
  '  - {name: request-termination, config: {status_code: 406}, route: r}',
  '  - {name: request-termination, config: {status_code: 407}, service: s}',
  '  - {name: request-termination, config: {status_code: 408}}',
);

const statusOf = (chain: readonly { plugin: { config: Record<string, any> } }[]) => chain.map((e) => e.plugin.config.status_code);

t.test("Kong's precedence, resolved at build time", async (t) => {
  const snap = snapshotOf(config);
  const r = snap.routes.get(snap.entities.routes.find((x) => x.name === 'r')!.id)!;
  const other = snap.routes.get(snap.entities.routes.find((x) => x.name === 'other')!.id)!;
  const c = snap.consumersByUsername.get('c')!;
  t.same(statusOf(r.chain), [404], 'route+service beats route, service and global');
  t.same(statusOf(r.consumerChains!.get(c.id)!), [401], 'route+service+consumer beats everything');
  t.same(statusOf(other.chain), [407], 'service beats global');
  t.same(statusOf(other.consumerChains!.get(c.id)!), [403], 'service+consumer beats consumer');
  t.equal(r.consumerChains!.get(snap.consumersByUsername.get('plain')!.id), undefined, 'consumers without plugins share the route chain');
});

t.test('disabled plugins are dropped, not shadowing', async (t) => {
  const snap = snapshotOf(
    yaml(
      '_format_version: "3.0"',
      'routes: [{name: r, paths: [/r], plugins: [{name: request-termination, enabled: false, config: {status_code: 410}}]}]',
      'plugins: [{name: request-termination, config: {status_code: 418}}]',
    ),
  );
  const r = snap.routes.get(snap.entities.routes[0].id)!;
  t.same(statusOf(r.chain), [418]);
});

t.test('ids are stable across loads and taken when given', async (t) => {
  const a = snapshotOf(config);
  const b = snapshotOf(config);
  t.same(a.entities.routes.map((r) => r.id), b.entities.routes.map((r) => r.id));
  t.same(a.entities.plugins.map((p) => p.id), b.entities.plugins.map((p) => p.id));
  t.match(a.entities.services[0].id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const given = snapshotOf(yaml('_format_version: "3.0"', 'consumers: [{id: 9f0a9b1e-0000-4000-8000-000000000001, username: u}]'));
  t.equal(given.entities.consumers[0].id, '9f0a9b1e-0000-4000-8000-000000000001');
});

t.test('defaults are filled as Kong fills them', async (t) => {
  const snap = snapshotOf(yaml('_format_version: "3.0"', 'services: [{name: s, url: "https://api.test", routes: [{paths: [/]}]}]'));
  const s = snap.entities.services[0];
  t.same(
    { protocol: s.protocol, host: s.host, port: s.port, path: s.path, retries: s.retries, ct: s.connect_timeout, rt: s.read_timeout, wt: s.write_timeout },
    { protocol: 'https', host: 'api.test', port: 443, path: undefined, retries: 5, ct: 60000, rt: 60000, wt: 60000 },
  );
  const r = snap.entities.routes[0];
  t.same(
    { strip: r.strip_path, preserve: r.preserve_host, ph: r.path_handling, rp: r.regex_priority, protocols: r.protocols },
    { strip: true, preserve: false, ph: 'v0', rp: 0, protocols: ['http', 'https'] },
  );
  t.equal(snapshotOf(yaml('_format_version: "3.0"', 'services: [{name: s, url: "http://api.test:8080/v1"}]')).entities.services[0].path, '/v1');
});

t.test('top-level routes reference services by name or id; format 1.1 paths migrate to regex', async (t) => {
  const snap = snapshotOf(
    yaml(
      '_format_version: "1.1"',
      'services: [{name: s, id: svc-1, host: a.test}]',
      'routes:',
      '  - {name: by-name, service: s, paths: ["/users/\\\\d+"]}',
      '  - {name: by-id, service: {id: svc-1}, paths: [/plain]}',
    ),
  );
  t.same(snap.entities.routes.map((r) => r.service), ['svc-1', 'svc-1']);
  t.same(snap.entities.routes[0].paths, ['~/users/\\d+']);
  t.same(snap.entities.routes[1].paths, ['/plain']);
});
