import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ConsumerEntity } from '../config/entities';
import type { RouteRuntime, Snapshot } from '../config/snapshot';
import type { RequestContext } from '../proxy/context';
import type { AccessEntry } from './access-log';
import type { Exchange } from './observer';
import { redactTarget, secretQueryNames } from './redact';
import { isPlainJson, jsonString, jsonValue } from './json-text';

/** Kong's redaction mark (kong/pdk/log.lua serialize), used for every value the entry leaves out. */
export const LOG_REDACTED = 'REDACTED';
const REDACTED_JSON = `"${LOG_REDACTED}"`;

/** Kong's default workspace: a DB-less node has only this one. */
const WORKSPACE = { id: '00000000-0000-0000-0000-000000000000', name: 'default' };

/** Request headers whose values never appear in an entry, whatever the config. */
const ALWAYS_SECRET_HEADERS = ['authorization', 'proxy-authorization'];

/** Query parameters whose values never appear, besides key-auth's key_names and jwt's uri_param_names. */
const ALWAYS_SECRET_QUERY = ['password'];

interface Secrets {
  headers: ReadonlySet<string>;
  query: ReadonlySet<string>;
}

const secretsBySnapshot = new WeakMap<Snapshot, Secrets>();

/**
 * What an entry leaves out in this config: Authorization and Proxy-Authorization, every key-auth `key_names` and
 * jwt `header_names` header, every key-auth `key_names` and jwt `uri_param_names` query parameter and `password`
 * (of every plugin instance, disabled ones too, as the access log does).
 */
function secretsOf(snapshot: Snapshot): Secrets {
  let s = secretsBySnapshot.get(snapshot);
  if (s === undefined) {
    const headers = new Set(ALWAYS_SECRET_HEADERS);
    for (const p of snapshot.entities.plugins) {
      if (p.name === 'key-auth') for (const n of (p.config as { key_names: string[] }).key_names) headers.add(n.toLowerCase());
      if (p.name === 'jwt') for (const n of (p.config as { header_names: string[] }).header_names) headers.add(n.toLowerCase());
    }
    s = { headers, query: new Set([...secretQueryNames(snapshot), ...ALWAYS_SECRET_QUERY]) };
    secretsBySnapshot.set(snapshot, s);
  }
  return s;
}

/** `a=1; b=2` → `a=REDACTED; b=REDACTED`: the cookie names stay, their values go. */
function redactCookies(value: string): string {
  return value
    .split(';')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1 ? pair : `${pair.slice(0, eq)}=${LOG_REDACTED}`;
    })
    .join(';');
}

/** The request headers as the entry's JSON object, secrets and cookie values redacted. */
function requestHeadersJson(headers: IncomingHttpHeaders, secret: ReadonlySet<string>): string {
  let out = '{';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    let text: string;
    if (secret.has(name)) text = REDACTED_JSON;
    else if (name === 'cookie') text = jsonValue(Array.isArray(v) ? v.map(redactCookies) : redactCookies(v))!;
    else text = typeof v === 'string' ? jsonString(v) : jsonValue(v)!;
    out += `${out.length === 1 ? '' : ','}${jsonString(name)}:${text}`;
  }
  return out + '}';
}

/** `set-cookie` keeps the cookie's name only: `sid=REDACTED`. */
const redactSetCookie = (c: string): string => redactCookies(c.split(';', 1)[0]);

/** `set-cookie` keeps each cookie's name only: `sid=REDACTED`. */
function responseHeaders(headers: OutgoingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.map(String) : String(v);
    if (name !== 'set-cookie') out[name] = text;
    else out[name] = (Array.isArray(text) ? text : [text]).map(redactSetCookie);
  }
  return out;
}

/**
 * The response headers as written, redacted as responseHeaders() does. The forwarder writes them in one writeHead
 * from a flat list, which node keeps only as the header block it sent, so that block is read back (once, in the
 * log phase) straight into the entry's form.
 */
