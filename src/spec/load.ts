/**
 * Reads pipeline YAML into plain data while keeping the source positions of every node, so each
 * later check (schema, semantics, compiler) can point at file:line:column.
 *
 * YAML is data only: the `yaml` package's core schema (no custom tags, no code), duplicate keys
 * refused, aliases bounded (an alias bomb is refused, not expanded), files over a size limit
 * refused before parsing.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { SpecError, type Diagnostic, pointer } from './diagnostics.ts';
import { explainYamlProblems, PARSE_OPTIONS, yamlProblems } from './yaml-errors.ts';

/** Larger pipeline files are refused: a spec is config, not data. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** How many alias expansions a document may need; far above any real spec, far below a bomb. */
export const MAX_ALIAS_COUNT = 200;

export interface Position {
  line: number;
  column: number;
}

export interface LoadedSpec {
  file: string;
  text: string;
  data: unknown;
  /** Position of the value at `path` (`which: 'key'` gives its key in the parent map). */
  locate(path: readonly (string | number)[], which?: 'key' | 'value'): Position;
  /** The raw YAML node at `path`, aliases resolved; undefined where the path does not exist. */
  nodeAt(path: readonly (string | number)[]): Node | undefined;
}

export async function loadSpecFile(file: string): Promise<LoadedSpec> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new SpecError([fileDiag(file, 'io.read', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)]);
  }
  if (size > MAX_SPEC_BYTES) {
    throw new SpecError([
      fileDiag(
        file,
        'yaml.too-large',
        `file is ${size} bytes; pipeline files are limited to ${MAX_SPEC_BYTES} bytes`,
        'keep data out of the spec: reference it from a collect stage',
      ),
    ]);
  }
  return loadSpecText(file, await readFile(file, 'utf8'));
}

function fileDiag(file: string, code: string, message: string, hint?: string): Diagnostic {
  return { file, line: 1, column: 1, severity: 'error', code, message, hint, path: '' };
}

export function loadSpecText(file: string, text: string): LoadedSpec {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) {
    throw new SpecError([fileDiag(file, 'yaml.too-large', `file is larger than ${MAX_SPEC_BYTES} bytes`)]);
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter });
  const posOf = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (!Array.isArray(docs) || docs.length === 0) {
    // A file with no document at all (empty, or only comments).
    throw new SpecError([fileDiag(file, 'yaml.empty', 'file is empty', 'start from an example in pipelines/')]);
  }
  const problems = yamlProblems(docs, lineCounter);
  const diags: Diagnostic[] = (problems.length ? explainYamlProblems(text, problems) : []).map((p) => ({
    file,
    ...p,
    severity: 'error',
    path: '',
  }));
  if (docs.length > 1) {
    const at = posOf(docs[1]!.range[0]);
    diags.push({
      file,
      ...at,
      severity: 'error',
      code: 'yaml.multiple-documents',
      message: 'a pipeline file holds one YAML document',
      hint: 'put each pipeline in its own file',
      path: '',
    });
  }
  if (diags.length) throw new SpecError(diags);
  const doc = docs[0]!;
  if (doc.contents === null) {
    throw new SpecError([fileDiag(file, 'yaml.empty', 'file is empty', 'start from an example in pipelines/')]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const bomb = /alias/i.test(msg);
    throw new SpecError([
      fileDiag(
        file,
        bomb ? 'yaml.alias-bomb' : 'yaml.invalid',
        bomb ? `aliases expand too much (more than ${MAX_ALIAS_COUNT} expansions): refused as a resource-exhaustion risk` : msg,
        bomb ? 'use fewer nested anchors/aliases' : undefined,
      ),
    ]);
  }
  return {
    file,
    text,
    data,
    nodeAt: (path) => walk(doc, path).node,
    locate(path, which = 'value') {
      const found = walk(doc, path);
      const node = which === 'key' && found.key ? found.key : (found.node ?? found.deepest);
      return posOf(node?.range?.[0] ?? 0);
    },
  };
}

interface Walked {
  node: Node | undefined;
  key: Node | undefined;
  deepest: Node | undefined;
}

function walk(doc: Document, path: readonly (string | number)[]): Walked {
  let node = doc.contents as Node | null | undefined;
  let key: Node | undefined;
  let deepest: Node | undefined = node ?? undefined;
  for (const seg of path) {
    if (node && isAlias(node)) node = node.resolve(doc) as Node | undefined;
    if (!node) return { node: undefined, key: undefined, deepest };
    deepest = node;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      key = pair?.key as Node | undefined;
      node = pair?.value as Node | null | undefined;
      if (!pair) return { node: undefined, key: undefined, deepest };
      if (!node) return { node: key, key, deepest: key };
    } else if (isSeq(node)) {
      key = undefined;
      node = node.items[Number(seg)] as Node | undefined;
    } else {
      return { node: undefined, key: undefined, deepest };
    }
  }
  if (node && isAlias(node)) node = (node.resolve(doc) as Node | undefined) ?? node;
  return { node: node ?? undefined, key, deepest };
}

export { pointer };
