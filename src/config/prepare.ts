// The file as Kong reads it before validating it, done in place on the parsed document:
// - a null for a field that is not required means "not set" (decK dumps write `minute: null`, `path: null` …): it
//   is dropped, in entities and plugin configs. A null for a required field stays, and is refused as missing.
//   Required means the schema's `required`, or `x-not-null` for the fields Kong requires but fills with a default.
// - an empty list of Kong entities (`upstreams: []`) declares nothing, implemented or not: it is dropped.
// - a service's `url` gives its protocol, host, port and path, overriding those written beside it
//   (kong/db/schema/init.lua process_auto_fields); a warning says which of them differed.
// - decK's `_info.select_tags` are added to every entity's tags and `_info.defaults` fill the services' and
//   routes' missing fields, as `deck gateway sync` does; `_konnect` (decK's Konnect metadata) is ignored, with a
//   warning.
import type { PathSegment, Severity } from './errors';
import { isKongEntityList } from './kong-catalog';
import { defaultPort, parseServiceUrl } from './service-url';
import { PLUGINS } from '../plugins';

export interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  required?: string[];
  'x-not-null'?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  definitions?: Record<string, SchemaNode>;
}

type Raw = Record<string, any>;
export type Report = (path: PathSegment[], message: string, severity?: Severity) => void;

/** decK's `_info` settings that change the entities. */
export interface DeckInfo {
  selectTags?: string[];
  /** Field values a service or route gets when it lacks the field, by entity list ('services', 'routes'). */
  defaults: Record<string, Raw>;
}

const isObject = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `node` with its `#/definitions/…` reference followed, within `root`. */
export function resolved(node: SchemaNode | undefined, root: SchemaNode): SchemaNode | undefined {
  let n = node;
  while (n?.$ref?.startsWith('#/definitions/')) n = root.definitions?.[n.$ref.slice('#/definitions/'.length)];
  return n;
}

/** Fields whose null is refused rather than dropped. */
function notNullable(schema: SchemaNode | undefined): Set<string> {
  return new Set([...(schema?.required ?? []), ...(schema?.['x-not-null'] ?? [])]);
}

/**
 * Drops the nulls of fields that are not required in `obj` and the objects below it (schema-less below: all).
 * `seen`: objects already done (YAML aliases can make the document a graph, even a cycle).
 */
export function dropNulls(obj: Raw, schema: SchemaNode | undefined, root: SchemaNode | undefined, seen = new WeakSet<object>()): void {
  if (seen.has(obj)) return;
  seen.add(obj);
  const keep = notNullable(schema);
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === null) {
      if (!keep.has(key)) delete obj[key];
    } else if (isObject(v)) {
      const sub = root === undefined ? undefined : resolved(schema?.properties?.[key], root);
      dropNulls(v, sub, sub === undefined ? undefined : root, seen);
    }
  }
}

export function prepare(doc: Raw, root: SchemaNode, info: DeckInfo, report: Report): void {
  if (doc._konnect !== undefined && doc._konnect !== null) {
    report(['_konnect'], "'_konnect' is decK's Konnect metadata (which control plane to sync to): ignored here", 'warning');
  }
  if (isObject(doc._info) && doc._info.default_lookup_tags != null) {
    report(
      ['_info', 'default_lookup_tags'],
      "decK's lookup tags find entities outside this file, which this gateway does not have: every reference must resolve within the file",
      'warning',
    );
  }
  const walk = new Walk(root, info, report);
  walk.entity(doc, root, '', []);
}

/** One pass over the document; `seen` keeps it from doing an object twice (YAML aliases can make cycles). */
class Walk {
  private readonly seen = new WeakSet<object>();

  constructor(
    private readonly root: SchemaNode,
    private readonly info: DeckInfo,
    private readonly report: Report,
  ) {}

  entity(obj: Raw, def: SchemaNode, kind: string, path: PathSegment[]): void {
    if (this.seen.has(obj)) return;
    this.seen.add(obj);
    const { root, info, report } = this;
    if (kind === 'services') applyUrl(obj, path, report);
    const keep = notNullable(def);
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v === null) {
        if (!keep.has(key)) delete obj[key];
        continue;
      }
      const prop = resolved(def.properties?.[key], root);
      if (Array.isArray(v)) {
        const child = resolved(prop?.items, root);
        if (prop?.items?.$ref !== undefined && child?.type === 'object') {
          v.forEach((e, i) => {
            if (isObject(e)) this.entity(e, child, key, [...path, key, i]);
          });
        } else if (v.length === 0 && prop === undefined && isKongEntityList(kind, key)) {
          delete obj[key];
        }
      } else if (isObject(v)) {
        if (kind === 'plugins' && key === 'config') {
          const schema = PLUGINS.get(obj.name)?.configSchema as SchemaNode | undefined;
          dropNulls(v, schema, schema, this.seen);
        } else {
          dropNulls(v, prop, root, this.seen);
        }
      }
    }
    if (kind === '') return;
    const defaults = info.defaults[kind];
    if (defaults !== undefined) for (const [k, v] of Object.entries(defaults)) if (!(k in obj)) obj[k] = structuredClone(v);
    if (info.selectTags !== undefined && (obj.tags === undefined || Array.isArray(obj.tags))) {
      obj.tags = [...new Set([...(obj.tags ?? []), ...info.selectTags])];
    }
  }
}

const URL_PARTS = ['protocol', 'host', 'port', 'path'] as const;

/** Kong's url shorthand: it sets all four parts, so the ones written beside it are dropped. */
function applyUrl(s: Raw, path: PathSegment[], report: Report): void {
  if (typeof s.url !== 'string') return;
  const given = URL_PARTS.filter((k) => s[k] !== undefined && s[k] !== null);
  if (given.length === 0) return;
  const u = parseServiceUrl(s.url);
  if (!('error' in u)) {
    const fromUrl = { protocol: u.protocol, host: u.host, port: u.port ?? defaultPort(u.protocol), path: u.path };
    const differing = given.filter((k) => s[k] !== fromUrl[k]).map((k) => `${k} '${s[k]}'`);
    if (differing.length > 0) {
      report(
        [...path, 'url'],
        `'url' gives the service's protocol, host, port and path, so ${differing.join(', ')} beside it ${differing.length > 1 ? 'are' : 'is'} ignored (as in Kong)`,
        'warning',
      );
    }
  }
  for (const k of given) delete s[k];
}
