import { droppedEntries } from './queue';
import { liveBalancers } from '../balancer/registry';
import { checksOn } from '../balancer/spec';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
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
  /** The node as a whole: its info, config and reloads (false in a pool's worker: its primary has them). */
  node: boolean;
  stats(): ProxyStats;
  configHash(): string;
}

/**
 * Which of Kong's per-request series a request is counted in. Without a prometheus plugin in the file, all of them
 * (consumer label per --metrics-per-consumer); with one, those its instance in the request's chain turns on.
 */
export interface SeriesSelection {
  /** A consumer label on requests and bandwidth. */
  readonly perConsumer: boolean;
  /** kong_http_requests_total */
  readonly status: boolean;
  /** kong_request_latency_ms, kong_upstream_latency_ms, kong_kong_latency_ms */
  readonly latency: boolean;
  /** kong_bandwidth_bytes */
  readonly bandwidth: boolean;
  /** The consumer label is the username only, as Kong's plugin (else username, custom_id or id). */
  readonly usernameOnly: boolean;
}

/** A request no prometheus plugin ran for, in a file that has one: none of Kong's series. */
export const NO_SERIES: SeriesSelection = Object.freeze({ perConsumer: false, status: false, latency: false, bandwidth: false, usernameOnly: true });

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** One histogram's counts for one label set: per bucket (not cumulative), sum, count. */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** Prometheus samples: cumulative buckets (`le`), then sum and count. */
  samples(name: string, labels: Labels, out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.counts[i];
      const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
      out.push({ labels: { le, ...labels }, value: cumulative, metricName: `${name}_bucket` });
    }
    out.push({ labels, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels, value: this.count, metricName: `${name}_count` });
  }
}

/** Request and bandwidth counts of one consumer label (always '' unless per-consumer) on one route. */
interface ConsumerCounts {
  /** By status code; negative for answers from the upstream (source="service"). */
  readonly requests: Map<number, number>;
  ingress: number;
  egress: number;
}

/**
 * The per-request metrics of one service/route label pair, as plain numbers: a request updates them by reference,
 * without label objects or hashing; they become Prometheus samples only when /metrics is read. Shared by every
 * config that has a route of these names, so counts carry over reloads.
 */
export class RouteSeries {
  readonly consumers = new Map<string, ConsumerCounts>();
  readonly request = new Buckets(UPSTREAM_LATENCY_BUCKETS);
  readonly upstream = new Buckets(UPSTREAM_LATENCY_BUCKETS);
  readonly kong = new Buckets(KONG_LATENCY_BUCKETS);
  rateLimited = 0;
  readonly labels: Labels;

  constructor(service: string, route: string) {
    this.labels = { service, route };
  }

  consumer(label: string): ConsumerCounts {
    let c = this.consumers.get(label);
    if (c === undefined) {
      c = { requests: new Map(), ingress: 0, egress: 0 };
      this.consumers.set(label, c);
    }
    return c;
  }
}

