// Query strings and form bodies as nginx's ngx.decode_args / ngx.encode_args read and write them: `+` is a space,
// a name without `=` is a flag (true), a repeated name holds a list. Strings are bytes (one char per byte).

export type ArgValue = string | true | Array<string | true>;
export type Args = Map<string, ArgValue>;

function decode(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  s = s.replace(/\+/g, ' ');
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Parses `a=1&b&a=2` (bytes) into its arguments, in order of first appearance. */
export function parseArgs(raw: string | null): Args {
  const args: Args = new Map();
  if (raw === null || raw === '') return args;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq === -1 ? part : part.slice(0, eq));
    if (name === '') continue;
    const value: string | true = eq === -1 ? true : decode(part.slice(eq + 1));
    const current = args.get(name);
    if (current === undefined) args.set(name, value);
    else if (Array.isArray(current)) current.push(value);
    else args.set(name, [current, value]);
  }
  return args;
}

export function cloneArgs(args: Args): Args {
  const copy: Args = new Map();
  for (const [k, v] of args) copy.set(k, Array.isArray(v) ? [...v] : v);
  return copy;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes every byte but RFC 3986's unreserved characters. */
export function escapeArg(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    if (UNRESERVED.test(s[i])) continue;
    out += s.slice(from, i) + '%' + s.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

function encodeOne(name: string, value: ArgValue): string {
  const k = escapeArg(name);
  if (value === true) return k;
  if (!Array.isArray(value)) return `${k}=${escapeArg(value)}`;
  return value.map((v) => (v === true ? k : `${k}=${escapeArg(v)}`)).join('&');
}

/**
 * Encodes arguments. `sorted`: names in byte order, as Kong's kong.service.request.set_query writes a query string
 * (make_ordered_args); otherwise in order (Kong's form bodies come in Lua's table order, which is none).
 */
export function encodeArgs(args: Args, sorted: boolean): string {
  const parts: string[] = [];
  for (const [name, value] of args) parts.push(encodeOne(name, value));
  if (sorted) parts.sort();
  return parts.join('&');
}

/**
 * Kong's append_value: a string becomes a list of it and the new value; a list grows; nothing becomes a one-value
 * list. Kong drops a flag (or a JSON number, boolean, null or object) it appends to; it is kept here.
 */
export function appendValue<T>(current: T | T[] | undefined, value: T): T | T[] {
  if (current === undefined) return [value];
  if (Array.isArray(current)) {
    current.push(value);
    return current;
  }
  return [current, value];
}
