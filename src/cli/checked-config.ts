import { checkConfigFile, type CheckedConfig } from '../config/load';
import { ConfigError, formatIssue } from '../config/errors';

/** The checked config file, or its located errors on stderr and exit status 1. */
export function checkedConfigOrExit(file: string): CheckedConfig {
  try {
    return checkConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.exit(1);
  }
}
