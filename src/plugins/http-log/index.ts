import http from 'node:http';
import https from 'node:https';
import type { PluginCheck, PluginDefinition } from '../types';
import { joinBytes, type QueueConfig } from '../../observe/queue';
import { closeQueuedSink, queuedSink, queueEntry, refuseLuaFields, type QueuedSink } from '../log-plugin';
import configSchema from './schema.json';

export interface HttpLogConfig {
  http_endpoint: string;
  method: 'POST' | 'PUT' | 'PATCH';
  content_type: string;
  timeout: number;
  keepalive: number;
  retry_count?: number;
  queue_size?: number;
  flush_timeout?: number;
  headers?: Record<string, string> | null;
  queue: QueueConfig;
  custom_fields_by_lua?: Record<string, string> | null;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the plugin sets itself (Kong's schema refuses them in `headers`). */
const RESERVED_HEADERS = new Map([
  ['host', 'Host'],
  ['content-length', 'Content-Length'],
  ['content-type', 'Content-Type'],
]);

/** The endpoint without its userinfo, for messages: the credentials in it are never logged. */
function endpointName(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Kong's legacy fields, applied where the queue keeps its defaults (kong/plugins/http-log/handler.lua). */
function queueOf(c: HttpLogConfig): QueueConfig {
  const q = { ...c.queue };
  if (c.queue_size !== undefined && q.max_batch_size === 1) q.max_batch_size = c.queue_size;
  if (c.flush_timeout !== undefined && q.max_coalescing_delay === 1) q.max_coalescing_delay = c.flush_timeout;
  return q;
}

export const httpLog: PluginDefinition<HttpLogConfig, QueuedSink> = {
  name: 'http-log',
  priority: 12,
  version: '3.9.0',
  configSchema,
  check(plugin) {
    const c = plugin.config;
    const out: PluginCheck[] = refuseLuaFields(c);
    let url: URL;
    try {
      url = new URL(c.http_endpoint);
    } catch {
      return [...out, { path: ['config', 'http_endpoint'], message: 'missing host in url' }];
    }
    for (const name of Object.keys(c.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name)) out.push({ path: ['config', 'headers', name], message: 'bad header name' });
      else if (RESERVED_HEADERS.has(lower)) out.push({ path: ['config', 'headers', name], message: `cannot contain '${RESERVED_HEADERS.get(lower)}' header` });
    }
    const hasAuthorization = Object.keys(c.headers ?? {}).some((h) => h.toLowerCase() === 'authorization');
    if ((url.username !== '' || url.password !== '') && hasAuthorization) {
      out.push({ path: ['config'], message: "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed" });
    }
    for (const field of ['retry_count', 'queue_size', 'flush_timeout'] as const) {
      if (c[field] === undefined) continue;
      const instead = { retry_count: 'queue.max_retry_time', queue_size: 'queue.max_batch_size', flush_timeout: 'queue.max_coalescing_delay' }[field];
      out.push({ path: ['config', field], message: `deprecated: use config.${instead} instead`, severity: 'warning' });
    }
    return out;
  },
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as QueuedSink;
    const url = new URL(c.http_endpoint);
    const secure = url.protocol === 'https:';
    const port = Number(url.port) || (secure ? 443 : 80);
    const headers: Record<string, string> = { 'content-type': c.content_type };
    // Kong sends the userinfo as it stands in the URL, base64-encoded.
    if (url.username !== '' || url.password !== '') {
      headers.authorization = `Basic ${Buffer.from(`${url.username}:${url.password}`).toString('base64')}`;
    }
    for (const [name, value] of Object.entries(c.headers ?? {})) if (!(name.toLowerCase() in headers)) headers[name] = value;
    // Idle connections close after `keepalive` ms; Kong does not verify the collector's certificate (ssl_verify = false).
    const agent = secure
      ? new https.Agent({ keepAlive: true, timeout: c.keepalive, rejectUnauthorized: false })
      : new http.Agent({ keepAlive: true, timeout: c.keepalive });
    const queueConf = queueOf(c);
    const target = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      path: `${url.pathname}${url.search}`,
      method: c.method,
      agent,
    };
    const where = endpointName(url);
    const write = (batch: Buffer[]): Promise<void> => {
      const body = queueConf.max_batch_size === 1 ? batch[0] : joinBytes(batch, '[', ',', ']');
      return new Promise((resolve, reject) => {
        const req = (secure ? https : http).request({ ...target, headers: { ...headers, 'content-length': body.length } }, (res) => {
          res.resume(); // read the body even when it is not used, so the connection can be reused
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 300) resolve();
            else reject(new Error(`request to ${where} returned status code ${status}`));
          });
          res.on('error', reject);
        });
        req.setTimeout(c.timeout, () => req.destroy(new Error(`request to ${where} timed out`)));
        req.on('error', (err) => reject(new Error(`failed request to ${where}: ${err.message}`)));
        req.end(body);
      });
    };
    return queuedSink('http-log', queueConf, { write, close: () => agent.destroy() });
  },
  log: queueEntry,
  dispose: closeQueuedSink,
};
