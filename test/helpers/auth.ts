import { startUpstream, type SeenRequest, type Upstream } from './http';
import { startGateway, type RunningGateway } from './cli';
import { yaml } from './config';

/** An `Authorization: Basic …` value. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface AuthBench {
  gw: RunningGateway;
  upstream: Upstream;
  /** The request the upstream saw last. */
  seen(): SeenRequest;
  close(): Promise<void>;
}

/** A real upstream, and a gateway whose service `up` points at it with `routes` (nested under it) and `rest` (top level). */
export async function startBench(routes: string[], rest: string[]): Promise<AuthBench> {
  const upstream = await startUpstream();
  const gw = await startGateway(
    yaml('_format_version: "3.0"', 'services:', '  - name: up', `    url: http://127.0.0.1:${upstream.port}`, '    routes:', ...routes, ...rest),
  );
  return {
    gw,
    upstream,
    seen: () => upstream.seen[upstream.seen.length - 1],
    close: async () => {
      await gw.stop();
      await upstream.close();
    },
  };
}

/** A route nested under the bench's service: its name is its path. */
export function benchRoute(name: string, plugins: string): string[] {
  return [`      - name: ${name}`, `        paths: [/${name}]`, `        plugins: ${plugins}`];
}
