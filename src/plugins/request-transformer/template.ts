// Kong's request-transformer values are Penlight templates: `$(expr)` is replaced by the value of `expr`, a Lua
// expression, and everything else is literal text (kong/plugins/request-transformer/access.lua). Here only the
// forms Kong documents are accepted, parsed once when the config is loaded, and never evaluated as code:
//   $(headers.name)  $(headers["name"])  $(query_params.name)  $(query_params["name"])
//   $(uri_captures.name)  $(uri_captures["name"])  $(uri_captures[1])
//   $('literal text')            (Kong's way to escape a template: renders `literal text` as is)
//   $(a or b or 'default')       (the first that is set)
// Strings are handled as bytes (one char per byte, as Lua strings are): literal text is stored UTF-8 encoded, and
// each sink (header, query string, JSON) converts as it needs.

/** Where a value comes from. */
type Source = 'headers' | 'query_params' | 'uri_captures';

type Term = { kind: 'literal'; value: string } | { kind: Source; key: string | number };

/** A `$(…)` expression: `or`-ed terms, the first set one wins. */
type Expr = Term[];

export interface Template {
  /** Literal text and expressions in order. */
  readonly pieces: ReadonlyArray<string | Expr>;
  /** The template as a constant, when it has no expression that reads the request. */
  readonly constant: string | undefined;
  readonly uses: ReadonlySet<Source>;
}

/** The request values a template reads, loaded on first use (as Kong's template environment). */
export interface TemplateValues {
  header(name: string): string | undefined;
  queryParam(name: string): string | undefined;
  capture(key: string | number): string | undefined;
}

export class TemplateError extends Error {}

/** UTF-8 bytes of `s`, one char per byte. */
export function toBytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** The text whose UTF-8 bytes `s` holds, one char per byte. */
export function fromBytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

const SOURCES: ReadonlySet<string> = new Set(['headers', 'query_params', 'uri_captures']);

/** Parses one `$(…)` expression (the text between the parentheses). */
function parseExpr(text: string): Expr {
  let i = 0;
  const fail = (why: string): never => {
    throw new TemplateError(`'$(${text})': ${why}`);
  };
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const ident = (): string | undefined => {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (m === null) return undefined;
    i += m[0].length;
    return m[0];
  };
  const stringLiteral = (): string => {
    const quote = text[i++];
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unfinished string');
      const c = text[i++];
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++];
      const escaped: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
      if (e === undefined || !(e in escaped)) fail(`unsupported escape '\\${e ?? ''}' in a string`);
      out += escaped[e];
    }
  };
  const term = (): Term => {
    space();
    if (text[i] === '"' || text[i] === "'") return { kind: 'literal', value: toBytes(stringLiteral()) };
    const name = ident();
    if (name === undefined) fail('expected headers, query_params, uri_captures or a quoted string');
    if (name === 'shared') fail("kong.ctx.shared is not available: no plugin of this gateway sets it");
    if (!SOURCES.has(name!)) fail(`'${name}' is not supported (only headers, query_params, uri_captures and quoted strings; templates are not evaluated as Lua)`);
    const source = name as Source;
    space();
    let key: string | number;
    if (text[i] === '.') {
      i++;
      space();
      const field = ident();
      if (field === undefined) fail(`expected a name after '${source}.'`);
      const dashed = /^-[A-Za-z0-9_-]*/.exec(text.slice(i));
      if (dashed !== null) fail(`a name with '-' is written ${source}["${field}${dashed[0]}"]`);
      key = field!;
    } else if (text[i] === '[') {
      i++;
      space();
      if (text[i] === '"' || text[i] === "'") key = toBytes(stringLiteral());
      else {
        const m = /^\d+/.exec(text.slice(i));
        if (m === null || source !== 'uri_captures') fail(`expected a quoted name${source === 'uri_captures' ? ' or a number' : ''} in ${source}[…]`);
        i += m![0].length;
        key = Number(m![0]);
      }
      space();
      if (text[i++] !== ']') fail("expected ']'");
    } else {
      return fail(`expected '.' or '[' after '${source}'`);
    }
    return { kind: source, key: source === 'headers' ? String(key).toLowerCase() : key };
  };
  const terms: Term[] = [term()];
  for (;;) {
    space();
    if (i >= text.length) return terms;
    const word = ident();
    if (word !== 'or') fail(`unexpected '${text.slice(i - (word?.length ?? 0))}' (only 'or' may join values)`);
    terms.push(term());
  }
}

/**
 * Compiles a template. Like Penlight, `$(` opens an expression only when its parentheses balance (quotes are not
 * considered), and a `$(` that never closes is literal text.
 */
export function compileTemplate(text: string): Template {
  const pieces: Array<string | Expr> = [];
  const uses = new Set<Source>();
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('$(', i);
    const close = open === -1 ? -1 : balancedEnd(text, open + 1);
    if (close === -1) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, open);
    const expr = parseExpr(text.slice(open + 2, close));
    if (expr.length === 1 && expr[0].kind === 'literal') literal += fromBytes(expr[0].value);
    else {
      if (literal !== '') pieces.push(toBytes(literal));
      literal = '';
      pieces.push(expr);
      for (const t of expr) if (t.kind !== 'literal') uses.add(t.kind);
    }
    i = close + 1;
  }
  if (literal !== '') pieces.push(toBytes(literal));
  const constant = pieces.length === 0 ? '' : pieces.length === 1 && typeof pieces[0] === 'string' ? pieces[0] : undefined;
  return { pieces, constant, uses };
}

/** The index of the `)` that closes the `(` at `open`, or -1. */
function balancedEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

function valueOf(term: Term, values: TemplateValues): string | undefined {
  switch (term.kind) {
    case 'literal':
      return term.value;
    case 'headers':
      return values.header(term.key as string);
    case 'query_params':
      return values.queryParam(term.key as string);
    case 'uri_captures':
      return values.capture(term.key);
  }
}

/** The template's text for this request (bytes, one char per byte); an unset value renders as ''. */
export function render(t: Template, values: TemplateValues | undefined): string {
  if (t.constant !== undefined) return t.constant;
  let out = '';
  for (const piece of t.pieces) {
    if (typeof piece === 'string') {
      out += piece;
      continue;
    }
    for (const term of piece) {
      const v = valueOf(term, values!);
      if (v !== undefined) {
        out += v;
        break;
      }
    }
  }
  return out;
}
