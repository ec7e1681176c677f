// A fast path for YAML config files: js-yaml reads a large plain document about ten times faster than the YAML
// library that locates errors, with a fraction of its memory. It only answers when its result is certain to
// equal the YAML 1.1 reading's (src/config/source.ts): anything it might represent differently makes it step
// aside (undefined), and the full reading runs. Stepping aside: tags, anchors, aliases, directives, more
// than one document, a repeated key, a key that is not a string (or is `__proto__`), a merge key (`<<`), a
// plain scalar in one of YAML 1.1's number, time or special-float forms beyond the plainest ones, and
// anything js-yaml itself refuses (errors are always reported by the full reading, with their positions).
import { COLLECTION_STYLE, constructFromEvents, defineMappingTag, defineScalarTag, EVENT_ID, NOT_RESOLVED, parseEvents, SCALAR_STYLE, Schema, seqTag, strTag, type Event, type ScalarEvent } from 'js-yaml';
import { findBigSequences, type BigSequence } from './yaml-pieces';

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

/** Whether a plain key of the top-level block mapping, with an empty value, starts at each of `offsets`. */
function emptyKeysAt(events: readonly Event[], offsets: readonly number[]): boolean {
  const top = events[1];
  if (top?.type !== EVENT_ID.MAPPING || top.style !== COLLECTION_STYLE.BLOCK) return false;
  const missing = new Set(offsets);
  let depth = 0;
  let key: ScalarEvent | undefined;
  let atKey = true;
  for (let i = 2; i < events.length && missing.size > 0; i++) {
    const e = events[i];
    if (depth === 0) {
      if (e.type === EVENT_ID.POP) break;
      if (atKey) key = e.type === EVENT_ID.SCALAR && e.style === SCALAR_STYLE.PLAIN ? e : undefined;
      else if (key !== undefined && e.type === EVENT_ID.SCALAR && e.valueStart === -1) missing.delete(key.valueStart);
      atKey = !atKey;
    }
    if (e.type === EVENT_ID.MAPPING || e.type === EVENT_ID.SEQUENCE) depth++;
    else if (e.type === EVENT_ID.POP) depth--;
  }
  return missing.size === 0;
}

/**
 * The document's one value; StepAside when it holds something the plain reading must not decide; an error when
 * js-yaml refuses it, or when a top-level key with an empty value does not start at each of `emptyKeys`.
 */
function construct(text: string, maxDepth: number, emptyKeys: readonly number[] = []): unknown {
  const events = parseEvents(text, { maxDepth });
  if (!plainEvents(events)) throw new StepAside();
  if (emptyKeys.length > 0 && !emptyKeysAt(events, emptyKeys)) throw new Error('a key line cut at is not a top-level key');
  return constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: 0 })[0];
}

function asObject(data: unknown): Record<string, unknown> | undefined {
  return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}

export interface PlainYamlOptions {
  /** Texts longer than this read their long top-level sequences in pieces. */
  piecesAbove?: number;
  /** A piece ends at the first item that starts this many characters (or more) after the piece. */
  pieceLength?: number;
}

const PIECES_ABOVE = 1024 * 1024;
// Small enough that a piece's events die young (in V8's new space), before the next piece is read.
const PIECE_LENGTH = 64 * 1024;

/**
 * The document as the YAML 1.1 reading would give it, when it is one plain object; otherwise undefined. A text
 * over `piecesAbove` has its long top-level sequences read in pieces (readInPieces): js-yaml's events for the whole
 * file (about 90 MB for 100,000 consumers) are then never alive together.
 */
export function readPlainYaml(text: string, maxDepth: number, options: PlainYamlOptions = {}): Record<string, unknown> | undefined {
  const { piecesAbove = PIECES_ABOVE, pieceLength = PIECE_LENGTH } = options;
  // YAML 1.1 also breaks lines at NEL, LS and PS: such a text is left to the full reading.
  if (/[\u0085\u2028\u2029]/.test(text)) return undefined;
  try {
    const sequences = text.length > piecesAbove ? findBigSequences(text, pieceLength) : undefined;
    if (sequences !== undefined && sequences.length > 0) {
      const data = readInPieces(text, sequences, pieceLength, maxDepth);
      if (data !== undefined) return data;
    }
    // js-yaml counts depth from 1 where the YAML reading counts levels: one more, and the caller checks exactly.
    return asObject(construct(text, maxDepth + 1));
  } catch {
    return undefined;
  }
}

/**
 * The document read as its skeleton (the text with `sequences` cut out, each key line kept, so with an empty
 * value) and each sequence in pieces of about `pieceLength` characters, each piece a document of its own;
 * undefined when the text must be read whole instead. Why this reads what the whole text reads:
 *   - the skeleton's text before each kept key line is the file's own, and js-yaml reads a key of the top-level
 *     block mapping with an empty value starting on that line (checked on its events): so that line is such a key
 *     in the file too, not the inside of a quoted scalar or of a flow collection, and its value is the sequence;
 *   - each piece starts at an item line and ends where the next piece's does, or where the sequence does. A
 *     block scalar, a plain scalar or a nested collection inside an item is indented deeper than the item lines,
 *     so it ends before the next item line, as it ends at the end of the piece. A quoted scalar or a flow
 *     collection that went on past the cut would be left open at the end of the piece, which js-yaml refuses; and
 *     each piece must read as a sequence of as many items as it has item lines;
 *   - the skeleton reads what follows the sequence where the file does: at column 0, in the top-level mapping.
 * Anything that fails these (or that js-yaml refuses in a piece) sends the text to the whole reading; what must
 * step aside there steps aside here too (StepAside goes through).
 */
export function readInPieces(text: string, sequences: readonly BigSequence[], pieceLength: number, maxDepth: number): Record<string, unknown> | undefined {
  let skeleton = '';
  let from = 0;
  const keyLines: number[] = [];
  for (const { keyLine, valueStart, end } of sequences) {
    keyLines.push(skeleton.length + keyLine - from);
    skeleton += text.slice(from, valueStart);
    from = end;
  }
  skeleton += text.slice(from);
  try {
    const data = asObject(construct(skeleton, maxDepth + 1, keyLines));
    if (data === undefined) return undefined;
    for (const { key, items, end } of sequences) {
      const list: unknown[] = [];
      for (let first = 0; first < items.length; ) {
        let next = first + 1;
        while (next < items.length && items[next] - items[first] < pieceLength) next++;
        // One level less deep than in the file: the sequence is the piece's top.
        const piece = construct(text.slice(items[first], next < items.length ? items[next] : end), maxDepth);
        if (!Array.isArray(piece) || piece.length !== next - first) return undefined;
        for (let i = 0; i < piece.length; i++) list.push(piece[i]);
        first = next;
      }
      data[key] = list;
    }
    return data;
  } catch (err) {
    if (err instanceof StepAside) throw err;
    return undefined;
  }
}
