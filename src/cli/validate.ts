import { Command, Option } from 'commander';
import { checkConfigFile } from '../config/load';
import { ConfigError, formatIssue, type ConfigIssue } from '../config/errors';

export interface FileResult {
  file: string;
  valid: boolean;
  issues: ConfigIssue[];
}

/** What `gateway validate` says of one file. */
export function validateFile(file: string, strict: boolean): FileResult {
  try {
    const { warnings } = checkConfigFile(file);
    return { file, valid: !(strict && warnings.length > 0), issues: warnings };
  } catch (err) {
    if (err instanceof ConfigError) {
      const valid = strict ? false : err.issues.every((i) => i.severity === 'warning');
      return { file, valid, issues: err.issues };
    }
    throw err;
  }
}

export function validateCommand(): Command {
  return new Command('validate')
    .description('check declarative config files; exit 1 if any is invalid')
    .argument('<files...>')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--strict', 'treat warnings as errors', false)
    .action((files: string[], opts: { format: 'text' | 'json'; strict: boolean }) => {
      const results = files.map((f) => validateFile(f, opts.strict));
      const valid = results.every((r) => r.valid);
      if (opts.format === 'json') {
        const issues = results.flatMap((r) => r.issues.map((i) => ({ ...i, severity: i.severity ?? 'error' })));
        process.stdout.write(`${JSON.stringify({ valid, files: results.map((r) => ({ file: r.file, valid: r.valid })), issues }, null, 2)}\n`);
      } else {
        for (const r of results) {
          for (const issue of r.issues) process.stderr.write(`${formatIssue(issue)}\n`);
          if (r.valid) process.stdout.write(`${r.file}: valid\n`);
        }
      }
      process.exitCode = valid ? 0 : 1;
    });
}
