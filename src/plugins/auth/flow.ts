import type { ConsumerEntity, EntitySet, PluginEntity } from '../../config/entities';
import type { BuildContext, PluginCheck } from '../types';
import type { Refusal, RequestContext } from '../../proxy/context';
import { identify } from './consumer';
import { isPreflight } from '../preflight';

/** Why an auth plugin did not identify the request; built once per plugin instance, never per request. */
export interface AuthFailure {
  readonly status: number;
  readonly message: string;
  /** The whole JSON body when the plugin answers with its own rather than Kong's error body (jwt's claim errors). */
  readonly body?: string;
  readonly headers: Record<string, string> | undefined;
  /**
   * False when the credential could not be checked at all (body too large, verification capacity exhausted):
   * the request is answered even in OR mode, since falling back to the anonymous consumer would misidentify
   * a client that may hold valid credentials.
   */
  readonly fallback: boolean;
  /** For logs and metrics. */
  readonly reason: Refusal;
  /** The auth plugin that failed, for metrics. */
  readonly plugin: string;
}

export type Attempt = AuthFailure | undefined | Promise<AuthFailure | undefined>;

/** The settings every auth plugin shares, compiled. */
export interface AuthMode {
  /** The consumer to fall back to (OR mode); undefined means AND mode. */
  readonly anonymous: ConsumerEntity | undefined;
  readonly runOnPreflight: boolean;
}

/**
 * True when this auth plugin must not run: a preflight it is told to let through, or OR mode with a credential
 * already accepted by an earlier auth plugin.
 */
export function skipAuth(ctx: RequestContext, mode: AuthMode): boolean {
  // Kong skips every OPTIONS request when run_on_preflight is off; only a real preflight is let through here,
  // so an OPTIONS request that is not one still needs credentials.
  if (!mode.runOnPreflight && isPreflight(ctx.req)) return true;
  return mode.anonymous !== undefined && ctx.credential !== undefined;
}

/** Applies an attempt's outcome: nothing on success; else the anonymous consumer (OR) or the error (AND). */
function conclude(ctx: RequestContext, mode: AuthMode, failure: AuthFailure | undefined): void {
  if (failure === undefined) return;
  if (mode.anonymous !== undefined && failure.fallback) return identify(ctx, mode.anonymous, undefined);
  ctx.refusal = failure.reason;
  ctx.refusedBy = failure.plugin;
  if (failure.body !== undefined) ctx.respond(failure.status, failure.body, 'application/json; charset=utf-8', failure.headers);
  else ctx.error(failure.status, failure.message, failure.headers);
}

/** Applies an attempt's outcome once it is known. */
export function finish(ctx: RequestContext, mode: AuthMode, attempt: Attempt): void | Promise<void> {
  if (attempt instanceof Promise) return attempt.then((failure) => conclude(ctx, mode, failure));
  conclude(ctx, mode, attempt);
}

/** The consumer `config.anonymous` names, by id or by username as Kong accepts (never by custom_id). */
export function resolveAnonymous(ref: string | null | undefined, build: BuildContext): ConsumerEntity | undefined {
  if (ref === undefined || ref === null) return undefined;
  const consumer = build.consumerById.get(ref) ?? build.consumerByUsername.get(ref);
  // Validation rejects this; reaching it means a snapshot was built from unchecked entities.
  if (consumer === undefined) throw new Error(`anonymous consumer '${ref}' does not exist`);
  return consumer;
}

const consumerRefs = new WeakMap<EntitySet, { ids: Set<string>; usernames: Set<string>; customIds: Set<string> }>();

function refsOf(entities: EntitySet) {
  let refs = consumerRefs.get(entities);
  if (refs === undefined) {
    refs = { ids: new Set(), usernames: new Set(), customIds: new Set() };
    for (const c of entities.consumers) {
      refs.ids.add(c.id);
      if (c.username !== undefined) refs.usernames.add(c.username);
      if (c.custom_id !== undefined) refs.customIds.add(c.custom_id);
    }
    consumerRefs.set(entities, refs);
  }
  return refs;
}

/**
 * Kong accepts an `anonymous` that names no consumer and fails every request that falls back to it (500);
 * here that is a validation error.
 */
export function checkAnonymous(plugin: PluginEntity, entities: EntitySet): PluginCheck[] {
  const ref = plugin.config.anonymous;
  if (typeof ref !== 'string') return [];
  const refs = refsOf(entities);
  if (refs.ids.has(ref) || refs.usernames.has(ref)) return [];
  const hint = refs.customIds.has(ref) ? " (it is a custom_id; use the consumer's id or username)" : ' (expected the id or username of a consumer)';
  return [{ path: ['config', 'anonymous'], message: `anonymous consumer '${ref}' does not exist${hint}` }];
}

/** An auth plugin's config sets a fallback consumer (OR mode). */
export function hasAnonymous(config: Record<string, unknown>): boolean {
  return typeof config.anonymous === 'string';
}
