export type PathSegment = string | number;

export type Severity = 'error' | 'warning';

/** One located problem in a config file. `path` is a field path such as `services[0].routes[1].paths[0]`. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  severity?: Severity;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  const warn = issue.severity === 'warning' ? 'warning: ' : '';
  return issue.path ? `${where}: ${warn}${issue.path}: ${issue.message}` : `${where}: ${warn}${issue.message}`;
}

/** How many warnings the gateway's log line gives in full; `gateway validate` lists them all. */
export const LOGGED_WARNINGS = 20;

/**
 * The fields of the log line that tells a start's warnings: the first LOGGED_WARNINGS, and how many there were
 * when that is more (a weak key on each of 10,000 credentials would otherwise make one line of megabytes).
 */
export function warningsLogged(warnings: readonly ConfigIssue[]): { warnings: string[]; warnings_total?: number; more?: string } {
  const shown = warnings.slice(0, LOGGED_WARNINGS).map(formatIssue);
  if (warnings.length <= LOGGED_WARNINGS) return { warnings: shown };
  const file = warnings[0].file;
  return { warnings: shown, warnings_total: warnings.length, more: `${warnings.length - LOGGED_WARNINGS} more; \`gateway validate ${file}\` lists them all` };
}
