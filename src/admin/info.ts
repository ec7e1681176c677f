import { hostname } from 'node:os';
import { NODE_ID } from '../node-id';
import { PLUGINS } from '../plugins';
import { VERSION } from '../version';
import { sendJson } from './http';
import type { AdminRouter } from './router';

/** `/`, `/status` and the plugin catalogue. */
export function addInfoRoutes(router: AdminRouter): void {
  router.add('/', {
    GET: (r) =>
      sendJson(r.res, 200, {
        tagline: 'Welcome to gateway',
        version: VERSION,
        edition: 'community',
        hostname: hostname(),
        node_id: NODE_ID,
        plugins: {
          available_on_server: Object.fromEntries([...PLUGINS.values()].map((p) => [p.name, { version: p.version, priority: p.priority }])),
          enabled_in_cluster: [...new Set(r.snapshot.entities.plugins.map((p) => p.name))].sort(),
        },
        configuration: { database: 'off', declarative_config: r.gateway.configFile },
        configuration_hash: r.snapshot.hash,
      }),
  });

  router.add('/status', {
    GET: async (r) => {
      const pool = r.gateway.options.workers;
      const workers = pool === undefined ? undefined : await pool.workers();
      // Read after the workers answered, so the config and last reload below are of one moment.
      const snapshot = r.gateway.proxy.current;
      const s = r.gateway.proxy.stats;
      const server = {
        connections_accepted: s.connectionsAccepted,
        connections_refused: s.connectionsRefused,
        connections_active: s.connectionsActive,
        total_requests: s.totalRequests,
      };
      // A pool's primary serves no traffic itself: its server counters are its workers' added up.
      for (const w of workers ?? []) {
        server.connections_accepted += w.connections_accepted ?? 0;
        server.connections_refused += w.connections_refused ?? 0;
        server.connections_active += w.connections_active ?? 0;
        server.total_requests += w.total_requests ?? 0;
      }
      sendJson(r.res, 200, {
        // nginx's (and Kong's) `handled`: accepted, less what a limit closed at once
        server: { ...server, connections_handled: server.connections_accepted - server.connections_refused },
        configuration_hash: snapshot.hash,
        configuration_loaded_at: snapshot.loadedAt.toISOString(),
        last_reload: r.gateway.lastReload ?? null,
        last_reload_error: r.gateway.lastReloadError ?? null,
        ...(workers === undefined ? {} : { workers }),
      });
    },
  });

  router.add('/plugins/enabled', {
    GET: (r) => sendJson(r.res, 200, { enabled_plugins: [...PLUGINS.keys()].sort() }),
  });

  router.add('/schemas/plugins/:name', {
    GET: (r, p) => {
      const plugin = PLUGINS.get(p.name);
      if (plugin === undefined) return sendJson(r.res, 404, { message: `No plugin named '${p.name}'` });
      sendJson(r.res, 200, plugin.configSchema);
    },
  });
}
