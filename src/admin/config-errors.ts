import { parseConfigText } from '../config/source';
import { formatPath, type ConfigIssue, type PathSegment } from '../config/errors';
import { ERROR_CODES } from './http';
import { ENTITY_NAMES } from './views';

const ENTITY_ARRAYS = new Set<string>(ENTITY_NAMES);

/** `services[0].routes[1].paths[0]` → ['services', 0, 'routes', 1, 'paths', 0]. */
function segmentsOf(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/** Length of the path's leading run of `<entity array>[<index>]` pairs: the entity an issue belongs to. */
function entityPrefixLength(segs: PathSegment[]): number {
  let i = 0;
  while (i + 1 < segs.length && typeof segs[i] === 'string' && ENTITY_ARRAYS.has(segs[i] as string) && typeof segs[i + 1] === 'number') i += 2;
  return i;
}

type ErrorTree = { [key: string]: string | string[] | ErrorTree | Array<ErrorTree | string | undefined> };

/**
 * Kong's nested error table: it mirrors the input, arrays stay arrays (holes are null in JSON), entity-level
 * messages sit under "@entity", and errors that belong nowhere (a parse error) under "error".
 */
function errorTree(issues: readonly ConfigIssue[]): ErrorTree {
  const root: ErrorTree = {};
  for (const issue of issues) {
    const segs = segmentsOf(issue.path);
    if (segs.length === 0) {
      root.error ??= issue.message;
      continue;
    }
    const entityLevel = entityPrefixLength(segs) === segs.length;
    const keys: PathSegment[] = entityLevel ? [...segs, '@entity'] : segs;
    let node: any = root;
    for (let i = 0; i < keys.length - 1 && node !== undefined; i++) {
      if (node[keys[i]] === undefined) node[keys[i]] = typeof keys[i + 1] === 'number' ? [] : {};
      node = typeof node[keys[i]] === 'object' ? node[keys[i]] : undefined; // a field already holding a message
    }
    if (node === undefined) continue;
    const last = keys[keys.length - 1];
    if (entityLevel) (node[last] ??= []).push(issue.message);
    else node[last] ??= issue.message;
  }
  return root;
}

/** The table as Kong prints it in `message` (penlight's pretty.write, no spaces): `{services={{host="…"}}}`. */
function luaLiteral(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) {
    const parts: string[] = [];
    let positional = true; // after a hole, Lua shows explicit 1-based indices
    for (let i = 0; i < v.length; i++) {
      if (v[i] === undefined || v[i] === null) positional = false;
      else parts.push(positional ? luaLiteral(v[i]) : `[${i + 1}]=${luaLiteral(v[i])}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (v !== null && typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    const parts = Object.keys(obj)
      .sort()
      .map((k) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `[${JSON.stringify(k)}]`}=${luaLiteral(obj[k])}`);
    return `{${parts.join(',')}}`;
  }
  return String(v);
}

/**
 * Kong's `flattened_errors`: one record per entity with errors. The entity itself is not echoed back: it may hold
 * credentials or plugin secrets, and error bodies never carry secrets.
 */
function flattenedErrors(issues: readonly ConfigIssue[], text: string): object[] {
  let data: any;
  try {
    data = parseConfigText(text, 'config').data;
  } catch {
    return [];
  }
  const byEntity = new Map<string, { errors: object[] }>();
  for (const issue of issues) {
    const segs = segmentsOf(issue.path);
    const n = entityPrefixLength(segs);
    if (n === 0) continue;
    const key = formatPath(segs.slice(0, n));
    let record = byEntity.get(key);
    if (record === undefined) {
      const raw = segs.slice(0, n).reduce((node: any, s) => node?.[s], data) ?? {};
      record = {
        entity_type: String(segs[n - 2]).replace(/s$/, ''),
        entity_name: raw.name ?? raw.username ?? null,
        entity_id: raw.id ?? null,
        entity_tags: raw.tags ?? null,
        errors: [],
      } as { errors: object[] };
      byEntity.set(key, record);
    }
    record.errors.push(
      n === segs.length ? { type: 'entity', message: issue.message } : { type: 'field', field: formatPath(segs.slice(n)), message: issue.message },
    );
  }
  return [...byEntity.values()];
}

/** The 400 body of a rejected POST /config, in Kong's shape (code 14, `fields` mirroring the input). */
export function declarativeConfigError(issues: readonly ConfigIssue[], flattenFrom?: string): object {
  const errors = issues.filter((i) => i.severity !== 'warning');
  const fields = errorTree(errors);
  const body: Record<string, unknown> = {
    ...ERROR_CODES.declarativeConfig,
    message: `declarative config is invalid: ${luaLiteral(fields)}`,
    fields,
  };
  if (flattenFrom !== undefined) body.flattened_errors = flattenedErrors(errors, flattenFrom);
  return body;
}
