// `gateway explain` and `gateway validate` on balanced services (src/explain/balancing.ts, src/config/lint).
import t from 'tap';
import { runCli, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';

const FILE = tempFile(
  'kong.yml',
  yaml(
    '_format_version: "3.0"',
    'upstreams:',
    '  - name: backend',
    '    hash_on: header',
    '    hash_on_header: X-User',
    '    targets: [{target: "10.0.0.1:80"}, {target: "10.0.0.2:80"}, {target: "10.0.0.3:80", weight: 0}]',
    '  - name: rr',
    '    targets: [{target: "10.0.0.1:80"}, {target: "10.0.0.2:80", weight: 300}]',
    'services:',
    '  - {name: s, host: backend, routes: [{name: hashed, paths: [/a]}]}',
    '  - {name: t, host: rr, routes: [{name: spread, paths: [/b]}]}',
  ),
);

const explain = (...args: string[]) => {
  const r = runCli(['explain', '-c', FILE, '--format', 'json', ...args]);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

t.test('explain: consistent-hashing names the target for the hashed value; the same value, the same target', async (t) => {
  const one = explain('http://x/a', '-H', 'X-User: alice');
  t.match(one.balancing, { upstream: 'backend', algorithm: 'consistent-hashing', hashed_on: 'header' });
  t.ok(['10.0.0.1:80', '10.0.0.2:80'].includes(one.balancing.target), 'a target of weight above 0');
  t.equal(explain('http://x/a', '-H', 'X-User: alice').balancing.target, one.balancing.target);
  t.equal(explain('http://x/a').balancing.target, null, 'no value to hash: the candidates');
});

t.test('explain: round-robin lists the candidates with their shares', async (t) => {
  const x = explain('http://x/b');
  t.same(x.balancing.candidates, [
    { target: '10.0.0.1:80', weight: 100, share: '25.0%' },
    { target: '10.0.0.2:80', weight: 300, share: '75.0%' },
  ]);
  const text = runCli(['explain', '-c', FILE, 'http://x/b']).stdout;
  t.match(text, /target    one of \(upstream 'rr', round-robin/);
});

const warningsOf = (...lines: string[]) => checkConfigText(yaml('_format_version: "3.0"', ...lines), 'kong.yml').warnings.map(formatIssue);

t.test('validate: an upstream with no target, or only weight 0, is a warning', async (t) => {
  t.same(warningsOf('upstreams:', '  - name: empty', '  - name: zero', '    targets: [{target: a, weight: 0}]'), [
    "kong.yml:3:5: warning: upstreams[0]: upstream 'empty' has no targets: every request to a service that names it is answered 503 (failure to get a peer from the ring-balancer)",
    "kong.yml:4:5: warning: upstreams[1]: upstream 'zero' has only targets of weight 0: every request to a service that names it is answered 503 (failure to get a peer from the ring-balancer)",
  ]);
});

t.test('validate: a service host one typo away from an upstream name is a warning', async (t) => {
  const w = warningsOf(
    'upstreams: [{name: backend, targets: [{target: a}]}]',
    'services:',
    '  - {name: s, host: backennd, routes: [{paths: [/a]}]}',
    '  - {name: u, host: 127.0.0.1, routes: [{paths: [/b]}]}',
    '  - {name: v, host: backend, routes: [{paths: [/c]}]}',
  );
  t.same(w, ["kong.yml:4:21: warning: services[0].host: host 'backennd' names no upstream, so it is resolved as a hostname: did you mean upstream 'backend'?"]);
});
