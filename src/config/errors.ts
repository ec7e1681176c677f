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
