// Body rules of Kong's request-transformer (access.lua transform_*_body), on a body read whole. Each returns the new
// body, or undefined to leave the body as it came (nothing changed, or a body it cannot read).

import { boundaryOf, multipartParts } from '../key-auth/multipart';
import { appendValue, encodeArgs, parseArgs, type ArgValue, type Args } from './args';
import type { Pair, Rules } from './rules';
import { fromBytes, render, type TemplateValues } from './template';

export type BodyKind = 'json' | 'multipart' | 'form';

/** Kong's get_content_type: a substring search, JSON first. */
export function bodyKind(contentType: string | string[] | undefined): BodyKind | undefined {
  if (typeof contentType !== 'string') return undefined;
  const t = contentType.toLowerCase();
  if (t.includes('application/json')) return 'json';
  if (t.includes('multipart/form-data')) return 'multipart';
  if (t.includes('application/x-www-form-urlencoded')) return 'form';
  return undefined;
}

/** Lua's truthiness, which Kong's `if parameters[name]` tests: only absent (nil) and false are not set. */
export const isSet = (v: unknown) => v !== undefined && v !== false;

export type Json = Record<string, unknown>;

/** Sets an own property, `__proto__` included (a plain assignment would set the prototype). */
export function setOwn(o: Json, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}
const getOwn = (o: Json, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/** Renders a value into text for a JSON document. */
const text = (p: Pair, values: TemplateValues | undefined) => fromBytes(render(p.value!, values));

export function transformJson(body: Buffer, r: Rules, values: TemplateValues | undefined): Buffer | undefined {
  const hasBody = body.length > 0;
  let doc: Json = {};
  if (hasBody) {
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return undefined; // Kong leaves a body it cannot decode as it is
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  }
  let changed = false;
  if (hasBody) {
    for (const name of r.remove) {
      delete doc[fromBytes(name)];
      changed = true;
    }
    for (const p of r.rename) {
      const from = fromBytes(p.name);
      const to = text(p, values);
      const v = getOwn(doc, from);
      if (from === to || !isSet(v)) continue;
      delete doc[from];
      setOwn(doc, to, v);
      changed = true;
    }
    for (const p of r.replace) {
      const name = fromBytes(p.name);
      if (!isSet(getOwn(doc, name))) continue;
      setOwn(doc, name, text(p, values));
      changed = true;
    }
  }
  for (const p of r.add) {
    const name = fromBytes(p.name);
    if (isSet(getOwn(doc, name))) continue;
    setOwn(doc, name, text(p, values));
    changed = true;
  }
  for (const p of r.append) {
    const name = fromBytes(p.name);
    setOwn(doc, name, appendValue(getOwn(doc, name), text(p, values)));
    changed = true;
  }
  return changed ? Buffer.from(JSON.stringify(doc)) : undefined;
}

function renameArg(args: Args, from: string, to: string): boolean {
  const v = args.get(from);
  if (from === to || v === undefined) return false;
  args.delete(from);
  args.set(to, v);
  return true;
}

export function transformForm(body: Buffer, r: Rules, values: TemplateValues | undefined): Buffer | undefined {
  const hasBody = body.length > 0;
  const args = parseArgs(body.toString('latin1'));
  let changed = false;
  if (hasBody) {
    for (const name of r.remove) {
      args.delete(name);
      changed = true;
    }
    for (const p of r.rename) if (renameArg(args, p.name, render(p.value!, values))) changed = true;
    for (const p of r.replace) {
      if (!args.has(p.name)) continue;
      args.set(p.name, render(p.value!, values));
      changed = true;
    }
  }
  for (const p of r.add) {
    if (args.has(p.name)) continue;
    args.set(p.name, render(p.value!, values));
    changed = true;
  }
  for (const p of r.append) {
    args.set(p.name, appendValue(args.get(p.name), render(p.value!, values)) as ArgValue);
    changed = true;
  }
  return changed ? Buffer.from(encodeArgs(args, false), 'latin1') : undefined;
}

/** A part of a multipart body: as it came (its bytes) or a field set by a rule. */
type Field = { name: string | undefined; raw: Buffer; value: Buffer } | { name: string; raw: undefined; value: Buffer };

/** A form-data name, quoted as browsers do: `"`, CR and LF percent-encoded. */
const quoteName = (name: string) => name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/**
 * Kong's multipart rules, with lua-multipart's behaviour: rename, remove, replace, add in that order (Kong has no
 * append for multipart bodies); a field a rule sets is a plain text field at the end. A body that does not parse
 * to its closing delimiter is left as it came.
 */
export function transformMultipart(body: Buffer, contentType: string, r: Rules, values: TemplateValues | undefined): Buffer | undefined {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) return undefined;
  const hasBody = body.length > 0;
  const parsed = multipartParts(body, boundary);
  if (hasBody && !parsed.complete) return undefined;
  let fields: Field[] = parsed.parts.map((p) => ({ name: p.name, raw: body.subarray(p.start, p.end), value: body.subarray(p.valueStart, p.valueEnd) }));
  const delimiter = `\r\n--${boundary}`;
  const has = (name: string) => fields.some((f) => f.name === name);
  const remove = (name: string) => (fields = fields.filter((f) => f.name !== name));
  /** lua-multipart's set_simple: the first field of that name takes the value, else a new field is added. */
  const set = (name: string, value: Buffer) => {
    if (value.includes(delimiter)) return false; // would end the part early: never written
    const i = fields.findIndex((f) => f.name === name);
    const field: Field = { name, raw: undefined, value };
    if (i === -1) fields.push(field);
    else fields[i] = field;
    return true;
  };
  const valueOf = (p: Pair) => Buffer.from(render(p.value!, values), 'latin1');
  let changed = false;
  if (hasBody) {
    for (const p of r.rename) {
      const to = render(p.value!, values);
      const field = fields.find((f) => f.name === p.name);
      if (field === undefined || p.name === to) continue;
      if (set(to, field.value)) remove(p.name);
      changed = true;
    }
    for (const name of r.remove) {
      remove(name);
      changed = true;
    }
    for (const p of r.replace) {
      if (!has(p.name)) continue;
      remove(p.name);
      set(p.name, valueOf(p));
      changed = true;
    }
  }
  for (const p of r.add) {
    if (has(p.name)) continue;
    set(p.name, valueOf(p));
    changed = true;
  }
  if (!changed) return undefined;
  const out: Buffer[] = [];
  for (const f of fields) {
    if (f.raw !== undefined) out.push(f.raw);
    else out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(f.name)}"\r\n\r\n`, 'latin1'), f.value, Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(out);
}
