'use strict';
// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went:
//   node bench/profile-summary.js FILE [--top N]
// "self" is time in the function itself; "total" includes what it called (each function counted once per
// stack, so recursion does not inflate it).

const { readFileSync } = require('node:fs');
const { relative } = require('node:path');

function summarize(profile, top) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const name = (n) => {
    const f = n.callFrame;
    const where = f.url ? `${relative(process.cwd(), f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };
  const self = new Map();
  const total = new Map();
  let all = 0;
  let idle = 0;
  for (const [id, us] of dt) {
    const n = nodes.get(id);
    all += us;
    if (n.callFrame.functionName === '(idle)') idle += us;
    self.set(name(n), (self.get(name(n)) ?? 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(nodes.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const busy = all - idle;
  const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${(busy / 1000).toFixed(0)} ms of ${(all / 1000).toFixed(0)} ms sampled (percentages of busy time)`, '', 'self:'];
  for (const [k, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('', 'total, gateway code only:');
  for (const [k, us] of [...total].filter(([k]) => /(^|\s)(dist|src)\//.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join('\n');
}

const file = process.argv[2];
const t = process.argv.indexOf('--top');
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.js FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
process.stdout.write(`${summarize(JSON.parse(readFileSync(file, 'utf8')), t === -1 ? 25 : Number(process.argv[t + 1]))}\n`);
