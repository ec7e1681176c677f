import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { ROOT, anchors, markdownFiles, prose, read } from './markdown';

// Every relative link of README.md and docs/ points at a file that exists, and its #anchor at a heading there.
t.test('relative links between pages resolve, files and anchors', async (t) => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const text = read(file);
    for (const m of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      checked++;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const dest = path === '' ? file : normalize(join(dirname(file), path));
      if (!existsSync(join(ROOT, dest))) {
        broken.push(`${file}: ${target} (no file ${dest})`);
        continue;
      }
      if (anchor !== undefined && !(statSync(join(ROOT, dest)).isFile() && anchors(read(dest)).has(anchor))) {
        broken.push(`${file}: ${target} (no heading #${anchor} in ${dest})`);
      }
    }
  }
  t.ok(checked > 20, `links checked: ${checked}`);
  t.same(broken, []);
});

t.test('the anchor rule follows GitHub: code, punctuation and repeats', async (t) => {
  const a = anchors('# Several processes on one machine: `--workers`\n## Admin API\n## Admin API\n```\n# not a heading\n```\n');
  t.same([...a], ['several-processes-on-one-machine---workers', 'admin-api', 'admin-api-1']);
});
