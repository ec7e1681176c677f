import type { PluginCheck, PluginDefinition } from '../types';
import type { ResponseHead } from '../../proxy/response-head';
import { appendValue } from '../request-transformer/args';
import { HEADER_NAME, HEADER_VALUE, splitPair } from '../request-transformer/rules';
import { isSet, setOwn, type Json } from '../request-transformer/body';
import { log } from '../../log';
import configSchema from './schema.json';

type JsonType = 'boolean' | 'number' | 'string';
interface Colon {
  json: string[];
  headers: string[];
}
interface Typed extends Colon {
  json_types: JsonType[];
}

export interface ResponseTransformerConfig {
  remove: Colon;
  rename: Colon;
  replace: Typed;
  add: Typed;
  append: Typed;
}

interface JsonRules {
  remove: string[];
  rename: Array<[string, string]>;
  replace: Array<[string, unknown]>;
  add: Array<[string, unknown]>;
  append: Array<[string, unknown]>;
}

interface Compiled {
  removeHeaders: string[];
  renameHeaders: Array<[string, string]>;
  replaceHeaders: Array<[string, string]>;
  addHeaders: Array<[string, string]>;
  appendHeaders: Array<[string, string]>;
  /**
   * The headers rename, replace and add test, when an earlier rule may change one of them: they are tested as they
   * were before any rule ran (Kong reads them once, first). Empty when the live headers give the same answers.
   */
  tested: string[];
  json: JsonRules | undefined;
}

/**
 * The largest response body held whole for JSON rules. A larger one is sent as it came, untransformed (Kong holds
 * any size); 8 MiB passes Kong's own large-body spec (1 MiB of data, echoed) with room to spare.
 */
export const BODY_LIMIT = 8 * 1024 * 1024;

/** Any header token: what Node will write. Kong checks rename's names only, against its stricter rule. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NUMBER = /^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)\s*$/;

/** Kong's json_value: the text as a string, or cast to the entry's json_types type; undefined when it is no number. */
function typedValue(text: string, type: JsonType | undefined): unknown {
  if (type === 'number') return NUMBER.test(text) ? Number(text.trim()) : undefined;
  if (type === 'boolean') return text === 'true';
  return text;
}

function check(c: ResponseTransformerConfig): PluginCheck[] {
  const out: PluginCheck[] = [];
  const at = (path: Array<string | number>, message: string, severity?: 'warning') => out.push({ path: ['config', ...path], message, severity });
  c.remove.headers.forEach((entry, i) => {
    const name = splitPair(entry)[0];
    if (!TOKEN.test(name)) at(['remove', 'headers', i], `'${name}' is not a valid header`);
  });
  c.rename.headers.forEach((entry, i) => {
    for (const name of splitPair(entry)) if (!HEADER_NAME.test(name)) return at(['rename', 'headers', i], `'${name}' is not a valid header`);
  });
  c.rename.json.forEach((entry, i) => {
    if (splitPair(entry)[1] === '') at(['rename', 'json', i], `key '${splitPair(entry)[0]}' has no new name; it is ignored`, 'warning');
  });
  for (const op of ['replace', 'add', 'append'] as const) {
    c[op].headers.forEach((entry, i) => {
      const [name, value] = splitPair(entry);
      if (!TOKEN.test(name)) at([op, 'headers', i], `'${name}' is not a valid header`);
      else if (value === '') at([op, 'headers', i], `header '${name}' has no value; it is ignored`, 'warning');
      else if (!HEADER_VALUE.test(value)) at([op, 'headers', i], 'a header value may not hold control characters');
    });
    c[op].json.forEach((entry, i) => {
      const [name, value] = splitPair(entry);
      if (value === '') at([op, 'json', i], `key '${name}' has no value; it is ignored`, 'warning');
      else if (typedValue(value, c[op].json_types[i]) === undefined) at([op, 'json', i], `'${value}' is not a number (json_types[${i}]); it is ignored, as Kong does`, 'warning');
    });
  }
  return out;
}

const pairs = (entries: string[]) => entries.map(splitPair).filter(([, v]) => v !== '');

function compile(c: ResponseTransformerConfig): Compiled {
  const typed = (op: 'replace' | 'add' | 'append'): Array<[string, unknown]> =>
    c[op].json
      .map((entry, i): [string, unknown] => {
        const [name, value] = splitPair(entry);
        return [name, value === '' ? undefined : typedValue(value, c[op].json_types[i])];
      })
      .filter(([, v]) => v !== undefined);
  const json: JsonRules = {
    remove: c.remove.json.map((entry) => splitPair(entry)[0]),
    rename: pairs(c.rename.json),
    replace: typed('replace'),
    add: typed('add'),
    append: typed('append'),
  };
  const hasJson = json.remove.length + json.rename.length + json.replace.length + json.add.length + json.append.length > 0;
  const lower = (list: Array<[string, string]>) => list.map(([n, v]): [string, string] => [n.toLowerCase(), v]);
  const renameHeaders = lower(pairs(c.rename.headers)).map(([n, v]): [string, string] => [n, v.toLowerCase()]);
  const replaceHeaders = lower(pairs(c.replace.headers));
  const addHeaders = lower(pairs(c.add.headers));
  return {
    removeHeaders: c.remove.headers.map((entry) => splitPair(entry)[0].toLowerCase()),
    renameHeaders,
    replaceHeaders,
    addHeaders,
    appendHeaders: lower(pairs(c.append.headers)),
    tested: earlierRuleTouches(c, renameHeaders, replaceHeaders, addHeaders)
      ? [...new Set([...renameHeaders, ...replaceHeaders, ...addHeaders].map(([name]) => name))]
      : [],
    json: hasJson ? json : undefined,
  };
}

