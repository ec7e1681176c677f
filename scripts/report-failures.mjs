// Run after a failed `tap`: prints each failing test file and its failed assertions, with their diagnostics, last,
// below the coverage table, where the tail of a CI log shows them. Always exits 1 (the run failed).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const RESULTS = '.tap/test-results';
const DIAGNOSTIC_LINES = 16;

function* tapFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tapFiles(path);
    else if (entry.name.endsWith('.tap')) yield path;
  }
}

const failures = [];
for (const file of tapFiles(RESULTS)) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const shown = [];
  lines.forEach((line, i) => {
    if (!/^\s*not ok /.test(line)) return;
    shown.push(line, ...lines.slice(i + 1, i + 1 + DIAGNOSTIC_LINES).filter((l) => !/^\s*(ok|not ok) /.test(l)));
  });
  if (shown.length) failures.push(`# ${relative(RESULTS, file).replace(/\.tap$/, '')}\n${shown.join('\n')}`);
}

console.log('\n# ---- failed tests ----');
console.log(failures.length ? failures.join('\n') : `# none recorded under ${RESULTS} (the run itself failed)`);
process.exit(1);
