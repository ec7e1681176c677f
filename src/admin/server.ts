import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Gateway } from '../gateway';
import { NODE_ID } from '../node-id';
import { PLUGINS } from '../plugins';
import { VERSION } from '../version';
import { hostname } from 'node:os';

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The DB-less Admin API: read-only views of the live snapshot. */
export function createAdminServer(gateway: Gateway): http.Server {
  return http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { message: 'Method not allowed' });
    const snapshot = gateway.proxy.current;
    if (path === '/') {
      return json(res, 200, {
        tagline: 'Welcome to gateway',
        version: VERSION,
        edition: 'community',
        hostname: hostname(),
        node_id: NODE_ID,
        plugins: {
          available_on_server: Object.fromEntries([...PLUGINS.values()].map((p) => [p.name, { version: p.version, priority: p.priority }])),
          enabled_in_cluster: [...new Set(snapshot.entities.plugins.map((p) => p.name))].sort(),
        },
        configuration: { database: 'off', declarative_config: gateway.configFile },
        configuration_hash: snapshot.hash,
      });
    }
    if (path === '/status') {
      const s = gateway.proxy.stats;
      return json(res, 200, {
        server: {
          connections_accepted: s.connectionsAccepted,
          connections_active: s.connectionsActive,
          connections_handled: s.connectionsAccepted,
          total_requests: s.totalRequests,
        },
        configuration_hash: snapshot.hash,
        last_reload: gateway.lastReload,
      });
    }
    return json(res, 404, { message: 'Not found' });
  });
}
