import Redis, { type RedisOptions } from 'ioredis';
import { log } from '../../log';

/** Where the counters live: `config.redis` with Kong's defaults filled. */
export interface RedisSettings {
  host: string;
  port: number;
  timeout: number;
  username?: string;
  password?: string;
  database: number;
  ssl: boolean;
  ssl_verify: boolean;
  server_name?: string;
}

// One round trip for every period of a request, and atomic across gateways: read all counters, refuse when
// one is used up (a refused request is not counted, as in Kong), else count the request in each and keep the
// key until its window ends. KEYS: one counter per period; ARGV: the limits, then each key's time to live.
const TAKE_SCRIPT = `
local n = #KEYS
local usage = {}
local allowed = true
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or 0)
  usage[i] = used
  if tonumber(ARGV[i]) - used <= 0 then allowed = false end
end
if allowed then
  for i = 1, n do
    redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ARGV[n + i])
  end
end
return usage
`;

interface TakeCommand {
  rateLimitTake(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
}

/**
 * One Redis client for every plugin instance with the same settings, kept across reloads while any instance
 * uses it. Fails fast while Redis is down (no offline queue) and reconnects by itself; an outage is logged
 * once when it starts and once when it ends, never per request.
 */
export class SharedRedis {
  users = 0;
  private readonly client: Redis & TakeCommand;
  private down = false;
  private firstConnect: Promise<void> | undefined;

  constructor(readonly key: string, private readonly settings: RedisSettings) {
    this.client = new Redis(clientOptions(settings)) as Redis & TakeCommand;
    this.client.defineCommand('rateLimitTake', { lua: TAKE_SCRIPT });
    this.client.on('error', (err: Error) => this.markDown(err));
    this.client.on('ready', () => this.markUp());
  }

  /** Runs the counting script; resolves with each period's count before this request. */
  async take(keys: string[], args: Array<string | number>): Promise<number[]> {
    try {
      if (this.client.status === 'wait') {
        // The first request connects; those arriving meanwhile wait for it instead of failing fast.
        this.firstConnect = this.client.connect().finally(() => (this.firstConnect = undefined));
      }
      if (this.firstConnect !== undefined) await this.firstConnect;
      const usage = await this.client.rateLimitTake(keys.length, ...keys, ...args);
      if (this.down) this.markUp();
      return usage;
    } catch (err) {
      this.markDown(err as Error);
      throw err;
    }
  }

  /** Lets replies already asked for arrive, then closes. */
  close(): void {
    if (this.client.status === 'ready') this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  private markDown(err: Error): void {
    if (this.down) return;
    this.down = true;
    log('error', 'redis unavailable', { ...this.where(), error: err.message });
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    log('info', 'redis back', this.where());
  }

  private where() {
    return { redis: `${this.settings.host}:${this.settings.port}`, database: this.settings.database };
  }
}

function clientOptions(s: RedisSettings): RedisOptions {
  const host = s.host.startsWith('[') ? s.host.slice(1, -1) : s.host;
  return {
    host,
    port: s.port,
    username: s.username,
    password: s.password === '' ? undefined : s.password,
    db: s.database,
    connectTimeout: s.timeout || undefined,
    commandTimeout: s.timeout || undefined,
    tls: s.ssl ? { rejectUnauthorized: s.ssl_verify, servername: s.server_name } : undefined,
    lazyConnect: true, // a loaded config opens no connection until a request needs it
    enableOfflineQueue: false, // while Redis is down, answer now rather than queue
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false, // a resent script could count a request twice
  };
}

const shared = new Map<string, SharedRedis>();

/** The client for these settings, shared; pair with releaseRedis. */
export function acquireRedis(settings: RedisSettings): SharedRedis {
  const key = JSON.stringify([settings.host, settings.port, settings.username, settings.password, settings.database, settings.timeout, settings.ssl, settings.ssl_verify, settings.server_name]);
  let client = shared.get(key);
  if (client === undefined) {
    client = new SharedRedis(key, settings);
    shared.set(key, client);
  }
  client.users++;
  return client;
}

export function releaseRedis(client: SharedRedis): void {
  if (--client.users > 0) return;
  shared.delete(client.key);
  client.close();
}
