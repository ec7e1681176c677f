import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import { isPreflight } from '../preflight';
import { acceptedOrigin, compileOrigins, originProblem, type Origins } from './origins';
import configSchema from './schema.json';

export interface CorsConfig {
  origins?: string[] | null;
  headers?: string[] | null;
  exposed_headers?: string[] | null;
  methods?: string[] | null;
  max_age?: number | null;
  credentials: boolean;
  private_network: boolean;
  preflight_continue: boolean;
  allow_origin_absent: boolean;
}

interface Compiled {
  origins: Origins;
  credentials: boolean;
  privateNetwork: boolean;
  preflightContinue: boolean;
  allowOriginAbsent: boolean;
  /** Access-Control-Allow-Headers as configured; undefined: the request's Access-Control-Request-Headers. */
  allowHeaders: string | undefined;
  exposeHeaders: string | undefined;
  allowMethods: string;
  maxAge: string | undefined;
}

/**
 * Where the CORS headers go: a response's head (Kong's header_filter, where Vary: Origin is added beside the
 * upstream's), or the gateway's preflight answer (where it is set).
 */
interface Headers {
  set(name: string, value: string): void;
  remove(name: string): void;
  append(name: string, value: string): void;
}

const ALL_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT';
const ACAO = 'access-control-allow-origin';
const ACAC = 'access-control-allow-credentials';
/** What allowOrigin did: every origin is allowed; Vary: Origin was added. */
const ALLOW_ALL = 1;
const VARIED = 2;

/** Kong's configure_origin: sets or clears Access-Control-Allow-Origin. */
function allowOrigin(c: Compiled, h: Headers, origin: string | undefined): number {
  const o = c.origins;
  if (o.kind === 'any') {
    h.set(ACAO, '*');
    return ALLOW_ALL;
  }
  h.append('vary', 'Origin'); // the answer depends on the Origin: caches must know
  if (o.kind === 'single') {
    h.set(ACAO, o.value);
    return VARIED;
  }
  if (origin !== undefined) {
    if (o.any) {
      h.set(ACAO, '*');
      return ALLOW_ALL | VARIED;
    }
    const accepted = acceptedOrigin(o, origin);
    if (accepted !== undefined) {
      h.set(ACAO, accepted);
      return VARIED;
    }
  }
  h.remove(ACAO);
  return VARIED;
}

/** Kong's configure_credentials: credentials cannot go with `*`, so the request's own Origin is allowed instead. */
function allowCredentials(c: Compiled, h: Headers, done: number, origin: string | undefined): void {
  if (!c.credentials) return;
  if ((done & ALLOW_ALL) === 0) return h.set(ACAC, 'true');
  if (origin === undefined) return;
  if ((done & VARIED) === 0) h.append('vary', 'Origin');
  h.set(ACAO, origin);
  h.set(ACAC, 'true');
}

/** The request's Origin, when it has a non-empty one. */
function originOf(ctx: RequestContext): string | undefined {
  const origin = ctx.req.headers.origin;
  return origin === undefined || origin === '' ? undefined : origin;
}

/** Headers of the gateway's own preflight answer. */
class PreflightHeaders implements Headers {
  readonly values: Record<string, string> = {};
  set(name: string, value: string): void {
    this.values[name] = value;
  }
  remove(name: string): void {
    delete this.values[name];
  }
  append(name: string, value: string): void {
    this.values[name] = value;
  }
}

function joinedOrUndefined(list: string[] | null | undefined): string | undefined {
  return list === null || list === undefined || list.length === 0 ? undefined : list.join(',');
}

export const cors: PluginDefinition<CorsConfig, Compiled> = {
  name: 'cors',
  priority: 2000,
  version: '1.0.0',
  configSchema,
  noConsumer: true,
  check(plugin) {
    const out: PluginCheck[] = [];
    (plugin.config.origins ?? []).forEach((entry, i) => {
      const problem = originProblem(entry);
      if (problem !== undefined) out.push({ path: ['config', 'origins', i], message: problem });
    });
    return out;
  },
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    return {
      origins: compileOrigins(c.origins),
      credentials: c.credentials,
      privateNetwork: c.private_network,
      preflightContinue: c.preflight_continue,
      allowOriginAbsent: c.allow_origin_absent,
      allowHeaders: joinedOrUndefined(c.headers),
      exposeHeaders: joinedOrUndefined(c.exposed_headers),
      allowMethods: c.methods === null || c.methods === undefined ? ALL_METHODS : c.methods.join(','),
      maxAge: c.max_age === null || c.max_age === undefined ? undefined : String(c.max_age),
    };
  },
  /** A preflight is answered here, 200 with no body, unless preflight_continue hands it to the upstream. */
  access(ctx, c) {
    if (c.preflightContinue || !isPreflight(ctx.req)) return;
    const req = ctx.req;
    const origin = originOf(ctx);
    const h = new PreflightHeaders();
    allowCredentials(c, h, allowOrigin(c, h, origin), origin);
    const allowHeaders = c.allowHeaders ?? req.headers['access-control-request-headers'];
    if (allowHeaders !== undefined) h.set('access-control-allow-headers', allowHeaders);
    h.set('access-control-allow-methods', c.allowMethods);
    if (c.maxAge !== undefined) h.set('access-control-max-age', c.maxAge);
    if (c.privateNetwork && req.headers['access-control-request-private-network'] === 'true') {
      h.set('access-control-allow-private-network', 'true');
    }
    ctx.respond(200, '', undefined, h.values);
  },
  /**
   * Every other response, the upstream's or the gateway's own (a 401 from key-auth, a 502), gets the CORS headers.
   * A preflight never does: cors answered it, or (preflight_continue) the upstream's answer is its own.
   */
  headerFilter(ctx, c, head) {
    if (isPreflight(ctx.req)) return;
    const origin = originOf(ctx);
    if (origin === undefined && !c.allowOriginAbsent) return;
    allowCredentials(c, head, allowOrigin(c, head, origin), origin);
    if (c.exposeHeaders !== undefined) head.set('access-control-expose-headers', c.exposeHeaders);
  },
};
