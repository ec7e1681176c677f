import type { Snapshot } from '../config/snapshot';
import type { PluginDefinition } from '../plugins/types';
import type { RequestContext } from './context';
import { log } from '../log';

/** Per config: whether any of its chains has a plugin with a rewrite phase, and one with a log phase. */
interface Phases {
  rewrite: boolean;
  log: boolean;
}
const PHASES = new WeakMap<Snapshot, Phases>();

function phasesOf(snapshot: Snapshot): Phases {
  let phases = PHASES.get(snapshot);
  if (phases === undefined) {
    phases = { rewrite: false, log: false };
    const note = (def: PluginDefinition) => {
      if (def.rewrite !== undefined) phases!.rewrite = true;
      if (def.log !== undefined) phases!.log = true;
    };
    for (const route of snapshot.routes.values()) {
      for (const e of route.chain) note(e.def);
      for (const chain of route.consumerChains?.values() ?? []) for (const e of chain) note(e.def);
    }
    PHASES.set(snapshot, phases);
  }
  return phases;
}

/**
 * The phases around access that only some plugins have: the rewrite phase now, and the log phase when the response
 * closes (for the request's final chain). Nothing is done, nor allocated, for a config without such plugins.
 */
export function runOuterPhases(ctx: RequestContext): void {
  const phases = phasesOf(ctx.snapshot);
  if (phases.rewrite) {
    const chain = ctx.chain;
    for (let i = 0; i < chain.length; i++) chain[i].def.rewrite?.(ctx, chain[i].conf);
  }
  if (phases.log) ctx.res.once('close', () => runLogPhase(ctx));
}

function runLogPhase(ctx: RequestContext): void {
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
}
