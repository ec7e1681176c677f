import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { PLUGINS, QUEUE_SCHEMA } from '../plugins';
import type { ConfigSource } from './source';
import { formatPath, type ConfigIssue, type PathSegment, type Severity } from './errors';
import { didYouMean } from './suggest';
import { unsupportedField, unsupportedRedisField } from './kong-catalog';
import { dropNulls, prepare, type DeckInfo, type Report, type SchemaNode } from './prepare';
import { envVarHint } from './env-vars';
import { applyUpstreamShorthands } from './upstream-rules';

// schemas/ sits beside src/ and dist/, so this path holds for both.
const SCHEMA_FILE = join(__dirname, '..', '..', 'schemas', 'kong.schema.json');

let compiled: ValidateFunction | undefined;
const pluginValidators = new Map<string, ValidateFunction>();

/** A property holding a list of entities (`services`, a service's `routes`, …): its name and the entry's definition. */
interface EntityList {
  key: string;
  entry: string;
}
/** The entity lists of the document ('') and of each entity definition, and each entity's own validator. */
const entityLists = new Map<string, EntityList[]>();
const entityValidators = new Map<string, ValidateFunction>();

let rootSchema: SchemaNode & { $id: string; definitions: Record<string, SchemaNode> };

/** The properties of `schema` that list entities: arrays of a definition that is an object. */
function listsOf(schema: SchemaNode | undefined): EntityList[] {
  const lists: EntityList[] = [];
  for (const [key, p] of Object.entries(schema?.properties ?? {})) {
    const entry = entityDefinitionOf(p);
    if (entry !== undefined) lists.push({ key, entry });
  }
  return lists;
}

function entityDefinitionOf(property: SchemaNode): string | undefined {
  const ref = property.items?.$ref;
  if (property.type !== 'array' || !ref?.startsWith('#/definitions/')) return undefined;
  const entry = ref.slice('#/definitions/'.length);
  return rootSchema.definitions[entry]?.type === 'object' ? entry : undefined;
}

/** The entity schema with every plugin's config schema, compiled once per process. */
export function schemaValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary(['x-message', 'x-not-null']);
  ajv.addSchema(QUEUE_SCHEMA);
  for (const plugin of PLUGINS.values()) ajv.addSchema(plugin.configSchema);
  const schema = (rootSchema = require(SCHEMA_FILE));
  compiled = ajv.compile(schema);
  for (const plugin of PLUGINS.values()) pluginValidators.set(plugin.name, ajv.getSchema((plugin.configSchema as { $id: string }).$id)!);
  const pending = listsOf(schema);
  entityLists.set('', [...pending]);
  while (pending.length > 0) {
    const { entry } = pending.pop()!;
    if (entityValidators.has(entry)) continue;
    entityValidators.set(entry, ajv.getSchema(`${schema.$id}#/definitions/${entry}`)!);
    entityLists.set(entry, listsOf(schema.definitions[entry]));
    pending.push(...entityLists.get(entry)!);
  }
  return compiled;
}

/**
 * Collects the schema errors of `value` (at JSON pointer `at`), and in `broken` each entity that has errors of its
 * own. ajv gathers the errors of a list's entries by concatenating arrays, which is quadratic in the failing entries
 * (100,000 consumers with the same typo would take minutes): every entity list is taken out and its entries are
 * validated one by one, each with its own validator.
 */
function collectSchemaErrors(value: unknown, validate: ValidateFunction, lists: EntityList[], at: string, out: ErrorObject[], broken: Set<object>): void {
  const taken: Array<[EntityList, unknown[]]> = [];
  const container = value as Raw;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const list of lists) {
      const entries = container[list.key];
      if (Array.isArray(entries)) {
        taken.push([list, entries]);
        container[list.key] = [];
      }
    }
  }
  if (!validate(value)) {
    for (const e of validate.errors!) out.push(at === '' ? e : { ...e, instancePath: at + e.instancePath });
    if (at !== '' && value !== null && typeof value === 'object') broken.add(value);
  }
  for (const [list, entries] of taken) {
    container[list.key] = entries;
    const validateEntry = entityValidators.get(list.entry)!;
    const nested = entityLists.get(list.entry)!;
    for (let i = 0; i < entries.length; i++) collectSchemaErrors(entries[i], validateEntry, nested, `${at}/${list.key}/${i}`, out, broken);
  }
}

type Raw = Record<string, any>;

/**
 * Fills each plugin's config defaults. The entity schema checks plugin configs through `if name then $ref`,
 * where ajv cannot fill defaults (the config object may not exist yet when the branch runs), so each config
 * without errors is run once more through its plugin's own schema.
 */
function fillPluginDefaults(doc: Raw, broken: ReadonlySet<object>): void {
  const fill = (plugins: unknown) => {
    if (!Array.isArray(plugins)) return;
    for (const p of plugins) {
      // A broken plugin's config may be anything, even an object that is also some other field (a YAML alias).
      if (broken.has(p)) continue;
      const validate = pluginValidators.get(p?.name);
      if (validate && p.config && typeof p.config === 'object') validate(p.config);
    }
  };
  const each = (list: unknown, f: (e: Raw) => void) => {
    if (Array.isArray(list)) for (const e of list) if (e !== null && typeof e === 'object') f(e);
  };
  fill(doc.plugins);
  each(doc.services, (s) => {
    fill(s.plugins);
    each(s.routes, (r) => fill(r.plugins));
  });
  each(doc.routes, (r) => fill(r.plugins));
  each(doc.consumers, (c) => fill(c.plugins));
}

/** decK's `_info.defaults` for services and routes, each checked as a partial entity of its kind. */
const DEFAULTS_OF: Record<string, [string, string]> = {
  service: ['services', 'service'],
  route: ['routes', 'route'],
  upstream: ['upstreams', 'upstream'],
  target: ['targets', 'target'],
};

