import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { runCli, tempFile } from '../helpers/cli';
import { errorsOf } from '../helpers/config';

// Beside the repository (../shared), or beside the worktree a branch is built in.
const ROOT = join(__dirname, '..', '..');
const CORPUS = [join(ROOT, '..', 'shared', 'corpus', 'kong'), join(ROOT, '..', '..', 'shared', 'corpus', 'kong')].find((d) => existsSync(d));
const NAMES = new Set(['cors', 'ip-restriction', 'request-size-limiting', 'bot-detection']);

/** Every plugin entry of these names anywhere in a parsed file. */
function pluginsIn(doc: unknown, out: Array<Record<string, unknown>>): void {
  if (Array.isArray(doc)) for (const v of doc) pluginsIn(v, out);
  else if (doc !== null && typeof doc === 'object') {
    const o = doc as Record<string, unknown>;
    if (typeof o.name === 'string' && NAMES.has(o.name) && !('routes' in o) && !('paths' in o)) out.push(o);
    for (const k in o) pluginsIn(o[k], out);
  }
}

t.test('the published kong.yml files that use these plugins: each of their configs validates', { skip: CORPUS === undefined && 'no corpus beside the repository' }, async (t) => {
  const dir = CORPUS!;
  const seen = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    let doc: unknown;
    try {
      doc = yaml.load(readFileSync(join(dir, file), 'utf8'));
    } catch {
      continue; // files that are not YAML are another test's business
    }
    const found: Array<Record<string, unknown>> = [];
    pluginsIn(doc, found);
    for (const p of found) {
      const plugin = { name: p.name, config: p.config, protocols: p.protocols, enabled: p.enabled };
      const key = JSON.stringify(plugin);
      if (seen.has(key)) continue;
      seen.add(key);
      const text = JSON.stringify({ _format_version: '3.0', routes: [{ name: 'r', paths: ['/'], plugins: [plugin] }] });
      t.same(errorsOf(text), [], `${file}: ${p.name}`);
    }
  }
  t.ok(seen.size >= 8, `the corpus has configs of these plugins (${seen.size})`);
});

t.test('gateway explain shows them in Kong priority order, and who answered', async (t) => {
  const file = tempFile(
    'kong.yml',
    [
      '_format_version: "3.0"',
      'services:',
      '  - name: up',
      '    url: http://127.0.0.1:9',
      '    routes:',
      '      - name: r',
      '        paths: [/]',
      '        plugins:',
      '          - name: request-size-limiting',
      '          - name: ip-restriction',
      '            config: {deny: [127.0.0.1]}',
      '          - name: cors',
      '          - name: bot-detection',
      '',
    ].join('\n'),
  );
  const r = runCli(['explain', '-c', file, '-H', 'Origin: http://app.test', '--format', 'json', 'http://api.test/']);
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.same(
    out.plugins.map((p: { name: string; priority: number; result: string }) => [p.name, p.priority, p.result]),
    [
      ['bot-detection', 2500, 'passed'],
      ['cors', 2000, 'passed'],
      ['ip-restriction', 990, 'answered 403'],
      ['request-size-limiting', 951, 'not reached'],
    ],
  );
  t.equal(out.outcome.status, 403);
  t.equal(out.outcome.headers['access-control-allow-origin'], '*', "cors's headers are on ip-restriction's refusal");
});
