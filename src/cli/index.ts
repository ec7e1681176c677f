import { Command, InvalidArgumentError, Option } from 'commander';
import { Gateway, type GatewayOptions } from '../gateway';
import type { Serving } from '../cluster/primary';
import { workerCount, WORKERS_ENV } from './workers';
import { ConfigError, formatIssue } from '../config/errors';
import { parseListeners } from './listen';
import { configuredDefaultCertificate, generatedDefaultCertificate, tlsSettings } from './tls-settings';
import { validateCommand } from './validate';
import { hashPasswordCommand } from './hash-password';
import { explainCommand } from './explain';
import { routesCommand } from './routes';
import { ADMIN_TOKEN_ENV } from '../admin/token';
import { DEFAULT_CLIENT_TIMEOUTS, DEFAULT_MIN_RATE_GRACE } from '../proxy/client-limits';
import { DEFAULT_MAX_CONNECTIONS_PER_IP } from '../proxy/connections-per-ip';
import { DEFAULT_CACHE_BYTES } from '../plugins/proxy-cache/memory';
import { DEFAULT_REAL_IP_HEADER, parseTrustedIps } from '../proxy/client-address';

/** A size as Kong's config writes it: bytes, or a number with k, m or g. */
function byteSize(value: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(value.trim());
  const bytes = m === null ? NaN : Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
  if (!(bytes >= 1) || bytes > Number.MAX_SAFE_INTEGER) throw new InvalidArgumentError('expected a size such as 128m, 512k or 1g');
  return bytes;
}

function trustedIps(value: string): string[] {
  try {
    return parseTrustedIps(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Kong's on/off settings (nginx's words), and the usual boolean spellings. */
function onOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  throw new InvalidArgumentError("expected 'on' or 'off'");
}

function realIpHeader(value: string): string {
  if (value.toLowerCase() === 'proxy_protocol') throw new InvalidArgumentError('the PROXY protocol is not supported: name a header');
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) throw new InvalidArgumentError('expected a header name');
  return value;
}

/** The environment variable of --max-connections-per-ip (Kong has no such setting). */
export const MAX_CONNECTIONS_PER_IP_ENV = 'GATEWAY_MAX_CONNECTIONS_PER_IP';

function milliseconds(value: string): number {
  const ms = Number(value);
  if (!/^\d+$/.test(value) || ms < 1 || ms > 2_147_483_647) throw new InvalidArgumentError('expected a whole number of milliseconds, at least 1');
  return ms;
}

/** A whole number from 1, or 'off' (kept as such: commander turns a parsed null into ''). */
function countOrOff(value: string): number | 'off' {
  if (value === 'off') return value;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 2_147_483_647) throw new InvalidArgumentError("expected a whole number, at least 1, or 'off'");
  return n;
}

import { configureLog, defaultFormat, log, LOG_LEVELS, type LogFormat, type LogLevel } from '../log';
import { VERSION } from '../version';

interface StartOptions {
  conf?: string;
  proxyListen: string;
  adminListen: string;
  sslCert?: string;
  sslCertKey?: string;
  adminToken?: string;
  adminShowSecrets?: boolean;
  logLevel: string;
  logFormat?: string;
  accessLog: string;
  metrics: boolean;
  metricsPerConsumer?: boolean;
  clientHeaderTimeout: number;
  clientBodyTimeout: number;
  clientBodyMinRate: number | 'off';
  clientBodyMinRateGrace: number;
  maxConnectionsPerIp: number | 'off';
  lingeringTime: number;
  lingeringTimeout: number;
  workers: number;
  memCacheSize: number;
  trustedIps?: string[];
  realIpHeader: string;
  realIpRecursive: boolean;
}

/** Kong's log_level names that this gateway's four levels stand for. */
const KONG_LOG_LEVELS: Record<string, LogLevel> = { notice: 'info', crit: 'error', alert: 'error', emerg: 'error' };

