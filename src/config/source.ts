import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Composer, CST, Lexer, LineCounter, Parser, isMap, isSeq, isScalar, isPair, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { ConfigError, type ConfigIssue, type PathSegment } from './errors';
import { parseJsonObject, valueDepth } from './json-text';
import { readPlainYaml } from './fast-yaml';

/** A parsed declarative file that can say where any field path stands in the text. */
export interface ConfigSource {
  file: string;
  text: string;
  data: unknown;
  locate(path: readonly PathSegment[], atKey?: boolean): { line: number; col: number };
  /** What reading the text found that is not an error (a key written twice with the same value). */
  warnings?: ConfigIssue[];
}

const MAX_DEPTH = 64;
// Far above any real kong.yml (aliases are rare there); low enough that an alias bomb stays cheap.
const MAX_ALIAS_COUNT = 1000;
/**
 * The largest file checked. Checking takes memory out of proportion to the text: about 25 times the file when it
 * reads as plain YAML or JSON, up to about 140 times when the reading that knows positions runs on all of it (a
 * file it must read in full, or one with errors or warnings to locate); a 10 MB file then peaks at 1.4 GB. At
 * this limit that is under 3 GB, inside Node's default heap on a 64-bit machine; a larger file is refused from
 * its size before it is read (README, Security, has the measurements).
 */
export const MAX_CONFIG_BYTES = 20 * 1024 * 1024;

const TOO_DEEP = `nesting deeper than ${MAX_DEPTH} levels is not accepted`;
const PARSE_FAILED = 'failed parsing declarative configuration';

export function readConfigFile(file: string): ConfigSource {
  return parseConfigText(readConfigText(file), file);
}

/** The file's text; an unreadable file is a located ConfigError. */
export function readConfigText(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    const reading = boundedRead(file, fstatSync(fd));
    let step = reading.next();
    while (!step.done) step = reading.next(readSync(fd, step.value, 0, step.value.byteLength, null));
    return step.value.toString('utf8');
  } catch (err) {
    throw located(file, err);
  } finally {
    closeSync(fd);
  }
}

/** The file's bytes, read without holding the event loop; the same checks, the same errors as readConfigText. */
export async function readConfigBytes(file: string): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    const reading = boundedRead(file, await handle.stat());
    let step = reading.next();
    while (!step.done) step = reading.next((await handle.read(step.value, 0, step.value.byteLength, null)).bytesRead);
    return step.value;
  } catch (err) {
    throw located(file, err);
  } finally {
    await handle.close();
  }
}

// The piece of a file hashConfigFile reads at a time, into one buffer: one read per turn of the event loop.
const HASH_PIECE = 1024 * 1024;

/**
 * The md5 of a config file's bytes (its configuration_hash) and their count, read a piece at a time into one
 * reused buffer: for a reload whose checking process reads the file itself, so that its bytes (13 MB for 100,000
 * consumers) are never held here, nor left as garbage beside that process's peak. The same checks and errors as
 * readConfigBytes.
 */
export async function hashConfigFile(file: string): Promise<{ hash: string; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    const stats = await handle.stat();
    checkReadable(file, stats);
    const hash = createHash('md5');
    const piece = Buffer.allocUnsafeSlow(Math.max(1, Math.min(HASH_PIECE, stats.size)));
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(piece, 0, piece.byteLength, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_CONFIG_BYTES) throw tooLarge(file, size);
      hash.update(piece.subarray(0, bytesRead));
    }
    return { hash: hash.digest('hex'), size };
  } catch (err) {
    throw located(file, err);
  } finally {
    await handle.close();
  }
}

// Without blocking: opening a FIFO that has no writer would wait for one (a regular file reads the same either way).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
// A file that grew after it was looked at is read on in pieces this large.
const READ_ON = 64 * 1024;

/**
 * Reading an opened config file: yields the buffers to fill, takes how many bytes each read gave (0 at the end),
 * returns the bytes. Only a regular file is read (links followed): a device such as /dev/zero never ends, a FIFO
 * blocks until someone writes. The check is made on the opened file, so what was checked is what is read; and
 * reading stops past MAX_CONFIG_BYTES, whatever size the file said it had.
 */
