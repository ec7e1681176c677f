// Finds, in a large YAML text, the top-level keys whose value is a long block sequence, and where each of its
// items starts: the fast reading (fast-yaml.ts) reads such a sequence some tens of kilobytes at a time, so that
// the parser's events for the whole file are never alive at once.
//
// Only the clearest layout is taken, from the text's lines alone:
//   - the key line is exactly `name:` at column 0 (nothing after the colon);
//   - the first line below it that is not blank or a comment starts an item: `-` then a space or the line's end,
//     after `indent` spaces (0 is the sequence written under its key without indentation);
//   - every later item line has exactly that indentation; other lines are blank, comments, or indented deeper;
//   - the sequence ends at the first line at column 0 that is not an item, a blank or a comment.
// A line at the sequence's indentation that is not an item, a line between column 0 and it, a tab at the start of
// any line in the sequence, or a CR anywhere: the text is not split at all. What the lines alone cannot tell (a key
// line or an item line that is really inside a quoted scalar or a flow collection), the reading checks: see
// readInPieces in fast-yaml.ts.

export interface BigSequence {
  /** The top-level key, as written on its line. */
  key: string;
  /** Offset of the key line. */
  keyLine: number;
  /** Offset of the line after the key line: the sequence's text runs from here to `end`. */
  valueStart: number;
  end: number;
  /** Offset of each item line, in order. */
  items: number[];
}

const KEY_LINE = /^[A-Za-z_][A-Za-z0-9_-]*:$/;
const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const DASH = 0x2d;
const MAX_KEY_LINE = 100;

/**
 * The top-level block sequences of `text` longer than `minLength` characters, in the order they appear; undefined
 * when a sequence's lines are laid out in a way this does not take (the text is then read whole).
 */
export function findBigSequences(text: string, minLength: number): BigSequence[] | undefined {
  // Line breaks other than LF are left to the whole reading.
  if (text.includes('\r')) return undefined;
  const found: BigSequence[] = [];
  let open: BigSequence | undefined;
  let indent = -1; // of the open sequence's items; -1 before its first item
  const close = (end: number) => {
    if (open !== undefined && open.items.length > 0 && end - open.valueStart > minLength) found.push({ ...open, end });
    open = undefined;
  };
  for (let pos = 0; pos < text.length; ) {
    const newline = text.indexOf('\n', pos);
    const lineEnd = newline === -1 ? text.length : newline;
    let first = pos;
    while (text.charCodeAt(first) === SPACE) first++;
    const col = first - pos;
    const ch = first < lineEnd ? text.charCodeAt(first) : -1;
    if (open !== undefined && ch !== -1 && ch !== HASH) {
      if (ch === TAB) return undefined;
      const item = ch === DASH && (first + 1 === lineEnd || text.charCodeAt(first + 1) === SPACE);
      if (indent === -1) {
        if (item) {
          indent = col;
          open.items.push(pos);
        } else open = undefined; // not a block sequence: the value stays where it is
      } else if (item && col === indent) open.items.push(pos);
      else if (col === 0) close(pos);
      else if (col <= indent) return undefined;
    }
    if (open === undefined && col === 0 && newline !== -1 && lineEnd - pos <= MAX_KEY_LINE) {
      const line = text.slice(pos, lineEnd);
      if (KEY_LINE.test(line)) {
        open = { key: line.slice(0, -1), keyLine: pos, valueStart: newline + 1, end: -1, items: [] };
        indent = -1;
      }
    }
    pos = lineEnd + 1;
  }
  close(text.length);
  return found;
}