function startCommand(): Command {
  return new Command('start')
    .description('load a declarative config file and serve traffic')
    .addOption(new Option('-c, --conf <file>', 'declarative config file (kong.yml)').env('KONG_DECLARATIVE_CONFIG'))
    .addOption(
      new Option('--proxy-listen <addrs>', "proxy addresses, comma-separated, each HOST:PORT [ssl] [http2] (Kong's proxy_listen)")
        .env('KONG_PROXY_LISTEN')
        .default('0.0.0.0:8000'),
    )
    .addOption(
      new Option('--admin-listen <addrs>', "admin API addresses, comma-separated, each HOST:PORT [ssl], or 'off'")
        .env('KONG_ADMIN_LISTEN')
        .default('127.0.0.1:8001'),
    )
    .addOption(new Option('--ssl-cert <files>', 'default certificate of the ssl listeners: PEM files or inline PEM, comma-separated (ECDSA and RSA)').env('KONG_SSL_CERT'))
    .addOption(new Option('--ssl-cert-key <files>', 'the keys of --ssl-cert, in the same order').env('KONG_SSL_CERT_KEY'))
    .addOption(new Option('--admin-token <token>', 'token every Admin API request must carry (required off loopback)').env(ADMIN_TOKEN_ENV))
    .addOption(
      new Option('--client-header-timeout <ms>', 'time a client has to send the request line and headers (then 408)')
        .argParser(milliseconds)
        .default(DEFAULT_CLIENT_TIMEOUTS.header),
    )
    .addOption(
      new Option('--client-body-timeout <ms>', 'longest pause allowed while a client sends the body (then 408)')
        .argParser(milliseconds)
        .default(DEFAULT_CLIENT_TIMEOUTS.body),
    )
    .addOption(
      new Option('--client-body-min-rate <bytes>', "slowest average rate of a request body, in bytes a second, after the grace (then 408), or 'off'")
        .argParser(countOrOff)
        .default('off'),
    )
    .addOption(
      new Option('--client-body-min-rate-grace <ms>', 'reading time at the start of a body not held to --client-body-min-rate')
        .argParser(milliseconds)
        .default(DEFAULT_MIN_RATE_GRACE),
    )
    .addOption(
      new Option('--max-connections-per-ip <n>', "proxy connections one client address may have open; more are reset at once; or 'off'")
        .env(MAX_CONNECTIONS_PER_IP_ENV)
        .argParser(countOrOff)
        .default(DEFAULT_MAX_CONNECTIONS_PER_IP),
    )
    .addOption(
      new Option('--lingering-time <ms>', 'after answering before a request body was all read, the longest the body is read on and dropped')
        .argParser(milliseconds)
        .default(DEFAULT_CLIENT_TIMEOUTS.lingering.time),
    )
    .addOption(
      new Option('--lingering-timeout <ms>', 'the longest silence from the client while its body is dropped (then the connection closes)')
        .argParser(milliseconds)
        .default(DEFAULT_CLIENT_TIMEOUTS.lingering.idle),
    )
    .addOption(new Option('--admin-show-secrets', 'show key-auth keys and plugin passwords in Admin API output (masked by default)'))
    .addOption(new Option('--log-level <level>', 'event log level').choices([...LOG_LEVELS, ...Object.keys(KONG_LOG_LEVELS)]).env('KONG_LOG_LEVEL').default('info'))
    .addOption(new Option('--log-format <format>', 'log line format (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
    .addOption(new Option('--access-log <target>', "access log: 'off', 'stdout' or a FILE to append to").default('stdout'))
    .addOption(new Option('--no-metrics', 'no Prometheus metrics on the Admin API'))
    .addOption(
      new Option('--workers <n>', "processes serving the proxy: a number, or 'auto' for one per core")
        .env(WORKERS_ENV)
        .argParser(workerCount)
        .default(1),
    )
    .addOption(
      new Option('--trusted-ips <cidrs>', 'comma-separated addresses and CIDR blocks of proxies whose --real-ip-header names the client (none by default)')
        .env('KONG_TRUSTED_IPS')
        .argParser(trustedIps),
    )
    .addOption(
      new Option('--real-ip-header <name>', 'the header a trusted proxy names the client in')
        .env('KONG_REAL_IP_HEADER')
        .argParser(realIpHeader)
        .default(DEFAULT_REAL_IP_HEADER),
    )
    .addOption(
      new Option('--real-ip-recursive [on|off]', "take the header's last address that is not a trusted proxy, rather than its last address")
        .env('KONG_REAL_IP_RECURSIVE')
        .argParser(onOff)
        .preset('on')
        .default(false),
    )
    .addOption(new Option('--metrics-per-consumer', 'add a consumer label to request and bandwidth metrics (Kong per_consumer)'))
    .addOption(
      new Option('--mem-cache-size <size>', 'memory the proxy-cache plugin may use, all caches and workers together')
        .env('KONG_MEM_CACHE_SIZE')
        .argParser(byteSize)
        .default(DEFAULT_CACHE_BYTES, '128m'),
    )
    .action(async (opts: StartOptions) => {
      if (!opts.conf) {
        process.stderr.write('error: a config file is required (-c FILE or KONG_DECLARATIVE_CONFIG)\n');
        process.exit(2);
      }
      const format = opts.logFormat as LogFormat | undefined;
      const eventLog = { level: KONG_LOG_LEVELS[opts.logLevel] ?? (opts.logLevel as LogLevel), format: format ?? defaultFormat(2) };
      configureLog(eventLog);
      let gateway: Serving;
      try {
        const proxy = parseListeners(opts.proxyListen, '--proxy-listen');
        if (proxy.listeners.length === 0) throw new Error('--proxy-listen: the proxy cannot be off');
        const admin = parseListeners(opts.adminListen, '--admin-listen');
        for (const l of admin.listeners) {
          if (l.http2) admin.notes.push(`--admin-listen: 'http2' ignored: the Admin API speaks HTTP/1.1`);
          delete l.http2;
        }
        for (const note of [...proxy.notes, ...admin.notes]) log('info', note);
        const anySsl = [...proxy.listeners, ...admin.listeners].some((l) => l.ssl);
        const configured = configuredDefaultCertificate(opts.sslCert, opts.sslCertKey, '--ssl-cert', '--ssl-cert-key');
        if (anySsl && configured === undefined) log('info', 'no --ssl-cert: serving a self-signed default certificate for localhost, generated now and kept in memory');
        const options: GatewayOptions = {
          configFile: opts.conf,
          proxyListen: proxy.listeners[0],
          proxyListeners: proxy.listeners,
          adminListen: admin.listeners[0] ?? null,
          adminListeners: admin.listeners,
          ...(anySsl ? { tls: tlsSettings(configured ?? generatedDefaultCertificate()) } : {}),
          adminToken: opts.adminToken,
          clientTimeouts: {
            header: opts.clientHeaderTimeout,
            body: opts.clientBodyTimeout,
            ...(opts.clientBodyMinRate === 'off' ? {} : { bodyMinRate: { bytesPerSecond: opts.clientBodyMinRate, graceMs: opts.clientBodyMinRateGrace } }),
            lingering: { time: opts.lingeringTime, idle: opts.lingeringTimeout },
          },
          realIp: { trustedIps: opts.trustedIps ?? [], header: opts.realIpHeader, recursive: opts.realIpRecursive },
          maxConnectionsPerIp: opts.maxConnectionsPerIp === 'off' ? null : opts.maxConnectionsPerIp,
          adminShowSecrets: opts.adminShowSecrets === true,
          accessLog: opts.accessLog,
          accessLogFormat: format ?? (opts.accessLog === 'stdout' ? defaultFormat(1) : 'json'),
          metrics: opts.metrics,
          metricsPerConsumer: opts.metricsPerConsumer === true,
          memCacheSize: opts.memCacheSize,
        };
        // One worker is the single process as it always was: nothing of the pool is even loaded.
        gateway = opts.workers > 1 ? await (await import('../cluster/primary')).startPool(options, opts.workers, eventLog) : await Gateway.start(options);
      } catch (err) {
        if (err instanceof ConfigError) {
          for (const issue of err.issues) process.stderr.write(`${formatIssue(issue)}\n`);
        } else {
          process.stderr.write(`error: ${(err as Error).message}\n`);
        }
        process.exit(1);
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log('info', 'shutting down', { signal });
        gateway.stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // A reload never rejects (a bad file is logged and the live config keeps serving).
      process.on('SIGHUP', () => void gateway.reload());
    });
}

export function main(argv: string[]): void {
  const program = new Command('gateway')
    .description('A DB-less API gateway driven by a Kong 3.x declarative file')
    .version(VERSION)
    .addCommand(startCommand())
    .addCommand(validateCommand())
    .addCommand(hashPasswordCommand())
    .addCommand(explainCommand())
    .addCommand(routesCommand());
  program.parseAsync(argv).catch((err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(2);
  });
}
