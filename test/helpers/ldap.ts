import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadPort } from './raw';

/** The directory tree every test server holds: Kong's spec directory (ldap-auth's spec binds as uid=…,BASE_DN). */
export const SUFFIX = 'dc=ldap,dc=mashape,dc=com';
export const BASE_DN = `ou=scientists,${SUFFIX}`;
const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PASSWORD = 'root-secret';

export interface LdapServer {
  /** Plain LDAP (StartTLS too when started with tls). */
  port: number;
  /** LDAPS; undefined without tls. */
  tlsPort: number | undefined;
  /** The PEM file of the CA that signed the server's certificate (for 127.0.0.1 and localhost); undefined without tls. */
  caFile: string | undefined;
  /** Changes a user's password at the directory, as an administrator would. */
  setPassword(uid: string, password: string): void;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same ports, with the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The Debian package that brings each tool. */
const PACKAGE: Record<string, string> = { slapd: 'slapd', slapadd: 'slapd', slappasswd: 'slapd', ldappasswd: 'ldap-utils', openssl: 'openssl' };
const missing = (name: string) => `cannot run ${name}: install the ${PACKAGE[name]} package (apt-get install slapd ldap-utils openssl)`;

/** Debian installs the server tools in /usr/sbin, which is not on every PATH. */
function tool(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  return name;
}

function run(name: string, args: string[], input?: string): string {
  const r = spawnSync(tool(name), args, { encoding: 'utf8', input, timeout: 15_000 });
  if (r.error !== undefined) throw new Error(`${missing(name)}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

const ssha = (password: string) => run('slappasswd', ['-s', password]).trim();

/** A CA and a server certificate it signed, valid for 127.0.0.1 and localhost. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=gateway test CA']);
  run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('san.ext')]);
  return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

function slapdConf(dir: string, tls: { ca: string; cert: string; key: string } | undefined): string {
  return [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    `pidfile ${join(dir, 'slapd.pid')}`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    ...(tls ? [`TLSCACertificateFile ${tls.ca}`, `TLSCertificateFile ${tls.cert}`, `TLSCertificateKeyFile ${tls.key}`] : []),
    'database mdb',
    'maxsize 10485760',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ssha(ROOT_PASSWORD)}`,
    `directory ${join(dir, 'db')}`,
    '',
  ].join('\n');
}

function entries(users: Record<string, string>): string {
  const base = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: gateway tests\ndc: ldap`,
    `dn: ${BASE_DN}\nobjectClass: organizationalUnit\nou: scientists`,
  ];
  const people = Object.entries(users).map(
    ([uid, password]) => `dn: uid=${uid},${BASE_DN}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${ssha(password)}`,
  );
  return `${[...base, ...people].join('\n\n')}\n`;
}

/** Resolves once the port accepts connections; rejects when slapd exits first or after 15 s. */
function listening(proc: ChildProcess, port: number, output: () => string): Promise<void> {
  const until = Date.now() + 15_000;
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      reject(new Error(`${why}:\n${output()}`));
    };
    proc.once('error', (err) => fail(`${missing('slapd')}: ${err.message}`));
    proc.once('exit', (code) => fail(`slapd exited with ${code}`));
    const probe = () => {
      if (done) return;
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        done = true;
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) fail('slapd did not start in 15 s');
        else setTimeout(probe, 50);
      });
    };
    probe();
  });
}

function launch(confFile: string, urls: string): Promise<ChildProcess> {
  // -d keeps slapd in the foreground (a child of the test, killed with it); level 0 logs nothing.
  const proc = spawn(tool('slapd'), ['-f', confFile, '-h', urls, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const port = Number(/:(\d+)\//.exec(urls)![1]);
  return listening(proc, port, () => out).then(() => proc);
}

function exited(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/**
 * A real OpenLDAP slapd on free loopback ports, for one test file: an mdb database in a temp dir holding
 * `users` (uid → password, stored as salted SHA hashes) under BASE_DN; with `tls`, LDAPS and StartTLS too, on a
 * certificate made for the occasion.
 */
export async function startLdap(users: Record<string, string>, opts: { tls?: boolean } = {}): Promise<LdapServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-ldap-'));
  mkdirSync(join(dir, 'db'));
  const tls = opts.tls ? certificates(dir) : undefined;
  const confFile = join(dir, 'slapd.conf');
  writeFileSync(confFile, slapdConf(dir, tls));
  writeFileSync(join(dir, 'data.ldif'), entries(users));
  run('slapadd', ['-f', confFile, '-l', join(dir, 'data.ldif')]);
  const port = await deadPort();
  const tlsPort = tls ? await deadPort() : undefined;
  const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])].join(' ');
  let proc = await launch(confFile, urls);
  return {
    port,
    tlsPort,
    caFile: tls?.ca,
    setPassword: (uid, password) => {
      run('ldappasswd', ['-x', '-H', `ldap://127.0.0.1:${port}`, '-D', ROOT_DN, '-w', ROOT_PASSWORD, '-s', password, `uid=${uid},${BASE_DN}`]);
    },
    kill: () => exited(proc, 'SIGKILL'),
    restart: async () => {
      await exited(proc, 'SIGKILL');
      proc = await launch(confFile, urls);
    },
    stop: () => exited(proc, 'SIGTERM'),
  };
}
