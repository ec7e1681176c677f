import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Refusal } from '../proxy/context';
import type { AccessEntry } from './access-log';
import type { ProxyStats } from '../proxy/server';
import { NODE_ID } from '../node-id';
import { VERSION } from '../version';

// Kong 3.x's buckets, in ms (kong/plugins/prometheus/exporter.lua), so Kong's dashboards read these as they are.
const KONG_LATENCY_BUCKETS = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000];
const UPSTREAM_LATENCY_BUCKETS = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000];

/** Refusals counted as authentication or authorization failures. */
const AUTH_FAILURES: ReadonlySet<Refusal> = new Set<Refusal>(['no credentials', 'bad credentials', 'acl', 'auth overloaded']);

export interface MetricsOptions {
  /** Kong's `per_consumer`: a consumer label on requests and bandwidth. Off by default: one series per consumer. */
  perConsumer: boolean;
  stats(): ProxyStats;
  configHash(): string;
}

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}

/** The series of one consumer label (always '' unless per-consumer) on one route. */
interface ConsumerSeries {
  readonly requests: Map<number, Inc>;
  readonly ingress: Inc;
  readonly egress: Inc;
}

/**
 * Every labelled child one route uses, made on first use and kept: a request finds its series by reference,
 * without building label objects.
 */
export class RouteSeries {
  private readonly consumers = new Map<string, ConsumerSeries>();
  readonly requestLatency: Observe;
  readonly upstreamLatency: Observe;
  readonly kongLatency: Observe;
  private rateLimited: Inc | undefined;

  constructor(
    private readonly metrics: GatewayMetrics,
    readonly service: string,
    readonly route: string,
  ) {
    this.requestLatency = metrics.requestLatency.labels(service, route);
    this.upstreamLatency = metrics.upstreamLatency.labels(service, route);
    this.kongLatency = metrics.kongLatency.labels(service, route);
  }

  consumer(label: string): ConsumerSeries {
    let s = this.consumers.get(label);
    if (s === undefined) {
      const bandwidth = this.metrics.bandwidth;
      s = {
        requests: new Map(),
        ingress: bandwidth.labels(this.service, this.route, 'ingress', label),
        egress: bandwidth.labels(this.service, this.route, 'egress', label),
      };
      this.consumers.set(label, s);
    }
    return s;
  }

  requestsFor(s: ConsumerSeries, status: number, fromService: boolean, consumer: string): Inc {
    const key = fromService ? -status : status;
    let c = s.requests.get(key);
    if (c === undefined) {
      c = this.metrics.requests.labels(this.service, this.route, String(status), fromService ? 'service' : 'kong', consumer);
      s.requests.set(key, c);
    }
    return c;
  }

  rateLimitRejections(): Inc {
    return (this.rateLimited ??= this.metrics.rateLimitRejections.labels(this.service, this.route));
  }
}

