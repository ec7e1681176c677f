import type { IncomingMessage } from 'node:http';

/**
 * A CORS preflight as Kong's cors plugin tells one: OPTIONS with a non-empty Origin and an
 * Access-Control-Request-Method. cors answers it; auth plugins with run_on_preflight off let it through.
 */
export function isPreflight(req: IncomingMessage): boolean {
  if (req.method !== 'OPTIONS') return false;
  const origin = req.headers.origin;
  return origin !== undefined && origin !== '' && req.headers['access-control-request-method'] !== undefined;
}
