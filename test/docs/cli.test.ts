import t from 'tap';
import { runCli } from '../helpers/cli';
import { read } from './markdown';

/** The commands `gateway --help` lists, and the flags a help text prints (`-c`, `--conf`, `--no-metrics`). */
export function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}
export function flagsOf(help: string): string[] {
  const section = help.split(/^Options:$/m)[1]?.split(/^Commands:$/m)[0] ?? '';
  const flags = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^ {2}(-\S.*?)(?: {2,}|$)/.exec(line);
    if (!m) continue;
    for (const f of m[1]!.matchAll(/(?:^|[ ,])(--?[A-Za-z][\w-]*)/g)) flags.add(f[1]!);
  }
  return [...flags];
}

// Every flag any `gateway <command> --help` prints appears in docs/cli.md, in backquotes.
t.test('every flag of every command is in docs/cli.md', async (t) => {
  const cli = read('docs/cli.md');
  const top = runCli(['--help']);
  t.equal(top.status, 0);
  const commands = commandsOf(top.stdout);
  t.ok(commands.includes('start') && commands.includes('validate'), `commands: ${commands.join(', ')}`);
  const missing: string[] = [];
  for (const command of ['', ...commands]) {
    const r = runCli(command ? [command, '--help'] : ['--help']);
    t.equal(r.status, 0, `gateway ${command} --help`);
    const flags = flagsOf(r.stdout);
    t.ok(flags.includes('--help'), `gateway ${command} --help prints its flags`);
    for (const flag of flags) if (!new RegExp('`[^`]*' + flag + '(?![\\w-])').test(cli)) missing.push(`${command || '(none)'} ${flag}`);
    if (command) t.ok(cli.includes('gateway ' + command), `docs/cli.md shows gateway ${command}`);
  }
  t.same(missing, [], 'flags missing from docs/cli.md');
});

t.test('flags are read from commander help lines, short and long forms', async (t) => {
  const help = 'Usage: x\n\nOptions:\n  -c, --conf <file>  a file\n                     more\n  --no-metrics       off\n  --real-ip-recursive [on|off]  r\n  -h, --help         help\n\nCommands:\n  start [options]  serve\n  help [command]   help\n';
  t.same(flagsOf(help), ['-c', '--conf', '--no-metrics', '--real-ip-recursive', '-h', '--help']);
  t.same(commandsOf(help), ['start']);
});
