import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import { ConfigError, type ConfigIssue, type PathSegment } from './errors';
import { parseJsonObject, valueDepth } from './json-text';

/** A parsed declarative file that can say where any field path stands in the text. */
export interface ConfigSource {
  file: string;
  text: string;
  data: unknown;
  locate(path: readonly PathSegment[], atKey?: boolean): { line: number; col: number };
}

const MAX_DEPTH = 64;
// Far above any real kong.yml (aliases are rare there); low enough that an alias bomb stays cheap.
const MAX_ALIAS_COUNT = 1000;
export const MAX_CONFIG_BYTES = 256 * 1024 * 1024;

export function readConfigFile(file: string): ConfigSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `cannot read file (${code ?? String(err)})` }]);
  }
  return parseConfigText(text, file);
}

/**
 * Parses YAML or JSON (JSON is read by the same parser, so both get line numbers).
 * YAML 1.1 scalars, as Kong reads them: yes/no/on/off are booleans.
 */
export function parseConfigText(text: string, file: string): ConfigSource {
  const issue = (line: number, col: number, message: string): ConfigIssue => ({ file, line, col, path: '', message });
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([issue(1, 1, 'file is too large')]);
  const json = parseJsonObject(text);
  if (json !== undefined) {
    if (valueDepth(json, 0, MAX_DEPTH) > MAX_DEPTH) throw new ConfigError([issue(1, 1, `nesting deeper than ${MAX_DEPTH} levels is not accepted`)]);
    // Positions only matter once there is a problem to report: the YAML reading that knows them runs then.
    let located: ConfigSource | undefined;
    return { file, text, data: json, locate: (path, atKey) => (located ??= parseYamlText(text, file, issue)).locate(path, atKey) };
  }
  return parseYamlText(text, file, issue);
}

function parseYamlText(text: string, file: string, issue: (line: number, col: number, message: string) => ConfigIssue): ConfigSource {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, version: '1.1', uniqueKeys: true, prettyErrors: false, strict: true });
  } catch (err) {
    throw new ConfigError([issue(1, 1, `failed parsing declarative configuration: ${(err as Error).message}`)]);
  }
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const p = pos(e.pos[0]);
        return issue(p.line, p.col, `failed parsing declarative configuration: ${firstLine(e.message)}`);
      }),
    );
  }
  const depth = nodeDepth(doc.contents as Node | null, 0);
  if (depth > MAX_DEPTH) throw new ConfigError([issue(1, 1, `nesting deeper than ${MAX_DEPTH} levels is not accepted`)]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new ConfigError([issue(1, 1, `failed parsing declarative configuration: ${firstLine((err as Error).message)}`)]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([issue(1, 1, 'failed parsing declarative configuration: expected an object')]);
  }
  const locate = (path: readonly PathSegment[], atKey = false) => {
    let node: unknown = doc.contents;
    let best: Node | undefined = node as Node;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
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
  return { file, text, data, locate };
}

function nodeDepth(node: Node | null, depth: number): number {
  if (depth > MAX_DEPTH) return depth;
  if (isMap(node) || isSeq(node)) {
    let max = depth + 1;
    for (const item of node.items as unknown[]) {
      const child = isPair(item) ? (item.value as Node | null) : (item as Node | null);
      max = Math.max(max, nodeDepth(child, depth + 1));
      if (max > MAX_DEPTH) return max;
    }
    return max;
  }
  return depth;
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}
