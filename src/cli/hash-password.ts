import { Command, Option } from 'commander';
import { DEFAULT_HASH_COST, hashPassword } from '../plugins/basic-auth/passwords';

/** Reads the whole of stdin; the final line break (what `echo` adds) is not part of the password. */
function readPiped(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')));
    process.stdin.on('error', reject);
  });
}

/** Prompts on a terminal without echoing what is typed. */
function readTyped(): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write('Password: ');
    const stdin = process.stdin;
    stdin.setRawMode(true);
    let typed = '';
    const onData = (c: Buffer) => {
      for (const ch of c.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.off('data', onData);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(typed);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export function hashPasswordCommand(): Command {
  return new Command('hash-password')
    .description('read a password from stdin and print its bcrypt hash, for basicauth_credentials')
    .addOption(new Option('--cost <n>', 'bcrypt cost (4-20)').default(String(DEFAULT_HASH_COST)))
    .action(async (opts: { cost: string }) => {
      const cost = Number(opts.cost);
      if (!Number.isInteger(cost) || cost < 4 || cost > 20) {
        process.stderr.write(`error: --cost: expected an integer from 4 to 20, got '${opts.cost}'\n`);
        process.exit(2);
      }
      const password = process.stdin.isTTY ? await readTyped() : await readPiped();
      if (password === '') {
        process.stderr.write('error: empty password\n');
        process.exit(2);
      }
      process.stdout.write(`${hashPassword(password, cost)}\n`);
    });
}
