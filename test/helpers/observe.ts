import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type Upstream } from './http';
import { startGateway, type RunningGateway } from './cli';

export interface ObservedBench {
  upstream: Upstream;
  gw: RunningGateway;
  /** The access log file. */
  logFile: string;
  /** The access log's lines so far, parsed. */
  lines(): any[];
  close(): Promise<void>;
}

/** A real upstream, and a gateway on `config(upstreamPort)` writing its access log to a file of its own. */
export async function startObserved(config: (upstreamPort: number) => string, args: string[] = []): Promise<ObservedBench> {
  const upstream = await startUpstream();
  const logFile = join(mkdtempSync(join(tmpdir(), 'gateway-access-')), 'access.log');
  const gw = await startGateway(config(upstream.port), { args: ['--access-log', logFile, ...args] });
  return {
    upstream,
    gw,
    logFile,
    lines: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    close: async () => {
      await gw.stop();
      await upstream.close();
    },
  };
}
