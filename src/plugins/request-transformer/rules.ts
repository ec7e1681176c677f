import type { PluginCheck } from '../types';
import { compileTemplate, TemplateError, toBytes, type Template } from './template';

type Section = 'headers' | 'querystring' | 'body';

export interface RequestTransformerConfig {
  http_method?: string | null;
  remove: Record<Section, string[]>;
  rename: Record<Section, string[]>;
  replace: Record<Section, string[]> & { uri?: string | null };
  add: Record<Section, string[]>;
  append: Record<Section, string[]>;
}

/** A `name:value` entry: the name (lower-cased for headers; bytes), the value a template (undefined when empty). */
export interface Pair {
  name: string;
  value: Template | undefined;
}

export interface Rules {
  remove: string[];
  rename: Pair[];
  replace: Pair[];
  add: Pair[];
  append: Pair[];
}

export interface Compiled {
  uri: Template | undefined;
  method: string | undefined;
  /** http_method GET, HEAD or TRACE: a form body's fields join the query string, as Kong does. */
  formToQuery: boolean;
  headers: Rules | undefined;
  querystring: Rules | undefined;
  body: Rules | undefined;
  /** Some template reads the request (a template environment is needed). */
  templated: boolean;
  /** A header rule's template reads headers: they are read before the header rules change them, as in Kong. */
  headerRulesReadHeaders: boolean;
}

const OPS = ['remove', 'rename', 'replace', 'add', 'append'] as const;
const SECTIONS: Section[] = ['headers', 'querystring', 'body'];

/** Kong's methods for kong.service.request.set_method; others fail there at runtime, so they are refused here. */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'PATCH', 'TRACE']);

/** Kong's validate_header_name. */
export const HEADER_NAME = /^[A-Za-z0-9_-]+$/;
/** What may stand in a header value (Node refuses the rest). */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Kong's split of `name:value` (`^([^:]+):*(.-)$`): colons after the name are skipped. */
export function splitPair(entry: string): [string, string] {
  const m = /^([^:]+):*([\s\S]*)$/.exec(entry);
  return m === null ? [entry, ''] : [m[1], m[2]];
}

/** Problems Kong's schema reports (and the template syntax it reports at runtime), at their field paths. */
export function checkConfig(c: RequestTransformerConfig): PluginCheck[] {
  const out: PluginCheck[] = [];
  const at = (path: Array<string | number>, message: string) => out.push({ path: ['config', ...path], message });
  if (c.http_method != null && !METHODS.has(c.http_method)) at(['http_method'], `invalid value: ${c.http_method} (expected one of ${[...METHODS].join(', ')})`);
  for (const op of OPS) {
    for (const section of SECTIONS) {
      c[op][section].forEach((entry, i) => {
        const where = [op, section, i];
        const [name, value] = splitPair(entry);
        if (section === 'headers') {
          if (!HEADER_NAME.test(name)) return at(where, `'${name}' is not a valid header`);
          if (op === 'rename' && !HEADER_NAME.test(value)) return at(where, `'${value}' is not a valid header`);
        } else if (op !== 'remove' && value === '') {
          return at(where, `key '${name}' has no value`);
        }
        if (op === 'remove' || (op === 'rename' && section === 'headers')) return;
        try {
          const t = compileTemplate(value);
          if (section === 'headers' && t.constant !== undefined && !HEADER_VALUE.test(t.constant)) at(where, 'a header value may not hold control characters');
        } catch (err) {
          if (err instanceof TemplateError) at(where, `invalid template: ${err.message}`);
          else throw err;
        }
      });
    }
  }
  if (c.replace.uri != null) {
    try {
      const t = compileTemplate(c.replace.uri);
      if (t.constant !== undefined && !t.constant.startsWith('/')) at(['replace', 'uri'], 'path must start with /');
    } catch (err) {
      if (err instanceof TemplateError) at(['replace', 'uri'], `invalid template: ${err.message}`);
      else throw err;
    }
  }
  return out;
}

function rulesOf(c: RequestTransformerConfig, section: Section): Rules | undefined {
  if (OPS.every((op) => c[op][section].length === 0)) return undefined;
  const name = section === 'headers' ? (n: string) => n.toLowerCase() : toBytes;
  const pairs = (entries: string[], valueText = (v: string) => v): Pair[] =>
    entries.map((entry) => {
      const [n, v] = splitPair(entry);
      return { name: name(n), value: v === '' ? undefined : compileTemplate(valueText(v)) };
    });
  return {
    remove: c.remove[section].map((entry) => name(splitPair(entry)[0])),
    // A header rename's new name is a header name (checked), so a constant.
    rename: pairs(c.rename[section], section === 'headers' ? (v) => v.toLowerCase() : undefined),
    replace: pairs(c.replace[section]),
    add: pairs(c.add[section]),
    append: pairs(c.append[section]),
  };
}

function readsRequest(rules: Rules | undefined, source?: 'headers'): boolean {
  if (rules === undefined) return false;
  return [rules.rename, rules.replace, rules.add, rules.append].some((pairs) =>
    pairs.some((p) => p.value !== undefined && (source === undefined ? p.value.uses.size > 0 : p.value.uses.has(source))),
  );
}

export function compileConfig(c: RequestTransformerConfig): Compiled {
  const uri = c.replace.uri != null ? compileTemplate(c.replace.uri) : undefined;
  const method = c.http_method ?? undefined;
  const headers = rulesOf(c, 'headers');
  const querystring = rulesOf(c, 'querystring');
  const body = rulesOf(c, 'body');
  return {
    uri,
    method,
    formToQuery: method === 'GET' || method === 'HEAD' || method === 'TRACE',
    headers,
    querystring,
    body,
    templated: (uri !== undefined && uri.uses.size > 0) || readsRequest(headers) || readsRequest(querystring) || readsRequest(body),
    headerRulesReadHeaders: readsRequest(headers, 'headers'),
  };
}
