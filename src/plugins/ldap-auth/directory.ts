import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';
import { log } from '../../log';

/** Where and how to reach one directory; connections are shared by every ldap-auth instance with equal settings. */
export interface DirectorySettings {
  host: string;
  port: number;
  ldaps: boolean;
  startTls: boolean;
  /** Check the server's certificate against the trusted CAs (Node's, plus NODE_EXTRA_CA_CERTS) and its name. */
  verify: boolean;
  /** Milliseconds an idle connection is kept; 0 keeps it until the server closes it (Kong's setkeepalive(0)). */
  keepalive: number;
}

/** The directory answered the bind: the credentials are good, or it refused them. */
export type BindOutcome = 'accepted' | 'refused';

function ldapUrl(s: DirectorySettings): string {
  return `${s.ldaps ? 'ldaps' : 'ldap'}://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

/** The directory as logs and explain name it. */
export function directoryUrl(s: DirectorySettings): string {
  return `${ldapUrl(s)}${s.startTls ? ' with StartTLS' : ''}`;
}

/** The bind could not be decided: the directory is down, slow, broken, or its TLS could not be trusted. */
export class DirectoryError extends Error {}

// Result codes that say the directory is in trouble rather than that these credentials are wrong: they end in a
// 500 and are never remembered. Every other code refuses the bind (Kong: any non-zero result is a failed login).
const DIRECTORY_TROUBLE = new Set([
  1, // operationsError
  2, // protocolError
  13, // confidentialityRequired: the server wants TLS (set ldaps or start_tls)
  51, // busy
  52, // unavailable
  80, // other
]);

// At most this many connections per directory at once; further binds wait (within their timeout) for one.
// Enough for far more binds per second than a directory usually serves, and a slow directory cannot make the
// gateway open a socket per waiting request.
const MAX_CONNECTIONS = 32;
const LOG_EVERY_MS = 10_000;

/** One LDAP connection: one ldapts Client that may open exactly one socket in its life. */
class Connection {
  readonly client: Client;
  private readonly sockets: Socket[] = [];
  private opened = false;
  private idleTimer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly s: DirectorySettings) {
    const tls = this.tlsOptions();
    // ldapts reconnects by itself when a connection was closed: the hooks below refuse any second socket, so a
    // StartTLS connection can never come back in clear text with a password on it. A closed connection is
    // dropped here instead, and a new one made with its own StartTLS.
    this.client = new Client({
      url: ldapUrl(s),
      ...(s.ldaps && { tlsOptions: tls }),
      createConnection: ((port: number, host: string) => this.track(netConnect({ port, host }), false)) as typeof netConnect,
      createSecureConnection: ((...args: unknown[]) => {
        const upgrade = typeof args[0] === 'object';
        const options: ConnectionOptions = upgrade ? (args[0] as ConnectionOptions) : { ...tls, port: args[0] as number, host: args[1] as string };
        return this.track(tlsConnect(options), upgrade);
      }) as typeof tlsConnect,
    });
  }

  private tlsOptions(): ConnectionOptions {
    // Node checks the certificate against `host` (an IP address cannot be sent as SNI).
    return { host: this.s.host, rejectUnauthorized: this.s.verify, ...(isIP(this.s.host) === 0 && { servername: this.s.host }) };
  }

  private track<T extends Socket>(socket: T, upgrade: boolean): T {
    if (this.sockets.length > (upgrade ? 1 : 0)) {
      socket.destroy();
      throw new DirectoryError('connection closed by the directory');
    }
    // Errors reach ldapts's own listeners too; this one keeps a socket destroyed between theirs from crashing.
    socket.on('error', () => {});
    this.sockets.push(socket);
    return socket;
  }

  /**
   * Still connected; a connection the directory closed while idle is not reused. Its sockets are asked too:
   * after StartTLS, ldapts does not notice the connection closing.
   */
  get usable(): boolean {
    if (!this.opened) return true;
    return this.client.isConnected && this.sockets.every((s) => !s.destroyed && !s.readableEnded);
  }

  async bind(dn: string, password: string): Promise<BindOutcome> {
    if (!this.opened) {
      this.opened = true;
      if (this.s.startTls) await this.client.startTLS(this.tlsOptions());
    }
    try {
      await this.client.bind(dn, password);
      return 'accepted';
    } catch (err) {
      if (err instanceof ResultCodeError && !DIRECTORY_TROUBLE.has(err.code)) return 'refused';
      throw err;
    }
  }

  idle(keepalive: number, onExpiry: () => void): void {
    if (keepalive > 0) this.idleTimer = setTimeout(onExpiry, keepalive).unref();
  }

  busy(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Says goodbye (an unbind) when the connection is healthy; otherwise just closes it. */
  close(polite: boolean): void {
    this.busy();
    if (polite && this.client.isConnected) this.client.unbind().catch(() => {});
    else for (const s of this.sockets) s.destroy();
  }
}

interface Waiter {
  give(conn: Connection): void;
}

/** A pool of connections to one directory, kept per `keepalive`, used by one bind at a time each. */
export class Directory {
  readonly url: string;
  private readonly idle: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  private open = 0;
  private closed = false;
  private failures = 0;
  private lastLogged = 0;

  constructor(
    readonly key: string,
    private readonly s: DirectorySettings,
  ) {
    this.url = directoryUrl(s);
  }

  /**
   * Binds as `dn`, within `timeoutMs` from now whatever is slow (waiting for a connection, connecting, TLS, the
   * bind itself). Rejects with DirectoryError when the directory gives no answer about the credentials.
   */
  bind(dn: string, password: string, timeoutMs: number): Promise<BindOutcome> {
    return new Promise((resolve, reject) => {
      let conn: Connection | undefined;
      let done = false;
      const waiter: Waiter = { give: (c) => use(c) };
      const timer = setTimeout(() => {
        done = true;
        const queued = this.waiters.indexOf(waiter);
        if (queued !== -1) this.waiters.splice(queued, 1);
        // The connection is in an unknown state (a bind may still be on its way): it is not reused.
        if (conn !== undefined) this.discard(conn);
        reject(this.failed(new DirectoryError(`no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
      const use = (c: Connection) => {
        if (done) return this.release(c);
        conn = c;
        c.bind(dn, password).then(
          (outcome) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            this.release(c);
            this.recovered();
            resolve(outcome);
          },
          (err: Error) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            this.discard(c);
            reject(this.failed(err instanceof DirectoryError ? err : new DirectoryError(describe(err))));
          },
        );
      };
      const ready = this.take();
      if (ready !== undefined) use(ready);
      else this.waiters.push(waiter);
    });
  }

  /** A connection to use now: an idle one, or a new one while under the limit; undefined means wait. */
  private take(): Connection | undefined {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.usable) {
        c.busy();
        return c;
      }
      this.discard(c);
    }
    if (this.open >= MAX_CONNECTIONS) return undefined;
    this.open++;
    return new Connection(this.s);
  }

  private release(c: Connection): void {
    if (this.closed || !c.usable) return this.discard(c);
    const next = this.waiters.shift();
    if (next !== undefined) return next.give(c);
    this.idle.push(c);
    c.idle(this.s.keepalive, () => {
      const at = this.idle.indexOf(c);
      if (at !== -1) this.idle.splice(at, 1);
      this.discard(c, true);
    });
  }

  private discard(c: Connection, polite = false): void {
    c.close(polite);
    this.open--;
    // A freed place goes to the next waiter, on a new connection.
    const next = this.waiters.shift();
    if (next !== undefined) {
      this.open++;
      next.give(new Connection(this.s));
    }
  }

  /** Logs an outage once, then at most every 10 s with how many binds failed meanwhile (never a DN or password). */
  private failed(err: DirectoryError): DirectoryError {
    this.failures++;
    const now = Date.now();
    if (now - this.lastLogged >= LOG_EVERY_MS) {
      log('error', 'ldap-auth: directory unavailable', { directory: this.url, error: err.message, failed_binds: this.failures });
      this.lastLogged = now;
      this.failures = 0;
    }
    return err;
  }

  private recovered(): void {
    if (this.lastLogged === 0) return;
    log('info', 'ldap-auth: directory answering again', { directory: this.url });
    this.lastLogged = 0;
    this.failures = 0;
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.close(true);
  }
}

/** What went wrong, without anything the client sent: ldapts's messages name the operation, not its contents. */
function describe(err: Error): string {
  if (err instanceof ResultCodeError) return `the directory answered result code ${err.code}`;
  const code = (err as NodeJS.ErrnoException).code;
  const first = err.message.split('\n')[0];
  return code !== undefined && !first.includes(code) ? `${code}: ${first}` : first;
}

const shared = new Map<string, Directory>();
const users = new Map<Directory, number>();

/** The pool for these settings, shared by plugin instances and kept across reloads; pair with releaseDirectory. */
export function acquireDirectory(s: DirectorySettings): Directory {
  const key = JSON.stringify([s.host.toLowerCase(), s.port, s.ldaps, s.startTls, s.verify, s.keepalive]);
  let d = shared.get(key);
  if (d === undefined) {
    d = new Directory(key, s);
    shared.set(key, d);
  }
  users.set(d, (users.get(d) ?? 0) + 1);
  return d;
}

export function releaseDirectory(d: Directory): void {
  const n = users.get(d)! - 1;
  if (n > 0) return void users.set(d, n);
  users.delete(d);
  shared.delete(d.key);
  d.close();
}
