import type { IncomingMessage } from 'node:http';
import { balancingOf, type BalancingStep } from './balancing';
import type { ConsumerEntity, PluginEntity } from '../config/entities';
import type { ChainEntry, Snapshot } from '../config/snapshot';
import type { PluginScope } from '../plugins/types';
import type { AuthenticatedCredential, RequestContext } from '../proxy/context';
import { normalizePath } from '../proxy/paths';
import { ProxyServer } from '../proxy/server';
import { masked, requestSecrets } from './mask';
import { conditionsOf, nearMisses } from './routing';
import { syntheticExchange, type RecordedResponse, type RecordingResponse, type RequestSpec } from './synthetic';

/** A request given on the command line: `-X`, `-H` lines and an absolute URL or a path. */
export interface ExplainInput {
  method: string;
  url: string;
  headers: Array<[string, string]>;
}

export interface PluginStep {
  name: string;
  instance_name?: string;
  scope: PluginScope;
  priority: number;
  /** False for plugins the request never reached (an earlier one answered). */
  ran: boolean;
  result: string;
  /** The consumer once this plugin ran. */
  consumer?: string;
  config: Record<string, unknown>;
}

export interface Explanation {
  request: { method: string; target: string; headers: Array<[string, string]> };
  route: { name: string; id: string; service: string | null; why: string[] } | null;
  /** Routes that came close: their path matches but another condition does not, or they match but come later. */
  near_misses: Array<{ route: string; reason: string }>;
  upstream: { url: string } | null;
  /** For a service whose host names an upstream: the target, or the candidates. */
  balancing: BalancingStep | null;
  plugins: PluginStep[];
  consumer: { id: string; username?: string; custom_id?: string; anonymous: boolean } | null;
  outcome: { action: 'proxied'; upstream: string } | ({ action: 'answered' } & RecordedResponse);
}

function scopeOf(plugin: PluginEntity): PluginScope {
  const parts = [plugin.route && 'route', plugin.service && 'service', plugin.consumer && 'consumer'].filter(Boolean);
  return (parts.length === 0 ? 'global' : parts.join('+')) as PluginScope;
}

const nameOf = (e: { name?: string; id: string }) => e.name ?? e.id;
const consumerName = (c: ConsumerEntity) => c.username ?? c.custom_id ?? c.id;

