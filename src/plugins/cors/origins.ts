/**
 * Kong's `config.origins`, compiled: `*`, one plain origin sent as it is, or a list of plain origins (compared once
 * normalized) and regexes (an entry with any character outside `A-Za-z0-9.:/-`). A regex without `:` is matched
 * against the request origin's host, one with `:` against its scheme://host[:port]; either must match all of it.
 */

/** An origin as Kong compares it: scheme://host[:port] (the scheme's default port dropped), and its host. */
export interface NormalizedOrigin {
  domain: string;
  host: string;
}

const SCHEME = /^([A-Za-z0-9][A-Za-z0-9+.-]*):/;
const PLAIN = /^[A-Za-z0-9.:/-]+$/;

/** Kong's normalize_origin, read as LuaSocket's url.parse reads a URL; a value with no `//authority` stays whole. */
export function normalizeOrigin(origin: string): NormalizedOrigin {
  const scheme = SCHEME.exec(origin);
  const rest = scheme === null ? origin : origin.slice(scheme[0].length);
  if (!rest.startsWith('//')) return { domain: origin, host: origin };
  const slash = rest.indexOf('/', 2);
  let authority = rest.slice(2, slash === -1 ? rest.length : slash);
  const at = authority.indexOf('@');
  if (at !== -1) authority = authority.slice(at + 1);
  let port = '';
  const portAt = /:([^:\]]*)$/.exec(authority);
  if (portAt !== null) {
    port = portAt[1];
    authority = authority.slice(0, portAt.index);
  }
  if (authority === '') return { domain: origin, host: origin };
  const bracketed = authority.startsWith('[') && authority.endsWith(']');
  const host = bracketed ? authority.slice(1, -1) : authority;
  const name = scheme?.[1];
  if ((name === 'http' && port === '80') || (name === 'https' && port === '443')) port = '';
  // IPv6 keeps its brackets in the origin sent back (Kong drops them, which no browser would accept).
  return { domain: `${name === undefined ? '' : `${name}://`}${authority}${port === '' ? '' : `:${port}`}`, host };
}

/** Whether Kong reads an entry as a regex rather than a plain origin. */
export function isRegexOrigin(entry: string): boolean {
  return entry !== '*' && !PLAIN.test(entry);
}

/** Why an origins entry is refused (it is neither `*` nor a valid regex), or undefined. */
export function originProblem(entry: string): string | undefined {
  if (entry === '*') return undefined;
  try {
    new RegExp(entry);
    return undefined;
  } catch (err) {
    return `'${entry}' is not a valid regex (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`;
  }
}

export type Origins =
  | { kind: 'any' }
  /** One plain entry: sent back as it is, whatever the request's Origin. */
  | { kind: 'single'; value: string }
  | { kind: 'list'; any: boolean; exact: ReadonlySet<string>; byHost: RegExp[]; byDomain: RegExp[] };

/** One regex for many entries; entries with backreferences keep their own, as numbering changes once joined. */
function joined(entries: string[]): RegExp[] {
  if (entries.length === 0) return [];
  const alone = entries.filter((e) => /\\[1-9]|\\k</.test(e));
  const together = entries.filter((e) => !alone.includes(e));
  const out = alone.map((e) => new RegExp(`^(?:${e})$`));
  if (together.length > 0) out.push(new RegExp(`^(?:${together.map((e) => `(?:${e})`).join('|')})$`));
  return out;
}

export function compileOrigins(origins: readonly string[] | null | undefined): Origins {
  const list = origins ?? [];
  if (list.length === 0 || (list.length === 1 && list[0] === '*')) return { kind: 'any' };
  if (list.length === 1 && !isRegexOrigin(list[0])) return { kind: 'single', value: list[0] };
  const exact = new Set<string>();
  const byHost: string[] = [];
  const byDomain: string[] = [];
  for (const entry of list) {
    if (entry === '*') continue;
    if (!isRegexOrigin(entry)) exact.add(normalizeOrigin(entry).domain);
    else (entry.includes(':') ? byDomain : byHost).push(entry);
  }
  return { kind: 'list', any: list.includes('*'), exact, byHost: joined(byHost), byDomain: joined(byDomain) };
}

function anyMatches(regexes: RegExp[], subject: string): boolean {
  for (let i = 0; i < regexes.length; i++) if (regexes[i].test(subject)) return true;
  return false;
}

/** The origin to allow for a request Origin a list accepts (its normalized form), or undefined. */
export function acceptedOrigin(o: Extract<Origins, { kind: 'list' }>, origin: string): string | undefined {
  const n = normalizeOrigin(origin);
  if (o.exact.has(n.domain) || anyMatches(o.byHost, n.host) || anyMatches(o.byDomain, n.domain)) return n.domain;
  return undefined;
}
