import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { PLUGINS } from '../plugins';
import type { ConfigSource } from './source';
import { formatPath, type ConfigIssue, type PathSegment } from './errors';
import { didYouMean } from './suggest';

// schemas/ sits beside src/ and dist/, so this path holds for both.
const SCHEMA_FILE = join(__dirname, '..', '..', 'schemas', 'kong.schema.json');

/** Kong entities a declarative file may hold that this gateway does not implement yet. */
const UNSUPPORTED_ENTITIES = new Set([
  'upstreams', 'targets', 'certificates', 'snis', 'ca_certificates', 'vaults', 'keys', 'key_sets', 'filter_chains',
  'consumer_groups', 'jwt_secrets', 'hmacauth_credentials', 'oauth2_credentials', 'oauth2_authorization_codes',
  'oauth2_tokens', 'parameters', 'workspaces',
]);

let compiled: ValidateFunction | undefined;
const pluginValidators = new Map<string, ValidateFunction>();
/** Top-level entity lists (`services`, `consumers`, …) and the validator of one of their entries. */
const entryValidators = new Map<string, ValidateFunction>();

/** The entity schema with every plugin's config schema, compiled once per process. */
export function schemaValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary(['x-message']);
  for (const plugin of PLUGINS.values()) ajv.addSchema(plugin.configSchema);
  const schema = require(SCHEMA_FILE) as { $id: string; properties: Record<string, { type?: string; items?: { $ref?: string } }> };
  compiled = ajv.compile(schema);
  for (const plugin of PLUGINS.values()) pluginValidators.set(plugin.name, ajv.getSchema((plugin.configSchema as { $id: string }).$id)!);
  for (const [key, property] of Object.entries(schema.properties)) {
    const ref = property.items?.$ref;
    if (property.type === 'array' && ref !== undefined) entryValidators.set(key, ajv.getSchema(`${schema.$id}${ref}`)!);
  }
  return compiled;
}

/**
 * Runs the schema over the document. ajv gathers the errors of a list's entries by concatenating arrays, which is
 * quadratic in the failing entries (100,000 consumers with the same typo would take minutes): the entries of each
 * top-level list are validated one by one, the rest of the document without them.
 */
function schemaErrors(doc: Raw): ErrorObject[] {
  const validate = schemaValidator();
  const lists = new Map<string, unknown[]>();
  for (const key of entryValidators.keys()) {
    const list = doc[key];
    if (Array.isArray(list)) {
      lists.set(key, list);
      doc[key] = [];
    }
  }
  const errors: ErrorObject[] = validate(doc) ? [] : [...validate.errors!];
  for (const [key, list] of lists) {
    doc[key] = list;
    const validateEntry = entryValidators.get(key)!;
    for (let i = 0; i < list.length; i++) {
      if (validateEntry(list[i])) continue;
      for (const e of validateEntry.errors!) errors.push({ ...e, instancePath: `/${key}/${i}${e.instancePath}` });
    }
  }
  return errors;
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
  const errors = schemaErrors(source.data as Raw);
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
      message = `expected ${article((err.params as { type: string }).type)}`;
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

function article(type: string): string {
  if (type === 'integer' || type === 'array' || type === 'object') return `an ${type}`;
  return `a ${type}`;
}
