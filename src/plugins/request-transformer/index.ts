import type { IncomingHttpHeaders } from 'node:http';
import type { PluginDefinition } from '../types';
import { BodyTooLargeError, type RequestContext } from '../../proxy/context';
import { appendValue, cloneArgs, encodeArgs, parseArgs, type ArgValue, type Args } from './args';
import { bodyKind, transformForm, transformJson, transformMultipart } from './body';
import { checkConfig, compileConfig, HEADER_VALUE, type Compiled, type RequestTransformerConfig, type Rules } from './rules';
import { render, type Template, type TemplateValues } from './template';
import configSchema from './schema.json';

/** The largest request body read for body rules; a larger one is refused with 413 (it cannot be sent on unread). */
export const BODY_LIMIT = 8 * 1024 * 1024;

/** The request values templates read, each loaded on first use and kept (Kong's lazily filled template environment). */
class RequestValues implements TemplateValues {
  private headers: IncomingHttpHeaders | undefined = undefined;
  private query: Args | undefined = undefined;
  private captures: RegExpExecArray | null | undefined = undefined;

  constructor(private readonly ctx: RequestContext) {}

  loadHeaders(): IncomingHttpHeaders {
    return (this.headers ??= { ...this.ctx.req.headers });
  }

  queryArgs(): Args {
    return (this.query ??= parseArgs(this.ctx.rawQuery));
  }

