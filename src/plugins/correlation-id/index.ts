import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import configSchema from './schema.json';

export interface CorrelationIdConfig {
  header_name: string;
  generator: 'uuid' | 'uuid#counter' | 'tracker';
  echo_downstream: boolean;
}

interface Compiled {
  /** Lower-cased: the request's header table is. */
  header: string;
  /** As configured, for the response. */
  headerName: string;
  generate: (ctx: RequestContext) => string;
  echo: boolean;
}

// uuid#counter: one UUID per process (Kong: per nginx worker) and a counter from 1.
const PROCESS_UUID = randomUUID();
let counter = 0;

// tracker: nginx's connection serial number and its count of requests on that connection.
const CONNECTION = Symbol('correlation-id.connection');
interface TrackedSocket extends Socket {
  [CONNECTION]?: { serial: number; requests: number };
}
let connections = 0;

/** Kong's tracker: server address, server port, pid, connection serial, request on it, time in seconds (ms). */
function tracker(ctx: RequestContext): string {
  const socket = ctx.req.socket as TrackedSocket;
  const conn = (socket[CONNECTION] ??= { serial: ++connections, requests: 0 });
  conn.requests++;
  const addr = (socket.localAddress ?? '').replace(/^::ffff:/, '');
  return `${addr}-${socket.localPort}-${process.pid}-${conn.serial}-${conn.requests}-${(Date.now() / 1000).toFixed(3)}`;
}

const GENERATORS: Record<CorrelationIdConfig['generator'], (ctx: RequestContext) => string> = {
  uuid: () => randomUUID(),
  'uuid#counter': () => `${PROCESS_UUID}#${++counter}`,
  tracker,
};

/** The id the request carries: its header's value unless empty (Node has trimmed it; the first of repeated ones). */
function carried(ctx: RequestContext, header: string): string | undefined {
  const v = ctx.req.headers[header];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined || first === '' ? undefined : first;
}

export const correlationId: PluginDefinition<CorrelationIdConfig, Compiled> = {
  name: 'correlation-id',
  priority: 100001,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    if (plugin.config.header_name.toLowerCase() !== 'x-kong-request-id') return [];
    return [
      {
        path: ['config', 'header_name'],
        message: "the gateway sends its own request id as X-Kong-Request-Id (upstream and to the client), which replaces this one; use X-Request-Id to have the two be one id",
        severity: 'warning',
      },
    ];
  },
  compile: (c) => ({ header: c.header_name.toLowerCase(), headerName: c.header_name, generate: GENERATORS[c.generator], echo: c.echo_downstream }),
  // A client-given id is kept. With header_name X-Request-Id this is the gateway's own request id (the client's when
  // it is acceptable, see src/observe/request-id.ts), so logs, upstream and client see one id.
  access(ctx, c) {
    let id = carried(ctx, c.header);
    if (id === undefined) ctx.req.headers[c.header] = id = c.generate(ctx);
    ctx.correlationId = id;
  },
  headerFilter(ctx, c, head) {
    if (!c.echo) return;
    // Also when the request never reached this plugin's access phase: the client's id, else a new one (as Kong).
    head.set(c.headerName, carried(ctx, c.header) ?? c.generate(ctx));
  },
};