/** Splits the URL into the request target and the Host header value it implies. */
function requestSpec(input: ExplainInput): RequestSpec {
  const absolute = /^(https?):\/\/([^/?#]*)([^#]*)/i.exec(input.url);
  let target: string;
  let authority: string | undefined;
  let port = 8000;
  if (absolute !== null) {
    authority = absolute[2];
    target = absolute[3] === '' ? '/' : absolute[3].startsWith('?') ? `/${absolute[3]}` : absolute[3];
    const p = /:(\d+)$/.exec(authority);
    port = p !== null ? Number(p[1]) : absolute[1].toLowerCase() === 'https' ? 443 : 80;
  } else if (input.url.startsWith('/')) {
    target = input.url.split('#')[0];
  } else {
    throw new Error(`expected an absolute URL (http://host/path) or a path (/path), got '${input.url}'`);
  }
  const hasHost = input.headers.some(([n]) => n.toLowerCase() === 'host');
  const headers: Array<[string, string]> = authority !== undefined && !hasHost ? [['Host', authority], ...input.headers] : [...input.headers];
  return { method: input.method.toUpperCase(), target, headers, port };
}

interface State {
  consumer: ConsumerEntity | undefined;
  credential: AuthenticatedCredential | undefined;
  anonymous: boolean;
}

function stepResult(entry: ChainEntry, before: State, ctx: RequestContext): string {
  if (ctx.responded) return `answered ${ctx.res.statusCode}`;
  if (!entry.def.authenticates) return 'passed';
  if (ctx.credential !== undefined && ctx.credential !== before.credential) {
    if (ctx.consumer === undefined) return `authenticated ${ctx.credential.identifier} (no consumer)`;
    return `identified consumer ${consumerName(ctx.consumer)} (credential ${ctx.credential.identifier})`;
  }
  if (before.credential !== undefined) return 'skipped: a credential was already accepted';
  if (ctx.anonymous) return `no valid credential: continues as anonymous consumer ${consumerName(ctx.consumer!)}`;
  return 'skipped';
}

interface Traced {
  /** The request's context once routed; undefined when no route matched (or the request was refused before). */
  ctx: RequestContext | undefined;
  steps: Array<{ entry: ChainEntry; result: string; consumer: ConsumerEntity | undefined }>;
  /** What the gateway answered itself; undefined when it forwarded the request. */
  answer: RecordedResponse | undefined;
}

/** Hands the request to a ProxyServer whose forwarding is recorded, not made, watching every plugin run. */
async function trace(snapshot: Snapshot, req: IncomingMessage, res: RecordingResponse): Promise<Traced> {
  const traced: Traced = { ctx: undefined, steps: [], answer: undefined };
  let state: State = { consumer: undefined, credential: undefined, anonymous: false };
  let note: string | undefined;
  let forwarded: () => void = () => {};
  const proxied = new Promise<undefined>((resolve) => (forwarded = () => resolve(undefined)));
  const server = new ProxyServer(snapshot, {
    forward: () => forwarded(),
    trace: {
      routed: (ctx) => (traced.ctx = ctx),
      ran: (ctx, entry) => {
        const result = stepResult(entry, state, ctx);
        traced.steps.push({ entry, result: note === undefined ? result : `${note}: ${result}`, consumer: ctx.consumer });
        state = { consumer: ctx.consumer, credential: ctx.credential, anonymous: ctx.anonymous };
        note = undefined;
      },
      note: (text) => (note = text),
    },
  });
  server.handle(req, res);
  traced.answer = await Promise.race([proxied, res.ended]);
  return traced;
}

/**
 * The plugins that ran, then (when a plugin answered) those of the chain in force that it kept from running; with
 * the plugins that only edit the response or log the request (they run on any answer), in priority order.
 */
function pluginSteps({ ctx, steps }: Traced): PluginStep[] {
  const out = steps.map(({ entry, result, consumer }) => step(entry, true, result, consumer));
  if (ctx === undefined) return out;
  const chain = (ctx.consumer !== undefined && ctx.runtime.consumerChains?.get(ctx.consumer.id)) || ctx.runtime.chain;
  if (ctx.responded && steps.length > 0) {
    const last = steps[steps.length - 1].entry.priority;
    for (const entry of chain) if (entry.priority < last && entry.def.access !== undefined) out.push(step(entry, false, 'not reached', undefined));
  }
  for (const entry of chain) {
    if (entry.def.access !== undefined) continue;
    // Response-phase plugins edit the answer, log plugins log it; the others (prometheus) only record the request.
    const does = entry.def.headerFilter !== undefined ? 'edits the response' : entry.def.log !== undefined ? 'logs the request' : 'records the request';
    out.push(step(entry, true, does, ctx.consumer));
  }
  return out.sort((a, b) => b.priority - a.priority);
}

function consumerOf(ctx: RequestContext | undefined): Explanation['consumer'] {
  const c = ctx?.consumer;
  if (c === undefined) return null;
  return { id: c.id, ...(c.username !== undefined && { username: c.username }), ...(c.custom_id !== undefined && { custom_id: c.custom_id }), anonymous: ctx!.anonymous };
}

/**
 * Runs one request through the real proxy pipeline (router, plugins, consumer resolution) without sending
 * anything: the upstream call is recorded instead of made. Secrets the request carries are masked in the result.
 */
export async function explainRequest(snapshot: Snapshot, input: ExplainInput): Promise<Explanation> {
  const spec = requestSpec(input);
  const method = spec.method;
  const q = spec.target.indexOf('?');
  const rawPath = q === -1 ? spec.target : spec.target.slice(0, q);
  const query = q === -1 ? '' : spec.target.slice(q + 1);
  const { req, res } = syntheticExchange(spec);
  const host = req.headers.host;
  // Diagnosed before the request runs: plugins change its headers.
  const path = normalizePath(rawPath);
  const diagnosis = path === null ? [] : snapshot.router.diagnose(method, host, path, req.headers);

  const traced = await trace(snapshot, req, res);
  const ctx = traced.ctx;
  const route = ctx?.match.route;
  const matched = diagnosis.find((d) => d.failed.length === 0 && d.entry.route === route);
  const upstream = ctx?.runtime.upstream;
  const upstreamUrl =
    ctx !== undefined && upstream !== undefined
      ? `${upstream.protocol}//${upstream.hostHeader}${ctx.match.upstreamPath}${ctx.rawQuery !== null ? `?${ctx.rawQuery}` : ''}`
      : undefined;
  const explanation: Explanation = {
    request: { method, target: spec.target, headers: [...spec.headers] as Array<[string, string]> },
    route:
      ctx === undefined
        ? null
        : { name: nameOf(route!), id: route!.id, service: ctx.match.service ? nameOf(ctx.match.service) : null, why: matched ? conditionsOf(matched.entry, method, host) : [] },
    near_misses: nearMisses(diagnosis, route, method, host),
    upstream: upstreamUrl === undefined ? null : { url: upstreamUrl },
    balancing: ctx === undefined ? null : balancingOf(ctx),
    plugins: pluginSteps(traced),
    consumer: consumerOf(ctx),
    outcome: traced.answer === undefined ? { action: 'proxied', upstream: upstreamUrl! } : { action: 'answered', ...traced.answer },
  };
  return masked(explanation, requestSecrets(snapshot.entities, spec.headers, query));
}

function step(entry: ChainEntry, ran: boolean, result: string, consumer: ConsumerEntity | undefined): PluginStep {
  const p = entry.plugin;
  return {
    name: p.name,
    ...(p.instance_name !== undefined && { instance_name: p.instance_name }),
    scope: scopeOf(p),
    priority: entry.priority,
    ran,
    result,
    ...(consumer !== undefined && { consumer: consumerName(consumer) }),
    config: p.config,
  };
}
