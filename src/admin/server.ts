import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Gateway } from '../gateway';
import { log } from '../log';
import { addConfigRoutes } from './config';
import { addEntityRoutes } from './entities';
import { notFound, sendJson, type AdminRequest } from './http';
import { addInfoRoutes } from './info';
import { addMetricsRoutes } from './metrics';
import { addProxyCacheRoutes } from './proxy-cache';
import { addUpstreamRoutes } from './upstreams';
import { AdminRouter } from './router';
import { tokenChecker } from './token';

function adminRouter(): AdminRouter {
  const router = new AdminRouter();
  addInfoRoutes(router);
  addEntityRoutes(router);
  addConfigRoutes(router);
  addMetricsRoutes(router);
  addProxyCacheRoutes(router);
  addUpstreamRoutes(router);
  return router;
}

/** The DB-less Admin API on plain HTTP. */
export function createAdminServer(gateway: Gateway): http.Server {
  return http.createServer(adminRequestHandler(gateway));
}

/** The DB-less Admin API: read-only views of the live snapshot, plus GET/POST /config and proxy-cache purges. */
export function adminRequestHandler(gateway: Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const router = adminRouter();
  const authorized = gateway.options.adminToken !== undefined ? tokenChecker(gateway.options.adminToken) : undefined;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (authorized !== undefined && !authorized(req.headers)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="gateway admin"');
      return sendJson(res, 401, { message: 'Invalid or missing admin token' });
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const r: AdminRequest = {
      req,
      res,
      gateway,
      snapshot: gateway.proxy.current,
      path,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      revealSecrets: gateway.options.adminShowSecrets === true,
    };
    let segments: string[];
    try {
      segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return notFound(r);
    }
    const match = router.dispatch(req.method ?? 'GET', segments);
    if (match === 'not found') return notFound(r);
    if (match === 'method not allowed') return sendJson(res, 405, { message: 'Method not allowed' });
    Promise.resolve()
      .then(() => match.handler(r, match.params))
      .catch((err) => {
        log('error', 'admin request failed', { method: req.method, path, error: (err as Error).message });
        if (!res.headersSent) sendJson(res, 500, { message: 'An unexpected error occurred' });
        else res.destroy();
      });
  };
}