function* boundedRead(file: string, stats: Stats): Generator<Buffer, Buffer, number> {
  checkReadable(file, stats);
  const chunks: Buffer[] = [];
  let total = 0;
  let chunk = Buffer.allocUnsafeSlow(stats.size);
  let filled = 0;
  for (;;) {
    if (filled === chunk.byteLength) {
      if (filled > 0) chunks.push(chunk);
      chunk = Buffer.allocUnsafeSlow(Math.min(READ_ON, MAX_CONFIG_BYTES + 1 - total));
      filled = 0;
    }
    const read = yield chunk.subarray(filled);
    if (read === 0) break;
    filled += read;
    total += read;
    if (total > MAX_CONFIG_BYTES) throw tooLarge(file, total);
  }
  if (filled > 0) chunks.push(chunk.subarray(0, filled));
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/** Only a regular file within the size limit is read. */
function checkReadable(file: string, stats: Stats): void {
  if (!stats.isFile()) throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `not a regular file (${fileKind(stats)})` }]);
  if (stats.size > MAX_CONFIG_BYTES) throw tooLarge(file, stats.size);
}

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

function tooLarge(file: string, size: number): ConfigError {
  return new ConfigError([{ file, line: 1, col: 1, path: '', message: tooLargeMessage(size) }]);
}

/** Says the limit, so whoever splits or trims the file knows what to aim for. */
function tooLargeMessage(size: number): string {
  return `file is too large (${megabytes(size)} MB; the limit is ${megabytes(MAX_CONFIG_BYTES)} MB)`;
}

const megabytes = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10;

function located(file: string, err: unknown): ConfigError {
  return err instanceof ConfigError ? err : unreadable(file, err);
}

function unreadable(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  return new ConfigError([{ file, line: 1, col: 1, path: '', message: `cannot read file (${code ?? String(err)})` }]);
}

/**
 * The file's concrete syntax tree (the YAML library's parser, which keeps its own stack: any depth is safe), built
 * in one pass over the lexer's tokens so that flow collections (`[`, `{`) nesting deeper than MAX_DEPTH are refused
 * as soon as they are seen: a file made of brackets costs nothing. Brackets inside scalars and comments are not
 * flow indicators for the lexer, so they do not count. Returns the offset of the too-deep bracket instead.
 */
function concreteTree(text: string, lineCounter: LineCounter): CST.Token[] | { tooDeepAt: number } {
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  const tokens: CST.Token[] = [];
  let depth = 0;
  let scalarNext = false; // the token after the lexer's scalar marker is the scalar's text, whatever it looks like
  for (const lexeme of new Lexer().lex(text)) {
    const type: ReturnType<typeof CST.tokenType> = scalarNext ? null : CST.tokenType(lexeme);
    scalarNext = type === 'scalar';
    if (type === 'flow-map-start' || type === 'flow-seq-start') {
      if (++depth > MAX_DEPTH) return { tooDeepAt: parser.offset };
    } else if (type === 'flow-map-end' || type === 'flow-seq-end') {
      if (depth > 0) depth--;
    } else if (type === 'flow-error-end') depth = 0;
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);
  return tokens;
}

/** Offset of the first CST token nested deeper than MAX_DEPTH, or -1. Iterative: any depth is safe to measure. */
function deepCstOffset(tokens: readonly CST.Token[]): number {
  const stack: Array<[CST.Token | undefined, number]> = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token === undefined) continue;
    if (depth > MAX_DEPTH) return token.offset;
    if (token.type === 'document') stack.push([token.value, depth]);
    else if ('items' in token && (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection')) {
      for (const item of token.items as Array<{ key?: CST.Token | null; value?: CST.Token }>) {
        stack.push([item.key ?? undefined, depth + 1], [item.value, depth + 1]);
      }
    }
  }
  return -1;
}

/**
 * Located problems the YAML library leaves alone: keys that are not scalars, or equal once read as text. A key
 * written twice with the same value text is only a warning (Kong's YAML reading keeps the last value, which is the
 * same one: Kong accepts such files); with another value the file is ambiguous, and refused.
 */
function keyIssues(node: unknown, text: string, issue: (offset: number, message: string) => ConfigIssue, out: ConfigIssue[], warnings: ConfigIssue[]): void {
  if (isMap(node)) {
    const seen = new Map<string, string>();
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      const offset = key?.range?.[0] ?? 0;
      if (key !== null && !isScalar(key)) out.push(issue(offset, 'a map key must be a plain value, not a collection or an alias'));
      else {
        const name = String(key?.value ?? '');
        const range = (pair.value as Node | null)?.range;
        const value = range ? text.slice(range[0], range[1]) : '';
        const first = seen.get(name);
        if (first === value) warnings.push({ ...issue(offset, `'${name.slice(0, 80)}' is written twice with the same value: the repeat is ignored`), severity: 'warning' });
        else if (first !== undefined) out.push(issue(offset, `${PARSE_FAILED}: Map keys must be unique ('${name.slice(0, 80)}' repeats)`));
        seen.set(name, value);
      }
      keyIssues(pair.value, text, issue, out, warnings);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) keyIssues(item, text, issue, out, warnings);
  }
}