function sentHeaders(res: Exchange['res']): Record<string, string | string[]> {
  const block = (res as unknown as { _header?: string | null })._header;
  if (typeof block !== 'string') return responseHeaders(res.getHeaders());
  const out: Record<string, string | string[]> = {};
  const lines = block.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    const had = out[name];
    if (name === 'set-cookie') {
      if (had === undefined) out[name] = [redactSetCookie(value)];
      else (had as string[]).push(redactSetCookie(value));
    } else if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

/** Beyond this many response headers, repeated names are found through an object, not by comparing names. */
const FEW_HEADERS = 16;
/**
 * Whether a sent header block has a value JSON must escape: node refuses control characters in names and values
 * but tab, and names are tokens, so only `"`, `\\` and tab can be there (three native scans, cheaper than a regex).
 */
function needsEscape(block: string): boolean {
  return block.indexOf('"') !== -1 || block.indexOf('\\') !== -1 || block.indexOf('\t') !== -1;
}

/**
 * sentHeaders() as the entry's JSON text, written straight from the header block when it is plain: at most
 * FEW_HEADERS lines, no repeated name, no set-cookie, nothing to escape, no name an object would reorder or refuse
 * (a digit or symbol first, `__proto__`): the common response. Else through sentHeaders().
 */
export function sentHeadersJson(res: Exchange['res']): string {
  const block = (res as unknown as { _header?: string | null })._header;
  if (typeof block !== 'string' || needsEscape(block)) return jsonValue(sentHeaders(res))!;
  const names: string[] = [];
  let out = '{';
  let start = block.indexOf('\r\n') + 2;
  for (;;) {
    const end = block.indexOf('\r\n', start);
    if (end === -1 || end === start) break;
    const colon = block.indexOf(':', start);
    if (colon > start && colon < end) {
      const name = block.slice(start, colon).toLowerCase();
      if (name === 'set-cookie' || name === '__proto__' || name.charCodeAt(0) < 0x3a || names.length === FEW_HEADERS || names.includes(name)) {
        return jsonValue(sentHeaders(res))!;
      }
      names.push(name);
      // `name: value` as node writes it needs no trim: only a value with spaces around it does.
      const value =
        block.charCodeAt(colon + 1) === 32 && block.charCodeAt(colon + 2) > 32 && block.charCodeAt(end - 1) > 32
          ? block.slice(colon + 2, end)
          : block.slice(colon + 1, end).trim();
      out += `${names.length === 1 ? '' : ','}"${name}":"${value}"`;
    }
    start = end + 2;
  }
  return out + '}';
}

/** A query string as Kong's get_query gives it: one value, or a list for a repeated name; `true` for a bare name. */
function queryOf(target: string, secret: ReadonlySet<string>): Record<string, string | boolean | Array<string | boolean>> {
  const out: Record<string, string | boolean | Array<string | boolean>> = {};
  const q = target.indexOf('?');
  if (q === -1) return out;
  for (const pair of target.slice(q + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeQuery(eq === -1 ? pair : pair.slice(0, eq));
    const value: string | boolean = eq === -1 ? true : secret.has(name) ? LOG_REDACTED : decodeQuery(pair.slice(eq + 1));
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A Host header without its `:port` (what /:\d+$/ removes), without a regex per request. */
export function withoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon === -1 || colon === host.length - 1) return host;
  for (let i = colon + 1; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c < 48 || c > 57) return host;
  }
  return host.slice(0, colon);
}

/**
 * Kong's request.tls, only on a TLS connection: protocol version, OpenSSL cipher name, and the client certificate's
 * verification as nginx's $ssl_client_verify says it (NONE without one, SUCCESS, or FAILED:reason).
 */
export function tlsOf(socket: Exchange['req']['socket']): { version: string; cipher: string; client_verify: string } | undefined {
  if ((socket as { encrypted?: boolean }).encrypted !== true) return undefined;
  const tls = socket as TLSSocket;
  const version = tls.getProtocol();
  if (version === null) return undefined;
  const peer = tls.getPeerCertificate();
  const clientVerify = peer === null || Object.keys(peer).length === 0 ? 'NONE' : tls.authorized ? 'SUCCESS' : `FAILED:${String(tls.authorizationError)}`;
  return { version, cipher: tls.getCipher().name, client_verify: clientVerify };
}

/**
 * A route's and its service's JSON, and `tries` for a request it forwarded, made once per route and config (Kong's
 * entities: the route names its service by id).
 */
interface EntityJson {
  route: string | undefined;
  service: string | undefined;
  tries: string;
}
const entityJson = new WeakMap<RouteRuntime, EntityJson>();
const NO_ROUTE: EntityJson = { route: undefined, service: undefined, tries: '[]' };
const consumerJson = new WeakMap<ConsumerEntity, string>();

function entitiesOf(runtime: RouteRuntime): EntityJson {
  let j = entityJson.get(runtime);
  if (j === undefined) {
    const { service, ...route } = runtime.route;
    j = {
      route: JSON.stringify(service === undefined ? route : { ...route, service: { id: service } }),
      service: runtime.service === undefined ? undefined : JSON.stringify(runtime.service),
      tries: runtime.upstream === undefined ? '[]' : JSON.stringify([{ ip: runtime.upstream.host, port: runtime.upstream.port }]),
    };
    entityJson.set(runtime, j);
  }
  return j;
}

function consumerOf(c: ConsumerEntity): string {
  let j = consumerJson.get(c);
  if (j === undefined) {
    j = JSON.stringify(c);
    consumerJson.set(c, j);
  }
  return j;
}

/**
 * One request as Kong's log serializer (kong/pdk/log.lua `serialize`) describes it, as JSON text, with the
 * values of credentials, passwords and cookies replaced by REDACTED. Built once per request, whichever and however
 * many log plugins send it.
 */
export class LogEntry {
  private text: string | undefined = undefined;

  constructor(
    readonly exchange: Exchange,
    /** Undefined for a request that matched no route (logged by global plugins, as Kong does). */
    readonly ctx: RequestContext | undefined,
    readonly access: AccessEntry,
    /** When the response closed, ms since epoch. */
    readonly endedAt: number,
  ) {}

  json(): string {
    if (this.text === undefined) this.text = this.serialize();
    return this.text;
  }

  private serialize(): string {
    const { exchange: ex, ctx, access } = this;
    const secrets = secretsOf(ex.snapshot);
    const uri = redactTarget(ex.target, secrets.query);
    const host = withoutPort(ex.req.headers.host ?? '');
    const scheme = (ex.req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    const forwarded = ctx !== undefined && ctx.forwardedAt !== 0;
    const total = this.endedAt - ex.startedAt;
    const tls = tlsOf(ex.req.socket);
    const method = ex.req.method;
    // The url is plain when its parts are: checked once each, the uri serving both members.
    const url = `${scheme}://${host}:${ex.req.socket.localPort}${uri}`;
    const plainUri = isPlainJson(uri);
    // Kong's request object, its members in JSON.stringify's order: tls only on a TLS connection.
    const request =
      `{"id":${jsonString(ex.requestId)},"uri":${plainUri ? `"${uri}"` : JSON.stringify(uri)}` +
      `,"url":${plainUri && isPlainJson(host) ? `"${url}"` : JSON.stringify(url)}` +
      `,"querystring":${ex.target.indexOf('?') === -1 ? '{}' : jsonValue(queryOf(ex.target, secrets.query))}` +
      (method === undefined ? '' : `,"method":${jsonString(method)}`) +
      `,"headers":${requestHeadersJson(ex.req.headers, secrets.headers)},"size":${jsonValue(access.bytes_in)}` +
      (tls === undefined ? '}' : `,"tls":${jsonValue(tls)}}`);
    const response = `{"status":${jsonValue(access.status)},"headers":${sentHeadersJson(ex.res)},"size":${jsonValue(access.bytes_out)}}`;
    // Kong's KONG_PROXY_LATENCY (until the request went upstream), else the whole time of an answer it made.
    const kong = forwarded ? ctx!.forwardedAt - ex.startedAt : total;
    const receive = ctx !== undefined && ctx.upstreamRespondedAt !== 0 ? this.endedAt - ctx.upstreamRespondedAt : 0;
    const latencies = `{"kong":${jsonValue(kong)},"proxy":${jsonValue(access.upstream_latency_ms ?? -1)},"request":${jsonValue(total)},"receive":${jsonValue(receive)}}`;
    const entities = ctx === undefined ? NO_ROUTE : entitiesOf(ctx.runtime);
    const credential = ctx?.credential;
    const consumer = ctx?.consumer;
    // Kong's RESPONSE_SOURCE.NAMES: the service's answer, or one the gateway made.
    const source = ctx !== undefined && ctx.upstreamRespondedAt !== 0 && ctx.refusal === undefined ? 'upstream' : 'kong';
    return (
      `{"request":${request}` +
      `,"upstream_uri":${jsonString(forwarded ? redactTarget(ex.req.url ?? '', secrets.query) : '')}` +
      `,"upstream_status":"${ctx !== undefined && ctx.upstreamStatus !== 0 ? ctx.upstreamStatus : ''}"` +
      `,"response":${response}` +
      `,"latencies":${latencies}` +
      `,"tries":${forwarded ? entities.tries : '[]'}` +
      (credential === undefined ? '' : `,"authenticated_entity":${jsonValue({ id: credential.id, consumer_id: credential.consumerId })}`) +
      (entities.route === undefined ? '' : `,"route":${entities.route}`) +
      (entities.service === undefined ? '' : `,"service":${entities.service}`) +
      (consumer === undefined ? '' : `,"consumer":${consumerOf(consumer)}`) +
      `,"client_ip":${jsonString(this.access.client_ip ?? '')}` +
      `,"started_at":${ex.startedAt}` +
      `,"source":"${source}"` +
      (ctx?.traceIds === undefined ? '' : `,"trace_id":${JSON.stringify(ctx.traceIds)}`) +
      (ctx?.correlationId === undefined ? '' : `,"correlation_id":${jsonString(ctx.correlationId)}`) +
      `,"workspace":"${WORKSPACE.id}","workspace_name":"${WORKSPACE.name}"}`
    );
  }
}
