import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ConfigError, type ConfigIssue } from './errors';
import { normalize, type NormalizeOptions } from './normalize';
import { lint } from './lint';
import { buildSnapshot, type Snapshot } from './snapshot';
import { parseConfigText, readConfigFile, type ConfigSource } from './source';
import { validateSchema } from './validate';
import type { EntitySet } from './entities';
import { Router } from '../proxy/router';

export interface CheckedConfig {
  source: ConfigSource;
  entities: EntitySet;
  /** Warnings only: any error throws. */
  warnings: ConfigIssue[];
  /** md5 of the file's text, as Kong's configuration_hash. */
  hash: string;
  /** The router for these entities, built for the checks and reused by the snapshot. */
  router: Router;
}

const inFileOrder = (a: ConfigIssue, b: ConfigIssue) => a.line - b.line || a.col - b.col;
const isError = (i: ConfigIssue) => i.severity !== 'warning';

/**
 * normalize() beside schema errors. The entities with errors are skipped, but YAML aliases can share one object
 * between a broken entity and a sound one, which validation may have filled with the wrong defaults: if that
 * trips the later checks, the schema's errors stand alone, as they are enough to refuse the file.
 */
function normalizeAroundErrors(source: ConfigSource, broken: ReadonlySet<object>, schemaIssues: ConfigIssue[], options: NormalizeOptions): ReturnType<typeof normalize> {
  try {
    return normalize(source, broken, options);
  } catch (err) {
    if (!schemaIssues.some(isError)) throw err;
    throw new ConfigError(schemaIssues.sort(inFileOrder));
  }
}

/**
 * Parses, validates and normalizes; throws ConfigError with every located issue, in file order. The checks after
 * the schema run on the rest of the file when some entities break it, so one run reports every problem.
 * `options.releaseDocument`: `source.data` is emptied along the way (see NormalizeOptions).
 */
export function checkSource(source: ConfigSource, options: NormalizeOptions = {}): CheckedConfig {
  const { issues: schemaIssues, broken } = validateSchema(source);
  const { entities, issues, locations } = normalizeAroundErrors(source, broken, schemaIssues, options);
  const found = [...schemaIssues, ...issues];
  if (found.some(isError)) throw new ConfigError(found.sort(inFileOrder));
  const router = new Router(entities.routes, new Map(entities.services.map((s) => [s.id, s])));
  const warnings = [...found, ...lint(source, entities, locations, router)].sort(inFileOrder);
  return { source, entities, warnings, hash: configHash(source.text), router };
}

/** Kong's configuration_hash: the md5 of the config text (or of its bytes, the same for UTF-8 text). */
export function configHash(text: string | Uint8Array): string {
  return createHash('md5').update(text).digest('hex');
}

const HASH_SLICE = 1024 * 1024;

/** configHash of bytes, 1 MB per turn of the event loop: a 13 MB file's hash in one call holds it ~18 ms. */
export async function configHashInSlices(bytes: Uint8Array): Promise<string> {
  const hash = createHash('md5');
  for (let i = 0; i < bytes.byteLength; i += HASH_SLICE) {
    if (i > 0) await nextTurn();
    hash.update(bytes.subarray(i, i + HASH_SLICE));
  }
  return hash.digest('hex');
}

export function checkConfigFile(file: string): CheckedConfig {
  return checkSource(readConfigFile(file));
}

export function checkConfigText(text: string, file: string): CheckedConfig {
  return checkSource(parseConfigText(text, file));
}

export interface LoadedConfig extends CheckedConfig {
  snapshot: Snapshot;
}

/** Everything from file to a servable snapshot. `previous` lets unchanged plugin state carry over. */
export function loadConfigFile(file: string, previous?: Snapshot): LoadedConfig {
  const checked = checkConfigFile(file);
  return { ...checked, snapshot: buildSnapshot(checked.entities, checked.hash, previous, { router: checked.router }) };
}

export function loadConfigText(text: string, file: string, previous?: Snapshot): LoadedConfig {
  const checked = checkConfigText(text, file);
  return { ...checked, snapshot: buildSnapshot(checked.entities, checked.hash, previous, { router: checked.router }) };
}