/**
 * The Prometheus metrics: Kong's prometheus plugin names and labels where Kong has the metric, `gateway_*`
 * for what only this gateway has, and the process's default metrics. Label values come from the config (route,
 * service and consumer names) or from fixed sets, never from what a client sent.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<string>;
  readonly requestLatency: Histogram<string>;
  readonly upstreamLatency: Histogram<string>;
  readonly kongLatency: Histogram<string>;
  readonly bandwidth: Counter<string>;
  readonly authFailures: Counter<string>;
  readonly rateLimitRejections: Counter<string>;
  readonly configReloads: Counter<string>;
  private readonly authFailureChildren = new Map<string, Inc>();

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    const routeLabels = ['service', 'route'];
    this.requests = new Counter({
      name: 'kong_http_requests_total',
      help: 'HTTP status codes per consumer/service/route in Kong',
      labelNames: ['service', 'route', 'code', 'source', 'consumer'],
      registers,
    });
    this.requestLatency = new Histogram({
      name: 'kong_request_latency_ms',
      help: 'Total latency incurred during requests for each service/route in Kong',
      labelNames: routeLabels,
      buckets: UPSTREAM_LATENCY_BUCKETS,
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: 'kong_upstream_latency_ms',
      help: 'Latency added by upstream response for each service/route in Kong',
      labelNames: routeLabels,
      buckets: UPSTREAM_LATENCY_BUCKETS,
      registers,
    });
    this.kongLatency = new Histogram({
      name: 'kong_kong_latency_ms',
      help: 'Latency added by Kong and enabled plugins for each service/route in Kong',
      labelNames: routeLabels,
      buckets: KONG_LATENCY_BUCKETS,
      registers,
    });
    this.bandwidth = new Counter({
      name: 'kong_bandwidth_bytes',
      help: 'Total bandwidth (ingress/egress) throughput in bytes',
      labelNames: ['service', 'route', 'direction', 'consumer'],
      registers,
    });
    const stats = options.stats;
    new Gauge({
      name: 'kong_nginx_connections_total',
      help: 'Number of connections by subsystem',
      labelNames: ['node_id', 'subsystem', 'state'],
      registers,
      collect() {
        const s = stats();
        this.set({ node_id: NODE_ID, subsystem: 'http', state: 'accepted' }, s.connectionsAccepted);
        this.set({ node_id: NODE_ID, subsystem: 'http', state: 'handled' }, s.connectionsAccepted);
        this.set({ node_id: NODE_ID, subsystem: 'http', state: 'active' }, s.connectionsActive);
        this.set({ node_id: NODE_ID, subsystem: 'http', state: 'total' }, s.totalRequests);
      },
    });
    new Gauge({
      name: 'kong_nginx_requests_total',
      help: 'Number of requests total',
      labelNames: ['node_id', 'subsystem'],
      registers,
      collect() {
        this.set({ node_id: NODE_ID, subsystem: 'http' }, stats().totalRequests);
      },
    });
    new Gauge({ name: 'kong_node_info', help: 'Kong Node metadata information', labelNames: ['node_id', 'version'], registers }).set(
      { node_id: NODE_ID, version: VERSION },
      1,
    );
    this.authFailures = new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused by an authentication or acl plugin, by plugin and reason',
      labelNames: ['plugin', 'reason'],
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: 'gateway_rate_limit_rejections_total',
      help: 'Requests refused by rate-limiting, per service/route',
      labelNames: routeLabels,
      registers,
    });
    this.configReloads = new Counter({
      name: 'gateway_config_reloads_total',
      help: 'Configurations tried, by what asked (file, signal, admin) and result (accepted, rejected)',
      labelNames: ['source', 'result'],
      registers,
    });
    const configHash = options.configHash;
    new Gauge({
      name: 'gateway_config_info',
      help: 'The live configuration, by its hash (configuration_hash in the Admin API)',
      labelNames: ['configuration_hash'],
      registers,
      collect() {
        this.reset();
        this.set({ configuration_hash: configHash() }, 1);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** A route's series; the observer keeps it with the route. */
  seriesFor(service: string, route: string): RouteSeries {
    return new RouteSeries(this, service, route);
  }

  /**
   * Counts one finished request, from its access entry. `fromService`: the response came from the upstream (Kong's
   * source="service"), not from the gateway.
   */
  record(series: RouteSeries, e: AccessEntry, fromService: boolean, refusedBy: string | undefined): void {
    const consumer = this.options.perConsumer && e.consumer !== undefined ? e.consumer : '';
    const s = series.consumer(consumer);
    series.requestsFor(s, e.status, fromService, consumer).inc();
    series.requestLatency.observe(e.latency_ms);
    series.kongLatency.observe(e.gateway_latency_ms);
    if (e.upstream_latency_ms !== undefined) series.upstreamLatency.observe(e.upstream_latency_ms);
    if (e.bytes_in > 0) s.ingress.inc(e.bytes_in);
    if (e.bytes_out > 0) s.egress.inc(e.bytes_out);
    const refusal = e.reason;
    if (refusal === undefined) return;
    if (refusal === 'rate limit') series.rateLimitRejections().inc();
    else if (AUTH_FAILURES.has(refusal) && refusedBy !== undefined) this.authFailure(refusedBy, refusal).inc();
  }

  private authFailure(plugin: string, reason: Refusal): Inc {
    const key = `${plugin}\n${reason}`;
    let c = this.authFailureChildren.get(key);
    if (c === undefined) {
      c = this.authFailures.labels(plugin, reason);
      this.authFailureChildren.set(key, c);
    }
    return c;
  }

  configApplied(source: string, accepted: boolean): void {
    this.configReloads.inc({ source, result: accepted ? 'accepted' : 'rejected' });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
