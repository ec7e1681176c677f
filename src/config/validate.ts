import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { PLUGINS, QUEUE_SCHEMA } from '../plugins';
import type { ConfigSource } from './source';
import { formatPath, type ConfigIssue, type PathSegment } from './errors';
import { didYouMean } from './suggest';

// schemas/ sits beside src/ and dist/, so this path holds for both.
const SCHEMA_FILE = join(__dirname, '..', '..', 'schemas', 'kong.schema.json');

/** Kong entities a declarative file may hold that this gateway does not implement yet. */
const UNSUPPORTED_ENTITIES = new Set([
  'upstreams', 'targets', 'certificates', 'snis', 'ca_certificates', 'vaults', 'keys', 'key_sets', 'filter_chains',
  'consumer_groups', 'oauth2_credentials', 'oauth2_authorization_codes',
  'oauth2_tokens', 'parameters', 'workspaces',
]);

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

interface SchemaObject {
  type?: string;
  items?: { $ref?: string };
  properties?: Record<string, SchemaObject>;
}

function listsOf(schema: SchemaObject | undefined): EntityList[] {
  const lists: EntityList[] = [];
  for (const [key, p] of Object.entries(schema?.properties ?? {})) {
    const ref = p.items?.$ref;
    if (p.type === 'array' && ref?.startsWith('#/definitions/')) lists.push({ key, entry: ref.slice('#/definitions/'.length) });
  }
  return lists;
}

/** The entity schema with every plugin's config schema, compiled once per process. */
export function schemaValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary(['x-message']);
  ajv.addSchema(QUEUE_SCHEMA);
  for (const plugin of PLUGINS.values()) ajv.addSchema(plugin.configSchema);
  const schema = require(SCHEMA_FILE) as SchemaObject & { $id: string; definitions: Record<string, SchemaObject> };
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
 * Collects the schema errors of `value` (at JSON pointer `at`). ajv gathers the errors of a list's entries by
 * concatenating arrays, which is quadratic in the failing entries (100,000 consumers with the same typo would take
 * minutes): every entity list is taken out and its entries are validated one by one, each with its own validator.
 */
function collectSchemaErrors(value: unknown, validate: ValidateFunction, lists: EntityList[], at: string, out: ErrorObject[]): void {
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
  if (!validate(value)) for (const e of validate.errors!) out.push(at === '' ? e : { ...e, instancePath: at + e.instancePath });
  for (const [list, entries] of taken) {
    container[list.key] = entries;
    const validateEntry = entityValidators.get(list.entry)!;
    const nested = entityLists.get(list.entry)!;
    for (let i = 0; i < entries.length; i++) collectSchemaErrors(entries[i], validateEntry, nested, `${at}/${list.key}/${i}`, out);
  }
}

type Raw = Record<string, any>;

/**
 * Fills each plugin's config defaults. The entity schema checks plugin configs through `if name then $ref`,
 * where ajv cannot fill defaults (the config object may not exist yet when the branch runs), so each valid
 * config is run once more through its plugin's own schema.
 */
function fillPluginDefaults(doc: Raw): void {
  const fill = (plugins: Raw[] | undefined) => {
    for (const p of plugins ?? []) {
      const validate = pluginValidators.get(p.name);
      if (validate && p.config && typeof p.config === 'object') validate(p.config);
    }
  };
  fill(doc.plugins);
  for (const s of doc.services ?? []) {
    fill(s.plugins);
    for (const r of s.routes ?? []) fill(r.plugins);
  }
  for (const r of doc.routes ?? []) fill(r.plugins);
  for (const c of doc.consumers ?? []) fill(c.plugins);
}

/** Validates the parsed file in place (defaults filled) and returns located issues. */
export function validateSchema(source: ConfigSource): ConfigIssue[] {
  const errors: ErrorObject[] = [];
  collectSchemaErrors(source.data, schemaValidator(), entityLists.get('')!, '', errors);
  if (errors.length === 0) {
    fillPluginDefaults(source.data as Raw);
    return [];
  }
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    const issue = translate(err, source);
    if (issue === undefined) continue;
    const key = `${issue.path}\0${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
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
  switch (err.keyword) {
    case 'required':
      path.push((err.params as { missingProperty: string }).missingProperty);
      message = 'required field missing';
      return located(source, path, message, path.slice(0, -1));
    case 'additionalProperties': {
      const field = (err.params as { additionalProperty: string }).additionalProperty;
      path.push(field);
      atKey = true;
      if (path.length === 1 && UNSUPPORTED_ENTITIES.has(field)) {
        message = `'${field}' entities are not supported by this gateway yet`;
      } else {
        const known = Object.keys(((err.parentSchema as { properties?: object })?.properties) ?? {});
        message = `unknown field${didYouMean(field, known)}`;
      }
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
      message = typeof custom === 'string' ? `invalid value '${String(err.data)}': ${custom}` : `invalid value '${String(err.data)}'`;
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

function located(source: ConfigSource, path: PathSegment[], message: string, at: PathSegment[], atKey = false): ConfigIssue {
  const { line, col } = source.locate(at, atKey);
  return { file: source.file, line, col, path: formatPath(path), message, severity: 'error' };
}

function article(types: string | string[]): string {
  // A field that may also be null (not set): the type worth naming is the other one.
  const type = Array.isArray(types) ? types.filter((x) => x !== 'null').join(' or ') : types;
  if (type === 'integer' || type === 'array' || type === 'object') return `an ${type}`;
  return `a ${type}`;
}