/**
 * Parses YAML or JSON (JSON is read by the same parser, so both get line numbers). A JSON object, or a plain YAML
 * document, is read by a fast parser first (json-text.ts, fast-yaml.ts); the YAML reading that knows positions runs
 * only when that one steps aside or when something has to be located.
 * YAML 1.1 scalars, as Kong reads them: yes/no/on/off are booleans.
 * Hostile files are refused before they can cost much: more than MAX_CONFIG_BYTES, nesting deeper than
 * MAX_DEPTH (measured before the recursive part of the parser runs), more than MAX_ALIAS_COUNT alias expansions.
 */
export function parseConfigText(text: string, file: string): ConfigSource {
  const issue = (line: number, col: number, message: string): ConfigIssue => ({ file, line, col, path: '', message });
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([issue(1, 1, tooLargeMessage(text.length))]);
  const json = parseJsonObject(text);
  if (json !== undefined && valueDepth(json, 0, MAX_DEPTH) > MAX_DEPTH) throw new ConfigError([issue(1, 1, TOO_DEEP)]);
  const data = json ?? readPlainYaml(text, MAX_DEPTH);
  if (data === undefined || valueDepth(data, 0, MAX_DEPTH) > MAX_DEPTH) return readYamlWithPositions(text, file);
  // Positions only matter once there is a problem to report: the YAML reading that knows them runs then.
  let located: ConfigSource | undefined;
  return { file, text, data, locate: (path, atKey) => (located ??= readYamlWithPositions(text, file)).locate(path, atKey) };
}

/** The YAML 1.1 reading, which knows where every node stands (and reports errors with their positions). */
export function readYamlWithPositions(text: string, file: string): ConfigSource {
  const lineCounter = new LineCounter();
  const at = (offset: number, message: string): ConfigIssue => {
    const p = lineCounter.linePos(offset);
    return { file, line: p.line, col: p.col, path: '', message };
  };
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([at(0, tooLargeMessage(text.length))]);
  const tokens = concreteTree(text, lineCounter);
  if (!Array.isArray(tokens)) throw new ConfigError([at(tokens.tooDeepAt, TOO_DEEP)]);
  const deep = deepCstOffset(tokens);
  if (deep !== -1) throw new ConfigError([at(deep, TOO_DEEP)]);
  const options = { version: '1.1' as const, uniqueKeys: false, strict: true };
  let doc: Document.Parsed | undefined;
  for (const parsed of new Composer(options).compose(tokens, true, text.length)) {
    if (doc !== undefined) throw new ConfigError([at(parsed.range[0], `${PARSE_FAILED}: a file holds one document, this is a second one`)]);
    doc = parsed;
  }
  if (doc === undefined) throw new ConfigError([at(0, `${PARSE_FAILED}: expected an object`)]);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => at(e.pos[0], `${PARSE_FAILED}: ${firstLine(e.message)}`)));
  }
  const keyProblems: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  keyIssues(doc.contents, text, at, keyProblems, warnings);
  if (keyProblems.length > 0) throw new ConfigError(keyProblems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const message = (err as Error).message;
    throw new ConfigError([
      at(0, /alias count/i.test(message) ? `aliases expand to more than ${MAX_ALIAS_COUNT} nodes: a YAML alias bomb is not accepted` : `${PARSE_FAILED}: ${firstLine(message)}`),
    ]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([at(0, `${PARSE_FAILED}: expected an object`)]);
  }
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  // Each map's keys indexed on first use: a file with many errors is located in linear time.
  const keyIndex = new WeakMap<YAMLMap, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, seg: PathSegment): Pair | undefined => {
    let index = keyIndex.get(map);
    if (index === undefined) {
      index = new Map();
      for (const it of map.items) if (isPair(it) && isScalar(it.key)) index.set(String(it.key.value), it);
      keyIndex.set(map, index);
    }
    return index.get(String(seg));
  };
  const contents = doc.contents;
  const locate = (path: readonly PathSegment[], atKey = false) => {
    let node: unknown = contents;
    let best: Node | undefined = node as Node;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = pairOf(node, seg);
        if (!pair) break;
        if (atKey && seg === path[path.length - 1]) {
          best = pair.key as Node;
          break;
        }
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else break;
      if (node && (node as Node).range) best = node as Node;
      else break;
    }
    return best?.range ? pos(best.range[0]) : { line: 1, col: 1 };
  };
  return warnings.length > 0 ? { file, text, data, locate, warnings } : { file, text, data, locate };
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}
