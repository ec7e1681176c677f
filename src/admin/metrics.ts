import { notFound } from './http';
import type { AdminRouter } from './router';

/** GET /metrics: Prometheus text, as Kong's prometheus plugin serves it on the Admin API. */
export function addMetricsRoutes(router: AdminRouter): void {
  router.add('/metrics', {
    GET: async (r) => {
      const metrics = r.gateway.metrics;
      if (metrics === undefined) return notFound(r);
      const pool = r.gateway.options.workers;
      const text = pool === undefined ? await metrics.render() : await pool.metrics(metrics);
      r.res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      r.res.end(text);
    },
  });
}
