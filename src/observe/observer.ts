import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Chain, Snapshot, RouteRuntime } from '../config/snapshot';
import type { ConsumerEntity } from '../config/entities';
import type { Refusal, RequestContext } from '../proxy/context';
import type { AccessEntry, AccessLog } from './access-log';
import { NO_SERIES, type GatewayMetrics, type RouteSeries, type SeriesSelection } from './metrics';
import { redactTarget, secretQueryNames } from './redact';
import { PEER_ADDRESSES, type ClientAddresses } from '../proxy/client-address';
import type { ChainEntry } from '../config/snapshot';
import { LogEntry } from './log-entry';
import { PLUGINS } from '../plugins';
import { log } from '../log';

/** A connection's byte counters as of its previous request's end: a request's bytes are the difference. */
interface ByteMarks {
  read: number;
  written: number;
}

/** Where a response keeps its Exchange, for the one `close` listener all responses share. */
const EXCHANGE = Symbol('exchange');
type ObservedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/** What is known about one request while it runs; read once, when its response closes. */
export class Exchange {
  /** Set once the request is routed. */
  ctx: RequestContext | undefined = undefined;

  constructor(
    readonly observer: Observer,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly snapshot: Snapshot,
    readonly requestId: string,
    readonly startedAt: number,
    /** The request target as received, before the forwarder rewrites req.url. */
    readonly target: string,
  ) {}
}

/** Names and metric series of a route, made once per route and config. */
interface RouteLabels {
  readonly route: string;
  readonly service: string | undefined;
  readonly series: RouteSeries | undefined;
}

/** Kong's consumer label: username, else custom_id (else the id, which Kong leaves empty). */
function consumerName(c: ConsumerEntity): string {
  return c.username ?? c.custom_id ?? c.id;
}

/** The `close` listener of every observed response: one function, no closure per request. */
function exchangeClosed(this: ObservedResponse): void {
  const ex = this[EXCHANGE];
  if (ex !== undefined) ex.observer.complete(ex);
}

/**
 * Turns each finished request into one access log line and its metrics. The response carries its Exchange under a
 * symbol, set on every response in the same order, so they keep one shape; its `close` listener is shared. Route
 * names and metric series are looked up once per route and config.
 */
export class Observer {
  private readonly routes = new WeakMap<RouteRuntime, RouteLabels>();
  private readonly marks = new WeakMap<Socket, ByteMarks>();
  private readonly unrouted: RouteLabels;
  /** Whether a config declares a prometheus plugin: then Kong's series count only requests that plugin ran for. */
  private readonly declaresPrometheus = new WeakMap<Snapshot, boolean>();
  private readonly chainSeries = new WeakMap<Chain, SeriesSelection>();

  constructor(
    private readonly accessLog: AccessLog | undefined,
    private readonly metrics: GatewayMetrics | undefined,
    /** The client address logged: the peer's, or the one a trusted proxy named. */
    private readonly clientAddresses: ClientAddresses = PEER_ADDRESSES,
    /** The config being served, for requests refused before they had one. */
    private readonly live?: () => Snapshot,
  ) {
    this.unrouted = { route: '', service: undefined, series: metrics?.seriesFor('', '') };
  }

  /**
   * Starts observing a request; its line, metrics and log plugins' entries are made when the response closes.
   * Undefined when there is nothing to make: no access log, no metrics, no log plugin in the config.
   */
  begin(req: IncomingMessage, res: ServerResponse, snapshot: Snapshot, requestId: string, startedAt: number): Exchange | undefined {
    if (this.accessLog === undefined && this.metrics === undefined && !logPluginsOf(snapshot).any) return undefined;
    const ex = new Exchange(this, req, res, snapshot, requestId, startedAt, req.url ?? '/');
    (res as ObservedResponse)[EXCHANGE] = ex;
    res.on('close', exchangeClosed);
    return ex;
  }

  complete(ex: Exchange): void {
    const { req, res, ctx } = ex;
    const now = Date.now();
    const finished = res.writableFinished;
    let reason: Refusal | undefined;
    if (ctx !== undefined) reason = ctx.refusal ?? (finished ? undefined : 'client closed');
    // Unrouted requests are answered at once: 404 when no route matched, 400 when the target was unusable.
    else reason = !finished && !res.headersSent ? 'client closed' : res.statusCode === 404 ? 'no route' : 'bad request';
    const total = now - ex.startedAt;
    let upstream: number | undefined;
    if (ctx !== undefined && ctx.forwardedAt !== 0) upstream = (ctx.upstreamRespondedAt || now) - ctx.forwardedAt;
    const socket = req.socket;
    // An HTTP/2 stream's socket is gone once it closed: no byte count there.
    const read = socket.bytesRead ?? 0;
    const written = socket.bytesWritten ?? 0;
    let marks = this.marks.get(socket);
    if (marks === undefined) {
      marks = { read: 0, written: 0 };
      this.marks.set(socket, marks);
    }
    const labels = ctx === undefined ? this.unrouted : this.labelsOf(ctx.runtime);
    const entry: AccessEntry = {
      request_id: ex.requestId,
      client_ip: (ctx !== undefined ? ctx.clientIp : this.clientAddresses.of(req)) || undefined,
      method: req.method,
      path: this.accessLog === undefined ? '' : redactTarget(ex.target, secretQueryNames(ex.snapshot)),
      // A response the client never got the start of is logged as nginx does: 499.
      status: res.headersSent ? res.statusCode : 499,
      latency_ms: total,
      upstream_latency_ms: upstream,
      gateway_latency_ms: upstream === undefined ? total : total - upstream,
      bytes_in: read - marks.read,
      bytes_out: written - marks.written,
      route: ctx === undefined ? undefined : labels.route,
      service: labels.service,
      consumer: ctx?.consumer === undefined ? undefined : consumerName(ctx.consumer),
      correlation_id: ctx?.correlationId,
      reason,
    };
    marks.read = read;
    marks.written = written;
    if (labels.series !== undefined) {
      const selection = this.seriesSelection(ex.snapshot, ctx);
      const consumer = (selection.usernameOnly ? ctx?.consumer?.username : entry.consumer) ?? '';
      this.metrics!.record(labels.series, entry, ctx !== undefined && ctx.upstreamRespondedAt !== 0, ctx?.refusedBy, selection, consumer);
    }
    this.accessLog?.write(entry);
    // A request no route matched is logged by the global log plugins, as Kong runs its global plugins for it.
    const chain = ctx !== undefined ? ctx.chain : logPluginsOf(ex.snapshot).global;
    if (hasLogPhase(chain)) runLogPhase(chain, ctx, new LogEntry(ex, ctx, entry, now));
  }

