// A fast path for YAML config files: js-yaml reads a large plain document about ten times faster than the YAML
// library that locates errors, with a fraction of its memory. It only answers when its result is certain to
// equal the YAML 1.1 reading's (src/config/source.ts): anything it might represent differently makes it step
// aside (undefined), and the full reading runs. Stepping aside: tags, anchors, aliases, directives, more
// than one document, a repeated key, a key that is not a string (or is `__proto__`), a merge key (`<<`), a
// plain scalar in one of YAML 1.1's number, time or special-float forms beyond the plainest ones, and
// anything js-yaml itself refuses (errors are always reported by the full reading, with their positions).
import { constructFromEvents, defineMappingTag, defineScalarTag, EVENT_ID, NOT_RESOLVED, parseEvents, Schema, seqTag, strTag, type Event } from 'js-yaml';

/** Thrown from inside js-yaml's constructor to stop at the first scalar it must not decide. */
class StepAside extends Error {}

const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const TRUE = /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const FALSE = /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const DECIMAL = /^[-+]?(?:0|[1-9][0-9]*)$/;
const PLAIN_FLOAT = /^[-+]?[0-9]+\.[0-9]+$/;
// Every other plain scalar the YAML 1.1 reading turns into something not a string (binary, octal, hex,
// underscored, exponent and special floats, sexagesimal, timestamps, the merge key): left to that reading.
const OTHER_TYPED =
  /^[-+]?(?:0b[0-1_]+|0[0-7_]+|[0-9][0-9_]*|0x[0-9a-fA-F_]+|\.(?:inf|Inf|INF)|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+|(?:[0-9][0-9_]*)?\.[0-9_]*|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$|^(?:\.nan|\.NaN|\.NAN|<<)$|^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/;

/** A plain scalar as the YAML 1.1 reading resolves it (null, booleans, plain numbers), or a string. */
const plainScalar = defineScalarTag<unknown>('tag:gateway,plain', {
  implicit: true,
  implicitFirstChars: null,
  identify: () => false,
  resolve(source) {
    if (NULL.test(source)) return null;
    if (TRUE.test(source)) return true;
    if (FALSE.test(source)) return false;
    if (DECIMAL.test(source)) {
      // As the YAML library computes it (so `-0` is -0).
      const n = parseInt(source[0] === '-' || source[0] === '+' ? source.slice(1) : source, 10);
      return source[0] === '-' ? -1 * n : n;
    }
    if (PLAIN_FLOAT.test(source)) return parseFloat(source);
    if (OTHER_TYPED.test(source)) throw new StepAside();
    return NOT_RESOLVED;
  },
});

/** Plain objects with string keys, each key once, `__proto__` never (the YAML reading defines it as data). */
const stringKeyedMap = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: () => ({}),
  addPair(map, key, value) {
    if (typeof key !== 'string' || key === '__proto__' || Object.hasOwn(map, key)) throw new StepAside();
    map[key] = value;
    return '';
  },
  has: (map, key) => typeof key === 'string' && Object.hasOwn(map, key),
  keys: (map) => Object.keys(map),
  get: (map, key) => map[key as string],
  identify: () => false,
});

const SCHEMA = new Schema([strTag, seqTag, stringKeyedMap, plainScalar]);

/** Nothing in the events that js-yaml could read differently: no tag, anchor, alias, directive or second document. */
function plainEvents(events: readonly Event[]): boolean {
  let documents = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.type) {
      case EVENT_ID.DOCUMENT:
        if (++documents > 1 || e.directives.length > 0) return false;
        break;
      case EVENT_ID.SCALAR:
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        if (e.tagStart !== -1 || e.anchorStart !== -1) return false;
        break;
      case EVENT_ID.ALIAS:
        return false;
    }
  }
  return documents === 1;
}

/** The document as the YAML 1.1 reading would give it, when it is one plain object; otherwise undefined. */
export function readPlainYaml(text: string, maxDepth: number): Record<string, unknown> | undefined {
  // YAML 1.1 also breaks lines at NEL, LS and PS: such a text is left to the full reading.
  if (/[\u0085\u2028\u2029]/.test(text)) return undefined;
  try {
    // js-yaml counts depth from 1 where the YAML reading counts levels: one more, and the caller checks exactly.
    const events = parseEvents(text, { maxDepth: maxDepth + 1 });
    if (!plainEvents(events)) return undefined;
    const [data] = constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: 0 });
    return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
