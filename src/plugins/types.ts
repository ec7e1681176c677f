import type { PathSegment, Severity } from '../config/errors';
import type { ConsumerEntity, EntitySet, PluginEntity } from '../config/entities';
import type { RequestContext } from '../proxy/context';
import type { ResponseHead } from '../proxy/response-head';
import type { LogEntry } from '../observe/log-entry';

/** Where a plugin instance is attached. */
export type PluginScope = 'global' | 'service' | 'route' | 'consumer' | 'route+service' | 'route+consumer' | 'service+consumer' | 'route+service+consumer';

export interface PluginCheck {
  path: PathSegment[]; // relative to the plugin entity, e.g. ['config', 'anonymous']
  message: string;
  severity?: Severity;
}

/** What a plugin may read while its instances are compiled into a snapshot. */
export interface BuildContext {
  entities: EntitySet;
  consumerById: ReadonlyMap<string, ConsumerEntity>;
  consumerByUsername: ReadonlyMap<string, ConsumerEntity>;
  /** Compiled state of the same plugin instance in the previous snapshot, when its config is unchanged. */
  previous?: unknown;
  /** The snapshot serves no traffic (`gateway explain`): open no connection, keep any state in this process. */
  offline?: boolean;
}

/** A caller as config analysis sees it: the consumer (none before or without auth) and that consumer's acl groups. */
export interface Caller {
  consumer: ConsumerEntity | undefined;
  groups: readonly string[];
}

export type AccessResult = void | Promise<void>;

export interface PluginDefinition<Config = any, Compiled = Config> {
  name: string;
  /** Kong's PRIORITY: higher runs first. */
  priority: number;
  version: string;
  /** JSON Schema of `config`, with defaults; the same object schemas/kong.schema.json references. */
  configSchema: object;
  /** True for plugins that identify a consumer: they run before the consumer-scoped lookup and cannot be consumer-scoped. */
  authenticates?: boolean;
  /** Kong's `no_consumer`: the plugin cannot be scoped to a consumer (it runs before any consumer is known). */
  noConsumer?: boolean;
  /** Checks beyond the schema, with the whole entity set at hand. */
  check?(plugin: PluginEntity & { config: Config }, entities: EntitySet): PluginCheck[];
  /** Precomputes per-instance state when the snapshot is built. */
  compile?(config: Config, build: BuildContext, plugin: PluginEntity): Compiled;
  /** Auth plugins: the WWW-Authenticate challenge they answer 401s with (acl repeats it to the anonymous consumer). */
  challenge?(compiled: Compiled): string;
  /**
   * Read from the config alone, never per request: whether this plugin answers every request of `caller`
   * itself, so that caller never reaches the service (lint and `gateway routes` tell who gets through).
   */
  stops?(config: Config, caller: Caller): boolean;
  /**
   * Kong's rewrite phase: once the route matched, before any access phase; for the plugins of the route's chain.
   * Synchronous; for plugins that must see the whole request from its start (tracing).
   */
  rewrite?(ctx: RequestContext, conf: Compiled): void;
  /** Access phase. Sync unless it must wait (bcrypt, body, Redis); terminate with ctx.respond(). */
  access?(ctx: RequestContext, conf: Compiled): AccessResult;
  /**
   * Response phase (Kong's header_filter): edits the status and headers of every response to a request this
   * plugin's chain served, the upstream's or one the gateway generated (also when an earlier plugin refused the
   * request, as Kong runs every plugin it collected). Synchronous. May ask for the body with head.bufferBody().
   */
  headerFilter?(ctx: RequestContext, conf: Compiled, head: ResponseHead): void;
  /** Kong's body_filter, on the whole body, for a plugin whose headerFilter asked for it; returns the body to send. */
  bodyFilter?(ctx: RequestContext, conf: Compiled, body: Buffer, head: ResponseHead): Buffer;
  /**
   * Kong's log phase: once the response is over (sent, or the client left), for every plugin of the request's
   * final chain, with Kong's log entry of the request; `ctx` is undefined for a request no route matched (then
   * only global plugins run). Must not wait or throw: it hands its work on (a queue, a file) and returns.
   */
  log?(ctx: RequestContext | undefined, conf: Compiled, entry: LogEntry): void;
  /** Called when a snapshot that used this instance is replaced; release timers or connections here. */
  dispose?(compiled: Compiled): void;
}