  header(name: string): string | undefined {
    const h = this.loadHeaders();
    // nginx's header table also finds `x_custom` as `x-custom`.
    const v = h[name] ?? (name.includes('_') ? h[name.replace(/_/g, '-')] : undefined);
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** A flag renders as '' and a repeated parameter as its first value (Kong fails the request on both). */
  queryParam(name: string): string | undefined {
    const v = this.queryArgs().get(name);
    const first = Array.isArray(v) ? v[0] : v;
    return first === true ? '' : first;
  }

  capture(key: string | number): string | undefined {
    if (this.captures === undefined) {
      const re = this.ctx.match.regex;
      this.captures = re === null ? null : re.exec(this.ctx.match.path);
    }
    const m = this.captures;
    if (m === null) return undefined;
    return typeof key === 'number' ? m[key] : m.groups?.[key];
  }
}

// Kong's kong.tools.uri escape: every byte but these is percent-encoded.
const PATH_SAFE = /[A-Za-z0-9!#$&'()*+,/:;=?@[\]\-_.~%]/;

function escapePath(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    out += PATH_SAFE.test(c) ? c : '%' + bytes.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** A rendered value that cannot go in a header (a control character from a query parameter): the request is refused. */
class BadHeaderValue extends Error {}

/** A header value: a constant was checked when the config loaded, a rendered one is checked here. */
function headerValue(t: Template, values: RequestValues | undefined): string {
  if (t.constant !== undefined) return t.constant;
  const v = render(t, values);
  if (!HEADER_VALUE.test(v)) throw new BadHeaderValue();
  return v;
}

function transformUri(ctx: RequestContext, c: Compiled, values: RequestValues | undefined): void {
  const path = render(c.uri!, values);
  // Kong's set_path refuses the path (an error, 500) unless it starts with '/'.
  if (!path.startsWith('/')) throw new Error(`request-transformer: replace.uri rendered '${path}', which does not start with '/'`);
  ctx.match.upstreamPath = escapePath(path);
}

/** Kong: GET, HEAD or TRACE take a form body's fields into the query string (the body is still sent). */
function moveFormToQuery(ctx: RequestContext, body: Buffer): void {
  const fields = parseArgs(body.toString('latin1'));
  if (fields.size === 0) return;
  const query = parseArgs(ctx.rawQuery);
  for (const [name, value] of fields) {
    const current = query.get(name);
    if (current === undefined) query.set(name, value);
    else query.set(name, [...(Array.isArray(current) ? current : [current]), ...(Array.isArray(value) ? value : [value])]);
  }
  ctx.setQuery(encodeArgs(query, true));
}

/** Kong's transform_headers, on the request's own header table (names lower-case). The Host header is special. */
function transformHeaders(ctx: RequestContext, r: Rules, c: Compiled, values: RequestValues | undefined): void {
  const h = ctx.req.headers;
  // Templates see the headers as they were before these rules (Kong applies them all at the end).
  if (c.headerRulesReadHeaders) values!.loadHeaders();
  for (const name of r.remove) if (name !== 'host' && h[name] !== undefined) delete h[name];
  for (const p of r.rename) {
    const to = p.value!.constant!;
    const v = h[p.name];
    if (p.name === to || p.name === 'host' || v === undefined) continue;
    delete h[p.name];
    if (to === 'host') ctx.upstreamHost = Array.isArray(v) ? v[0] : v;
    else h[to] = v;
  }
  for (const p of r.replace) {
    if (p.value === undefined) continue;
    if (p.name === 'host') ctx.upstreamHost = headerValue(p.value, values);
    else if (h[p.name] !== undefined) h[p.name] = headerValue(p.value, values);
  }
  for (const p of r.add) {
    if (p.value === undefined || p.name === 'host' || h[p.name] !== undefined) continue;
    h[p.name] = headerValue(p.value, values);
  }
  for (const p of r.append) {
    if (p.value === undefined || p.name === 'host') continue;
    // A new list: the templates' copy of the headers may share the old one.
    const v = headerValue(p.value, values);
    const current = h[p.name];
    h[p.name] = current === undefined ? v : Array.isArray(current) ? [...current, v] : [current, v];
  }
}

/** Kong's transform_querystrings: the query string is written anew, names sorted. */
function transformQuery(ctx: RequestContext, r: Rules, values: RequestValues | undefined): void {
  const args = values !== undefined ? cloneArgs(values.queryArgs()) : parseArgs(ctx.rawQuery);
  for (const name of r.remove) args.delete(name);
  for (const p of r.rename) {
    const to = render(p.value!, values);
    const v = args.get(p.name);
    if (p.name === to || v === undefined) continue;
    args.delete(p.name);
    args.set(to, v);
  }
  for (const p of r.replace) if (args.has(p.name)) args.set(p.name, render(p.value!, values));
  for (const p of r.add) if (!args.has(p.name)) args.set(p.name, render(p.value!, values));
  for (const p of r.append) args.set(p.name, appendValue(args.get(p.name), render(p.value!, values)) as ArgValue);
  ctx.setQuery(encodeArgs(args, true));
}

function transformBody(ctx: RequestContext, body: Buffer, r: Rules, values: RequestValues | undefined): void {
  const type = ctx.req.headers['content-type'] as string;
  const kind = bodyKind(type);
  const out =
    kind === 'json' ? transformJson(body, r, values) : kind === 'form' ? transformForm(body, r, values) : transformMultipart(body, type, r, values);
  if (out !== undefined) ctx.replaceBody(out);
}

function tooLarge(ctx: RequestContext, err: unknown): void {
  if (!(err instanceof BodyTooLargeError)) throw err;
  ctx.refusal = 'body too large';
  ctx.refusedBy = 'request-transformer';
  ctx.error(413, 'Request body too large');
}

function badHeader(ctx: RequestContext, err: unknown): void {
  if (!(err instanceof BadHeaderValue)) throw err;
  ctx.refusal = 'bad request';
  ctx.refusedBy = 'request-transformer';
  ctx.error(400, 'Bad request');
}

/** After the method: headers, then the body (read when a body rule applies to its type), then the query string. */
function afterMethod(ctx: RequestContext, c: Compiled, values: RequestValues | undefined): void | Promise<void> {
  if (c.headers !== undefined) {
    try {
      transformHeaders(ctx, c.headers, c, values);
    } catch (err) {
      return badHeader(ctx, err);
    }
  }
  if (c.body !== undefined && bodyKind(ctx.req.headers['content-type']) !== undefined) {
    return ctx.readBody(BODY_LIMIT).then(
      (body) => {
        transformBody(ctx, body, c.body!, values);
        if (c.querystring !== undefined) transformQuery(ctx, c.querystring, values);
      },
      (err) => tooLarge(ctx, err),
    );
  }
  if (c.querystring !== undefined) transformQuery(ctx, c.querystring, values);
}

export const requestTransformer: PluginDefinition<RequestTransformerConfig, Compiled> = {
  name: 'request-transformer',
  priority: 801,
  version: '1.0.0',
  configSchema,
  check: (plugin) => checkConfig(plugin.config),
  compile(config, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    return compileConfig(config);
  },
  // Kong's order (access.lua execute): uri, method, headers, body, query string.
  access(ctx, c) {
    const values = c.templated ? new RequestValues(ctx) : undefined;
    if (c.uri !== undefined) transformUri(ctx, c, values);
    if (c.method !== undefined) {
      ctx.req.method = c.method;
      if (c.formToQuery && bodyKind(ctx.req.headers['content-type']) === 'form') {
        return ctx.readBody(BODY_LIMIT).then(
          (body) => {
            moveFormToQuery(ctx, body);
            return afterMethod(ctx, c, values);
          },
          (err) => tooLarge(ctx, err),
        );
      }
    }
    return afterMethod(ctx, c, values);
  },
};