/** A metric read from the route series when /metrics is read, for prom-client's registry to format. */
class SeriesMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly series: ReadonlyMap<string, RouteSeries>,
    private readonly samples: (s: RouteSeries, out: Sample[]) => void,
  ) {}

  async get() {
    const values: Sample[] = [];
    for (const s of this.series.values()) this.samples(s, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * The Prometheus metrics: Kong's prometheus plugin names and labels where Kong has the metric, `gateway_*`
 * for what only this gateway has, and the process's default metrics. Label values come from the config (route,
 * service and consumer names) or from fixed sets, never from what a client sent.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly series = new Map<string, RouteSeries>();
  private readonly authFailures: Counter<string>;
  private readonly configReloads: Counter<string> | undefined;
  /** What a request is counted in when the file has no prometheus plugin: today's behaviour. */
  readonly allSeries: SeriesSelection;

  constructor(options: MetricsOptions) {
    this.allSeries = Object.freeze({ perConsumer: options.perConsumer, status: true, latency: true, bandwidth: true, usernameOnly: false });
    const registers = [this.registry];
    const series = this.series;
    const add = (name: string, help: string, type: 'counter' | 'histogram', samples: (s: RouteSeries, out: Sample[]) => void) =>
      this.registry.registerMetric(new SeriesMetric(name, help, type, series, samples) as unknown as Metric);
    add('kong_http_requests_total', 'HTTP status codes per consumer/service/route in Kong', 'counter', (s, out) => {
      for (const [consumer, c] of s.consumers) {
        for (const [key, value] of c.requests) {
          const code = String(Math.abs(key));
          out.push({ labels: { ...s.labels, code, source: key < 0 ? 'service' : 'kong', consumer }, value });
        }
      }
    });
    add('kong_request_latency_ms', 'Total latency incurred during requests for each service/route in Kong', 'histogram', (s, out) => {
      if (s.request.count > 0) s.request.samples('kong_request_latency_ms', s.labels, out);
    });
    add('kong_upstream_latency_ms', 'Latency added by upstream response for each service/route in Kong', 'histogram', (s, out) => {
      if (s.upstream.count > 0) s.upstream.samples('kong_upstream_latency_ms', s.labels, out);
    });
    add('kong_kong_latency_ms', 'Latency added by Kong and enabled plugins for each service/route in Kong', 'histogram', (s, out) => {
      if (s.kong.count > 0) s.kong.samples('kong_kong_latency_ms', s.labels, out);
    });
    add('kong_bandwidth_bytes', 'Total bandwidth (ingress/egress) throughput in bytes', 'counter', (s, out) => {
      for (const [consumer, c] of s.consumers) {
        if (c.ingress > 0) out.push({ labels: { ...s.labels, direction: 'ingress', consumer }, value: c.ingress });
        if (c.egress > 0) out.push({ labels: { ...s.labels, direction: 'egress', consumer }, value: c.egress });
      }
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
        this.set({ node_id: NODE_ID, subsystem: 'http', state: 'handled' }, s.connectionsAccepted - s.connectionsRefused);
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
    new Counter({
      name: 'gateway_connections_refused_total',
      help: 'Proxy connections reset as soon as accepted: their client address had --max-connections-per-ip open',
      registers,
      collect() {
        this.reset();
        this.inc(stats().connectionsRefused);
      },
    });
    this.authFailures = new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused by an authentication or acl plugin, by plugin and reason',
      labelNames: ['plugin', 'reason'],
      registers,
    });
    add('gateway_rate_limit_rejections_total', 'Requests refused by rate-limiting, per service/route', 'counter', (s, out) => {
      if (s.rateLimited > 0) out.push({ labels: s.labels, value: s.rateLimited });
    });
    new Counter({
      name: 'gateway_log_entries_dropped_total',
      help: 'Log entries and spans dropped by the log and tracing plugins, by plugin and reason (queue full, retries exhausted, shutdown)',
      labelNames: ['plugin', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const [key, n] of droppedEntries) {
          const [plugin, reason] = key.split('\n');
          this.inc({ plugin, reason }, n);
        }
      },
    });
    // Kong's upstream health series (kong/plugins/prometheus/exporter.lua): one per target and state, 1 for the
    // state it is in. Label values are the config's upstream names and target addresses.
    new Gauge({
      name: 'kong_upstream_target_health',
      help: 'Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.',
      labelNames: ['upstream', 'target', 'address', 'state', 'subsystem'],
      registers,
      collect() {
        this.reset();
        for (const b of liveBalancers()) {
          const off = !checksOn(b.spec);
          for (const t of b.targets) {
            const state = !t.healthy ? 'unhealthy' : off ? 'healthchecks_off' : 'healthy';
            for (const s of ['healthchecks_off', 'healthy', 'unhealthy', 'dns_error']) {
              this.set({ upstream: b.spec.name, target: t.spec.address, address: t.spec.address, state: s, subsystem: 'http' }, s === state ? 1 : 0);
            }
          }
        }
      },
    });
    new Counter({
      name: 'gateway_upstream_target_requests_total',
      help: 'Attempts sent to each target of a balanced upstream (retries count once per target tried)',
      labelNames: ['upstream', 'target'],
      registers,
      collect() {
        this.reset();
        for (const b of liveBalancers()) for (const t of b.targets) this.inc({ upstream: b.spec.name, target: t.spec.address }, t.requests);
      },
    });
    new Counter({
      name: 'gateway_upstream_target_health_transitions_total',
      help: 'Times a target of a balanced upstream became healthy or unhealthy (checks, or the Admin API)',
      labelNames: ['upstream', 'target', 'state'],
      registers,
      collect() {
        this.reset();
        for (const b of liveBalancers()) {
          for (const t of b.targets) {
            for (const state of ['healthy', 'unhealthy'] as const) {
              if (t.transitions[state] > 0) this.inc({ upstream: b.spec.name, target: t.spec.address, state }, t.transitions[state]);
            }
          }
        }
      },
    });
    if (options.node) {
      new Gauge({ name: 'kong_node_info', help: 'Kong Node metadata information', labelNames: ['node_id', 'version'], registers }).set(
        { node_id: NODE_ID, version: VERSION },
        1,
      );
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
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** The series of a service/route label pair; the observer keeps it with the route. */
  seriesFor(service: string, route: string): RouteSeries {
    const key = `${service}\n${route}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = new RouteSeries(service, route);
      this.series.set(key, s);
    }
    return s;
  }

  /**
   * Counts one finished request, from its access entry, in the series `selection` turns on. `fromService`: the
   * response came from the upstream (Kong's source="service"), not from the gateway. `consumer`: its label value.
   */
  record(series: RouteSeries, e: AccessEntry, fromService: boolean, refusedBy: string | undefined, selection: SeriesSelection, consumer: string): void {
    if (selection.status || selection.bandwidth) {
      const c = series.consumer(selection.perConsumer ? consumer : '');
      if (selection.status) {
        const key = fromService ? -e.status : e.status;
        c.requests.set(key, (c.requests.get(key) ?? 0) + 1);
      }
      if (selection.bandwidth) {
        c.ingress += e.bytes_in;
        c.egress += e.bytes_out;
      }
    }
    if (selection.latency) {
      series.request.observe(e.latency_ms);
      series.kong.observe(e.gateway_latency_ms);
      if (e.upstream_latency_ms !== undefined) series.upstream.observe(e.upstream_latency_ms);
    }
    const refusal = e.reason;
    if (refusal === undefined) return;
    if (refusal === 'rate limit') series.rateLimited++;
    else if (AUTH_FAILURES.has(refusal) && refusedBy !== undefined) this.authFailures.inc({ plugin: refusedBy, reason: refusal });
  }

  configApplied(source: string, accepted: boolean): void {
    this.configReloads?.inc({ source, result: accepted ? 'accepted' : 'rejected' });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
