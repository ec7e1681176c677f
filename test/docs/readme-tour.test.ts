import t, { type Test } from 'tap';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { ROOT, read } from './markdown';

export interface TourLine {
  line: string;
  method: string;
  headers: Record<string, string>;
  admin: boolean;
  path: string;
  status: number;
  comment: string;
}

/** Splits a shell line into words, honouring single quotes (all the tour uses). */
function words(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The curl lines of a section's first sh block, each with the status its comment shows. */
export function tourLines(markdown: string, heading: string): TourLine[] {
  const section = markdown.split(heading)[1]?.split(/^## /m)[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .filter((l) => l.startsWith('curl '))
    .map((line) => {
      const hash = line.indexOf(' # ');
      const comment = line.slice(hash + 3).trim();
      const args = words(line.slice(5, hash));
      const out: TourLine = { line, method: 'GET', headers: {}, admin: false, path: '', status: Number(/^\d{3}\b/.exec(comment)?.[0]), comment };
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '-H') {
          const [name, ...value] = args[++i]!.split(':');
          out.headers[name!.trim()] = value.join(':').trim();
        } else if (a === '-X') out.method = args[++i]!;
        else if (a === '-u') out.headers.authorization = 'Basic ' + Buffer.from(args[++i]!).toString('base64');
        else if (a === '-i' || a === '-s') continue;
        else {
          const url = new URL('http://' + a);
          out.admin = url.port === '8001';
          out.path = url.pathname + url.search;
        }
      }
      return out;
    });
}

// Every curl line of the README's tour (and of getting started's auth section), sent to a gateway started on the bundled kong.yml, gets the status its
// comment shows (and the JSON fields and consumer it names).
async function runTour(t: Test, lines: TourLine[], config: string): Promise<void> {
  const gw = await startGateway('', { file: join(ROOT, config) });
  t.teardown(() => gw.stop());
  for (const l of lines) {
    t.ok(Number.isInteger(l.status), `${l.line}: its comment starts with a status`);
    const port = l.admin ? gw.adminPort! : gw.proxyPort;
    const r = await request(port, l.path, { method: l.method, headers: { host: `localhost:${l.admin ? 8001 : 8000}`, ...l.headers } });
    t.equal(r.status, l.status, l.line);
    for (const [, pair] of l.comment.matchAll(/("[\w-]+":"[^"]*")/g)) t.ok(r.body.includes(pair!), `${l.line}: body has ${pair}`);
    const consumer = /x-consumer-username: ([\w-]+)/.exec(l.comment)?.[1];
    if (consumer) t.equal(r.json().request.headers['x-consumer-username'], consumer, `${l.line}: consumer`);
  }
}

t.test('the README tour answers as the README says, on the bundled kong.yml', async (t) => {
  const lines = tourLines(read('README.md'), '## A one-minute tour');
  t.ok(lines.length >= 8, `${lines.length} curl lines`);
  await runTour(t, lines, 'kong.yml');
});

t.test('getting started: key-auth OR basic-auth answers as the page says, on examples/multiple-auth.yml', async (t) => {
  const page = read('docs/getting-started.md');
  const heading = '## key-auth OR basic-auth, anonymous refused';
  t.match(page.split(heading)[1], /npx gateway start -c examples\/multiple-auth.yml/);
  const lines = tourLines(page, heading);
  t.ok(lines.length >= 4, `${lines.length} curl lines`);
  await runTour(t, lines, 'examples/multiple-auth.yml');
});

t.test('tour lines are read from the section: method, headers, port, path, status', async (t) => {
  const md = "# x\n## A one-minute tour\n```sh\ncurl -i -X POST -H 'apikey: a:b' -u 'u:p' 'localhost:8001/s?x=1' # 201 {\"a\":\"b\"}\n```\n## Next\n```sh\ncurl localhost:8000/no # 200\n```\n";
  const [l, ...rest] = tourLines(md, '## A one-minute tour');
  t.same(rest, []);
  t.match(l, { method: 'POST', headers: { apikey: 'a:b', authorization: 'Basic dTpw' }, admin: true, path: '/s?x=1', status: 201 });
});
