import type { Snapshot } from '../config/snapshot';
import type { PluginDefinition } from '../plugins/types';
import type { RequestContext } from './context';

/** Per config: whether any of its chains has a plugin with a rewrite phase. */
interface Phases {
  rewrite: boolean;
}
const PHASES = new WeakMap<Snapshot, Phases>();

// The snapshot being served asks on every request: it is answered without the WeakMap.
let lastSnapshot: Snapshot | undefined;
let lastPhases: Phases | undefined;

function phasesOf(snapshot: Snapshot): Phases {
  if (snapshot === lastSnapshot) return lastPhases!;
  let phases = PHASES.get(snapshot);
  if (phases === undefined) {
    phases = { rewrite: false };
    const note = (def: PluginDefinition) => {
      if (def.rewrite !== undefined) phases!.rewrite = true;
    };
    for (const route of snapshot.routes.values()) {
      for (const e of route.chain) note(e.def);
      for (const chain of route.consumerChains?.values() ?? []) for (const e of chain) note(e.def);
    }
    PHASES.set(snapshot, phases);
  }
  lastSnapshot = snapshot;
  lastPhases = phases;
  return phases;
}

/**
 * The rewrite phase, before access, that only some plugins have (the log phase runs in the observer, once the
 * response is over). Nothing is done, nor allocated, for a config without such plugins.
 */
export function runOuterPhases(ctx: RequestContext): void {
  const phases = phasesOf(ctx.snapshot);
  if (phases.rewrite) {
    const chain = ctx.chain;
    for (let i = 0; i < chain.length; i++) chain[i].def.rewrite?.(ctx, chain[i].conf);
  }
}
