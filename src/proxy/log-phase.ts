import type { Snapshot } from '../config/snapshot';
import type { RequestContext } from './context';
import { log } from '../log';

const USES_LOG_PHASE = new WeakMap<Snapshot, boolean>();

/** Whether any plugin of the config has a log phase: only then does a request wait for its response's close. */
export function hasLogPhase(snapshot: Snapshot): boolean {
  let uses = USES_LOG_PHASE.get(snapshot);
  if (uses === undefined) {
    uses = false;
    for (const route of snapshot.routes.values()) {
      if (route.chain.some((e) => e.def.log !== undefined)) uses = true;
      for (const chain of route.consumerChains?.values() ?? []) if (chain.some((e) => e.def.log !== undefined)) uses = true;
    }
    USES_LOG_PHASE.set(snapshot, uses);
  }
  return uses;
}

/** Runs the log phase of the request's final chain when its response closes. */
export function runLogPhaseOnClose(ctx: RequestContext): void {
  ctx.res.once('close', () => {
    const chain = ctx.chain;
    for (let i = 0; i < chain.length; i++) {
      const entry = chain[i];
      if (entry.def.log === undefined) continue;
      try {
        entry.def.log(ctx, entry.conf);
      } catch (err) {
        log('error', 'a plugin failed in its log phase', { plugin: entry.def.name, error: (err as Error).message });
      }
    }
  });
}
