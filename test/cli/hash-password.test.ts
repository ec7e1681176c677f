import t from 'tap';
import bcrypt from 'bcryptjs';
import { runCli } from '../helpers/cli';

t.test('hash-password reads stdin and prints a bcrypt hash (cost 10 by default)', async (t) => {
  const r = runCli(['hash-password'], { input: 'hunter2\n' });
  t.equal(r.status, 0, r.stderr);
  const hash = r.stdout.trim();
  t.match(hash, /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
  t.ok(bcrypt.compareSync('hunter2', hash), 'the final line break is not part of the password');
  t.notOk(bcrypt.compareSync('hunter2\n', hash));
  t.equal(r.stdout.split('\n').length, 2, 'one line out');
});

t.test('--cost, CRLF input, inner whitespace kept', async (t) => {
  const r = runCli(['hash-password', '--cost', '4'], { input: ' pass word \r\n' });
  t.equal(r.status, 0);
  t.match(r.stdout, /^\$2b\$04\$/);
  t.ok(bcrypt.compareSync(' pass word ', r.stdout.trim()));
});

t.test('the password is never taken from the command line', async (t) => {
  const r = runCli(['hash-password', 'hunter2'], { input: '' });
  t.not(r.status, 0);
  t.match(r.stderr, /too many arguments/);
  t.equal(r.stdout, '');
});

t.test('bad input: a clear error, exit 2', async (t) => {
  const empty = runCli(['hash-password'], { input: '\n' });
  t.equal(empty.status, 2);
  t.equal(empty.stderr, 'error: empty password\n');
  const cost = runCli(['hash-password', '--cost', '3'], { input: 'x' });
  t.equal(cost.status, 2);
  t.equal(cost.stderr, "error: --cost: expected an integer from 4 to 20, got '3'\n");
});