/** Every value of a header, in order. */
function valuesOf(head: ResponseHead, name: string): string[] {
  const out: string[] = [];
  const list = head.headers;
  for (let i = 0; i < list.length; i += 2) {
    if ((list[i] as string).toLowerCase() !== name) continue;
    const v = list[i + 1];
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

/**
 * Kong's is_json_body: some media type of the (comma-separated) Content-Type is application/json or
 * application/<anything>+json.
 */
export function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return contentType.split(',').some((t) => /^\s*application\/(?:[^\s;,/]+\+)?json\s*(?:;|$)/i.test(t));
}

/** An encoded body (gzip, br, …) is no JSON text: Kong fails to decode it and sends it as it came. */
function isEncoded(head: ResponseHead): boolean {
  const encoding = head.get('content-encoding');
  return encoding !== undefined && encoding.trim().toLowerCase() !== 'identity' && encoding.trim() !== '';
}

/** Kong's transform_json_body: remove, rename, replace, add, append on the top-level object. */
function transformJson(doc: Json, r: JsonRules): void {
  for (const name of r.remove) delete doc[name];
  for (const [from, to] of r.rename) {
    if (!Object.hasOwn(doc, from) || from === to) continue;
    const v = doc[from];
    delete doc[from];
    setOwn(doc, to, v);
  }
  for (const [name, v] of r.replace) if (Object.hasOwn(doc, name) && isSet(doc[name])) setOwn(doc, name, v);
  for (const [name, v] of r.add) if (!(Object.hasOwn(doc, name) && isSet(doc[name]))) setOwn(doc, name, v);
  for (const [name, v] of r.append) setOwn(doc, name, appendValue(Object.hasOwn(doc, name) ? doc[name] : undefined, v));
}

export const responseTransformer: PluginDefinition<ResponseTransformerConfig, Compiled> = {
  name: 'response-transformer',
  priority: 800,
  version: '1.0.0',
  configSchema,
  check: (plugin) => check(plugin.config),
  compile(config, build) {
    if (build.previous !== undefined) return build.previous as Compiled;
    return compile(config);
  },
  // Kong's order (header_transformer.lua): remove, rename, replace, add, append.
  headerFilter(_ctx, c, head) {
    const before = c.tested.length > 0 ? valuesBefore(head, c.tested) : undefined;
    for (const name of c.removeHeaders) head.remove(name);
    for (const [from, to] of c.renameHeaders) {
      const values = before !== undefined ? before.get(from)! : valuesOf(head, from);
      if (values.length === 0 || from === to) continue;
      head.remove(from);
      head.set(to, values.length === 1 ? values[0] : values);
    }
    for (const [name, value] of c.replaceHeaders) if (hadHeader(head, before, name)) head.set(name, value);
    for (const [name, value] of c.addHeaders) if (!hadHeader(head, before, name)) head.set(name, value);
    for (const [name, value] of c.appendHeaders) head.append(name, value);
    if (c.json !== undefined && isJsonType(head.get('content-type')) && !isEncoded(head)) head.bufferBody(BODY_LIMIT);
  },
  bodyFilter(ctx, c, body) {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      log('warn', 'response-transformer: the response body is not JSON; sent as it came', { request_id: ctx.requestId });
      return body;
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return body;
    transformJson(doc as Json, c.json!);
    return Buffer.from(JSON.stringify(doc));
  },
};

/** Whether a rule earlier in Kong's order removes, renames or sets a header a later rule tests. */
function earlierRuleTouches(c: ResponseTransformerConfig, rename: Array<[string, string]>, replace: Array<[string, string]>, add: Array<[string, string]>): boolean {
  const touched = new Set(c.remove.headers.map((entry) => splitPair(entry)[0].toLowerCase()));
  const tests = (names: string[]) => names.some((n) => touched.has(n));
  for (const [from, to] of rename) {
    if (tests([from])) return true;
    touched.add(from).add(to);
  }
  if (tests(replace.map(([n]) => n))) return true;
  for (const [n] of replace) touched.add(n);
  return tests(add.map(([n]) => n));
}

/** Whether the header was there before the rules ran (`before`), or is there now when no rule changed it. */
function hadHeader(head: ResponseHead, before: Map<string, string[]> | undefined, name: string): boolean {
  return before !== undefined ? before.get(name)!.length > 0 : head.has(name);
}

/** The values of the `tested` headers before any rule ran. */
function valuesBefore(head: ResponseHead, tested: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const name of tested) m.set(name, valuesOf(head, name));
  return m;
}
