import { checkConfigText, loadConfigText } from '../../src/config/load';
import { ConfigError, formatIssue } from '../../src/config/errors';

/** The formatted errors a config text produces, or [] when it is valid. */
export function errorsOf(text: string, file = 'kong.yml'): string[] {
  try {
    checkConfigText(text, file);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
}

export function snapshotOf(text: string) {
  return loadConfigText(text, 'kong.yml').snapshot;
}

/** Joins lines so tests can write YAML with exact line numbers. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A config whose one route (/) answers `body`, with one consumer. */
export function answering(body: string, consumer = 'someone'): string {
  return yaml(
    '_format_version: "3.0"',
    'routes:',
    '  - name: root',
    '    paths: [/]',
    `    plugins: [{name: request-termination, config: {status_code: 200, body: ${body}}}]`,
    `consumers: [{username: ${consumer}}]`,
  );
}

/** `consumers` consumers with one key each (`${version}-key-${i}`), who all get `version` from the one route (/). */
export function keyedConsumers(version: string, consumers: number): string {
  const lines = [
    '_format_version: "3.0"',
    'routes:',
    '  - name: root',
    '    paths: [/]',
    '    plugins:',
    '      - name: key-auth',
    '      - name: request-termination',
    `        config: {status_code: 200, body: ${version}}`,
    'consumers:',
  ];
  for (let i = 0; i < consumers; i++) lines.push(`  - username: user-${i}`, `    keyauth_credentials: [{key: ${version}-key-${i}}]`);
  return yaml(...lines);
}