function deckInfo(doc: Raw, out: ErrorObject[], broken: Set<object>): DeckInfo {
  const info: DeckInfo = { defaults: {} };
  const raw = doc._info;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return info;
  if (Array.isArray(raw.select_tags) && raw.select_tags.every((t: unknown) => typeof t === 'string')) info.selectTags = raw.select_tags;
  const defaults = raw.defaults;
  if (defaults === null || typeof defaults !== 'object') return info;
  for (const [key, [kind, definition]] of Object.entries(DEFAULTS_OF)) {
    const given = defaults[key];
    if (given === null || typeof given !== 'object' || Array.isArray(given)) continue;
    dropNulls(given, undefined, undefined); // a null default is no default
    const before = out.length;
    // Checked on a copy: the validator fills Kong's defaults, which must not pass for the file's own values.
    collectSchemaErrors(structuredClone(given), entityValidators.get(definition)!, [], `/_info/defaults/${key}`, out, broken);
    if (out.length === before) info.defaults[kind] = given;
  }
  return info;
}

export interface SchemaCheck {
  issues: ConfigIssue[];
  /** Entities with schema errors of their own: the later checks skip them, and the rest of the file is checked. */
  broken: ReadonlySet<object>;
}

/** Reads the parsed file as Kong does (src/config/prepare.ts), validates it in place (defaults filled) and returns located issues. */
export function validateSchema(source: ConfigSource): SchemaCheck {
  const validateDocument = schemaValidator();
  const doc = source.data as Raw;
  const errors: ErrorObject[] = [];
  const broken = new Set<object>();
  const issues: ConfigIssue[] = [...(source.warnings ?? [])];
  const report: Report = (path, message, severity = 'error') => issues.push(located(source, path, message, path, false, severity));
  const info = deckInfo(doc, errors, broken);
  prepare(doc, rootSchema, info, report);
  applyUpstreamShorthands(doc);
  collectSchemaErrors(doc, validateDocument, entityLists.get('')!, '', errors, broken);
  fillPluginDefaults(doc, broken);
  const seen = new Set<string>();
  for (const err of errors) {
    const issue = translate(err, source);
    if (issue === undefined) continue;
    const key = `${issue.path}\0${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return { issues, broken };
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function translate(err: ErrorObject, source: ConfigSource): ConfigIssue | undefined {
  // Combinator errors repeat what their branches already said.
  if (err.keyword === 'if' || err.keyword === 'allOf') return undefined;
  const path = pointerToPath(err.instancePath);
  let atKey = false;
  let message: string;
  const custom = (err.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  // Only the nulls of required fields are left by prepare(): Kong calls those missing, whatever else they fail.
  if (err.data === null && err.keyword !== 'required') return located(source, path, 'required field missing', path);
  switch (err.keyword) {
    case 'required':
      path.push((err.params as { missingProperty: string }).missingProperty);
      message = 'required field missing';
      return located(source, path, message, path.slice(0, -1));
    case 'additionalProperties': {
      const field = (err.params as { additionalProperty: string }).additionalProperty;
      path.push(field);
      atKey = true;
      const known = Object.keys(((err.parentSchema as { properties?: object })?.properties) ?? {});
      message = unsupportedAt(path) ?? `unknown field${didYouMean(field, known)}`;
      break;
    }
    case 'type':
      message = `expected ${article((err.params as { type: string | string[] }).type)}`;
      break;
    case 'enum':
      message = `expected one of: ${(err.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`;
      break;
    case 'oneOf':
      message = 'expected a name or id string, or {id: …}';
      break;
    case 'pattern':
      message = `invalid value '${String(err.data)}'${typeof custom === 'string' ? `: ${custom}` : ''}${envVarHint(err.data)}`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      message = typeof custom === 'string' ? custom : `value ${err.message ?? ''}`.trim();
      break;
    case 'minLength':
      message = (err.params as { limit: number }).limit === 1 ? 'length must be at least 1' : `${err.message}`;
      break;
    case 'uniqueItems':
      message = 'duplicate items are not allowed';
      break;
    default:
      message = typeof custom === 'string' ? custom : (err.message ?? 'invalid value');
  }
  return located(source, path, message, path, atKey);
}

function located(source: ConfigSource, path: PathSegment[], message: string, at: PathSegment[], atKey = false, severity: Severity = 'error'): ConfigIssue {
  const { line, col } = source.locate(at, atKey);
  return { file: source.file, line, col, path: formatPath(path), message, severity };
}

/**
 * Why the field at the end of `path` is refused though Kong knows it: a Kong entity, field or Redis option this
 * gateway does not implement. The entity kind is the name of the innermost list in the path.
 */
function unsupportedAt(path: PathSegment[]): string | undefined {
  let kind = '';
  let inConfig = false;
  for (let i = 0; i < path.length - 1; i++) {
    if (typeof path[i] === 'string' && typeof path[i + 1] === 'number') {
      kind = path[i] as string;
      inConfig = false;
    } else if (kind === 'plugins' && path[i] === 'config') inConfig = true;
  }
  const field = path[path.length - 1] as string;
  const parent = path[path.length - 2];
  if (inConfig) return parent === 'redis' ? unsupportedRedisField(field) : undefined;
  return parent === undefined || typeof parent === 'number' ? unsupportedField(kind, field) : undefined;
}

function article(types: string | string[]): string {
  // A field that may also be null (not set): the type worth naming is the other one.
  const type = Array.isArray(types) ? types.filter((x) => x !== 'null').join(' or ') : types;
  if (type === 'integer' || type === 'array' || type === 'object') return `an ${type}`;
  return `a ${type}`;
}
