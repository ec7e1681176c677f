// The Admin API's upstream and target endpoints, read-only as Kong's in DB-less mode (kong/api/routes/upstreams.lua).
import t from 'tap';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';

t.test('GET /upstreams, /upstreams/{name|id}, its targets; writes refused', async (t) => {
  const gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      upstreams: [{ name: 'backend', tags: ['x'], targets: [{ target: '10.0.0.1' }, { target: '10.0.0.2:81', weight: 0 }] }],
    }),
  );
  t.teardown(() => gw.stop());
  const admin = gw.adminPort!;
  const list = (await request(admin, '/upstreams')).json();
  t.equal(list.data.length, 1);
  const u = list.data[0];
  t.match(u, {
    name: 'backend', algorithm: 'round-robin', hash_on: 'none', hash_fallback: 'none', hash_on_header: null, slots: 10000,
    host_header: null, client_certificate: null, use_srv_name: false, tags: ['x'],
    healthchecks: { active: { type: 'http', healthy: { interval: 0 } }, passive: { unhealthy: { http_statuses: [429, 500, 503] } }, threshold: 0 },
  });
  t.same((await request(admin, `/upstreams/${u.id}`)).json(), u);
  t.same((await request(admin, '/upstreams/backend')).json(), u);
  const targets = (await request(admin, '/upstreams/backend/targets')).json().data;
  t.same(targets.map((x: { target: string; weight: number }) => [x.target, x.weight]), [['10.0.0.1:8000', 100], ['10.0.0.2:81', 0]]);
  t.same(targets[0].upstream, { id: u.id });
  t.equal((await request(admin, '/upstreams/backend/targets/all')).json().data.length, 2);
  t.equal((await request(admin, '/upstreams/backend/targets/10.0.0.1:8000')).json().id, targets[0].id);
  const post = await request(admin, '/upstreams', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"x"}' });
  t.equal(post.status, 405);
  t.match(post.json(), { code: 12, message: "cannot create 'upstreams' entities when not using a database" });
  t.equal((await request(admin, '/upstreams/nope')).status, 404);
});