  /** A request the HTTP parser refused before it became one (malformed, headers too large): logged and counted. */
  clientError(socket: Socket, status: number, requestId: string): void {
    const entry: AccessEntry = {
      request_id: requestId,
      client_ip: socket.remoteAddress,
      method: undefined,
      path: '',
      status,
      latency_ms: 0,
      upstream_latency_ms: undefined,
      gateway_latency_ms: 0,
      bytes_in: 0,
      bytes_out: 0,
      route: undefined,
      service: undefined,
      consumer: undefined,
      reason: 'bad request',
    };
    if (this.unrouted.series !== undefined) this.metrics!.record(this.unrouted.series, entry, false, undefined, this.seriesSelection(undefined, undefined), '');
    this.accessLog?.write(entry);
  }

  flush(): void {
    this.accessLog?.flush();
  }

  /**
   * The series a request is counted in: all of them when its config has no prometheus plugin (the gateway's own
   * default); else, as Kong, what the prometheus instance in its final chain selects, and none for a request no
   * instance ran for (unrouted ones included: Kong's exporter skips requests without a route).
   */
  private seriesSelection(snapshot: Snapshot | undefined, ctx: RequestContext | undefined): SeriesSelection {
    // A request the parser refused has no config of its own: the live one decides.
    snapshot ??= this.live?.();
    if (snapshot === undefined) return this.metrics!.allSeries;
    let declares = this.declaresPrometheus.get(snapshot);
    if (declares === undefined) {
      declares = snapshot.entities.plugins.some((p) => p.name === 'prometheus');
      this.declaresPrometheus.set(snapshot, declares);
    }
    if (!declares) return this.metrics!.allSeries;
    if (ctx === undefined) return NO_SERIES;
    let selection = this.chainSeries.get(ctx.chain);
    if (selection === undefined) {
      const entry = ctx.chain.find((e) => e.def.name === 'prometheus');
      selection = entry === undefined ? NO_SERIES : (entry.conf as SeriesSelection);
      this.chainSeries.set(ctx.chain, selection);
    }
    return selection;
  }

  private labelsOf(runtime: RouteRuntime): RouteLabels {
    let labels = this.routes.get(runtime);
    if (labels === undefined) {
      // Kong's labels: the route's name else its id, the service's name else its host.
      const route = runtime.route.name ?? runtime.route.id;
      const service = runtime.service === undefined ? undefined : (runtime.service.name ?? runtime.service.host);
      labels = { route, service, series: this.metrics?.seriesFor(service ?? '', route) };
      this.routes.set(runtime, labels);
    }
    return labels;
  }
}

interface LogPlugins {
  /** Whether any enabled plugin of the config has a log phase. */
  any: boolean;
  /** The global ones, which log requests no route matched. */
  global: Chain;
}

let lastSnapshot: Snapshot | undefined;
let lastLogPlugins: LogPlugins = { any: false, global: [] };

/** The config's log plugins, found once per config. */
function logPluginsOf(snapshot: Snapshot): LogPlugins {
  if (snapshot !== lastSnapshot) {
    const global: ChainEntry[] = [];
    let any = false;
    for (const plugin of snapshot.entities.plugins) {
      const def = PLUGINS.get(plugin.name);
      if (!plugin.enabled || def?.log === undefined) continue;
      any = true;
      const compiled = snapshot.compiledPlugins.get(plugin.id);
      if (compiled !== undefined && plugin.route === undefined && plugin.service === undefined && plugin.consumer === undefined) {
        global.push({ def, conf: compiled.conf, plugin, priority: def.priority });
      }
    }
    lastSnapshot = snapshot;
    lastLogPlugins = { any, global: global.sort((a, b) => b.priority - a.priority) };
  }
  return lastLogPlugins;
}

/** Whether any plugin of the chain has a log phase (checked before building a LogEntry). */
function hasLogPhase(chain: Chain): boolean {
  for (let i = 0; i < chain.length; i++) if (chain[i].def.log !== undefined) return true;
  return false;
}

function runLogPhase(chain: Chain, ctx: RequestContext | undefined, entry: LogEntry): void {
  for (const p of chain) {
    if (p.def.log === undefined) continue;
    try {
      p.def.log(ctx, p.conf, entry);
    } catch (err) {
      // A log plugin's failure is its own: the request is over, the next plugin still logs.
      log('error', 'log phase failed', { plugin: p.def.name, error: (err as Error).message });
    }
  }
}
