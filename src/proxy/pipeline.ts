import type { Chain } from '../config/snapshot';
import type { RequestContext } from './context';

function isPromise(v: unknown): v is Promise<void> {
  return v !== undefined && typeof (v as Promise<void>).then === 'function';
}

/** First position in `chain` whose plugin runs after a plugin of `priority`. */
function positionAfter(chain: Chain, priority: number): number {
  let i = 0;
  while (i < chain.length && chain[i].priority >= priority) i++;
  return i;
}

/**
 * Runs the route's access-phase chain. Stays synchronous until a plugin returns a promise. When a plugin
 * changes the consumer, the rest of the chain continues on that consumer's resolved chain (Kong's
 * consumer-scoped configs apply only to plugins that run after the consumer is known).
 */
export function runAccess(ctx: RequestContext): void | Promise<void> {
  return continueFrom(ctx, ctx.runtime.chain, 0);
}

function continueFrom(ctx: RequestContext, chain: Chain, start: number): void | Promise<void> {
  for (let i = start; i < chain.length; i++) {
    const entry = chain[i];
    const access = entry.def.access;
    if (access === undefined) continue;
    const consumerBefore = ctx.consumer;
    const result = access(ctx, entry.conf);
    if (isPromise(result)) {
      return result.then(() => {
        if (ctx.trace !== undefined) ctx.trace.ran(ctx, entry);
        if (ctx.responded) return;
        return proceed(ctx, chain, i, consumerBefore);
      });
    }
    if (ctx.trace !== undefined) ctx.trace.ran(ctx, entry);
    if (ctx.responded) return;
    if (ctx.consumer !== consumerBefore) return proceed(ctx, chain, i, consumerBefore);
  }
}

function proceed(ctx: RequestContext, chain: Chain, i: number, consumerBefore: RequestContext['consumer']): void | Promise<void> {
  if (ctx.consumer === consumerBefore) return continueFrom(ctx, chain, i + 1);
  const consumerChains = ctx.runtime.consumerChains;
  const next = (ctx.consumer !== undefined && consumerChains?.get(ctx.consumer.id)) || ctx.runtime.chain;
  ctx.chain = next;
  return continueFrom(ctx, next, next === chain ? i + 1 : positionAfter(next, chain[i].priority));
}
