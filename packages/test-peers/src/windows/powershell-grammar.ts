/**
 * The real PowerShell grammar (tree-sitter-powershell, run by web-tree-sitter), loaded once, and
 * analysis helpers for tests: where does a value's text occur in a script, and is every occurrence
 * a verbatim single-quoted string literal whose decoded text is exactly the value.
 */
import { createRequire } from 'node:module';
import { Language, type Node, Parser, type Tree } from 'web-tree-sitter';

export type { Node, Tree } from 'web-tree-sitter';

declare global {
  /**
   * web-tree-sitter's types name Emscripten's module type, from the optional @types/emscripten,
   * which needs the DOM's types; Parser.init's options are not used here, so an empty stand-in.
   */
  interface EmscriptenModule {}
}

const require = createRequire(import.meta.url);

let loading: Promise<Parser> | undefined;

/** The parser, loaded on first use (the wasm grammar is loaded once per process). */
export function powerShellParser(): Promise<Parser> {
  loading ??= (async () => {
    await Parser.init();
    const language = await Language.load(
      require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'),
    );
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return loading;
}

/** Parses a script. */
export async function parsePowerShell(text: string): Promise<Tree> {
  const parser = await powerShellParser();
  const tree = parser.parse(text);
  if (tree === null) throw new Error('tree-sitter returned no tree');
  return tree;
}

/** A syntax error the grammar found. */
export interface ParseProblem {
  readonly kind: 'ERROR' | 'MISSING';
  /** For MISSING: what was expected; for ERROR: the text it could not parse. */
  readonly text: string;
  /** 1-based line and column of its start. */
  readonly line: number;
  readonly column: number;
  readonly startIndex: number;
}

/** Every ERROR and MISSING node of a tree, in document order. */
export function parseProblems(tree: Tree): ParseProblem[] {
  const problems: ParseProblem[] = [];
  const visit = (node: Node): void => {
    if (node.isError || node.isMissing) {
      problems.push({
        kind: node.isMissing ? 'MISSING' : 'ERROR',
        text: node.isMissing ? node.type : node.text,
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        startIndex: node.startIndex,
      });
      if (node.isMissing) return;
    }
    if (!node.hasError && !node.isMissing) return;
    for (const child of node.children) if (child !== null) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}

/** Whether the script has a syntax error. */
export async function hasParseError(script: string): Promise<boolean> {
  const tree = await parsePowerShell(script);
  try {
    return tree.rootNode.hasError;
  } finally {
    tree.delete();
  }
}

/** The ERROR/MISSING nodes of a script. */
export async function listParseProblems(script: string): Promise<ParseProblem[]> {
  const tree = await parsePowerShell(script);
  try {
    return parseProblems(tree);
  } finally {
    tree.delete();
  }
}

/** PowerShell's single-quote characters: ' and the typographic ‘ ’ ‚ ‛ (all interchangeable). */
export const SINGLE_QUOTES: ReadonlySet<string> = new Set([
  "'",
  '\u2018',
  '\u2019',
  '\u201A',
  '\u201B',
]);

/**
 * Decodes a verbatim string token (`'...'`) the way PowerShell's tokenizer does: any single-quote
 * character opens and closes it; inside, a quote character followed by another stands for the
 * second. Returns undefined when PowerShell would end the string before the token ends (a lone
 * typographic quote that tree-sitter's grammar, knowing only `'`, took for a character).
 */
export function decodeVerbatimString(token: string): string | undefined {
  const chars = [...token];
  if (chars.length < 2 || !SINGLE_QUOTES.has(chars[0] ?? '')) return undefined;
  let out = '';
  for (let i = 1; i < chars.length; i += 1) {
    const char = chars[i] ?? '';
    if (SINGLE_QUOTES.has(char)) {
      const next = chars[i + 1];
      if (next !== undefined && SINGLE_QUOTES.has(next)) {
        out += next;
        i += 1;
        continue;
      }
      return i === chars.length - 1 ? out : undefined;
    }
    out += char;
  }
  return undefined;
}

/** One place a value's text occurs in a script. */
export interface LiteralOccurrence {
  /** Offset of the occurrence in the script (UTF-16 code units, like String.indexOf). */
  readonly index: number;
  /** The type of the innermost named node that contains the whole occurrence. */
  readonly nodeType: string;
  /** The chain of node types from the root to that node. */
  readonly path: readonly string[];
  /** The source text of that node (shortened to 200 characters). */
  readonly nodeText: string;
  /**
   * True when that node is a verbatim single-quoted string literal (`string_literal` >
   * `verbatim_string_characters`, not a here-string) whose decoded content equals the value.
   */
  readonly isExactVerbatimLiteral: boolean;
}

function innermostContaining(root: Node, start: number, end: number): Node[] {
  const path: Node[] = [root];
  let node = root;
  for (;;) {
    let next: Node | undefined;
    for (const child of node.children) {
      if (child !== null && child.startIndex <= start && child.endIndex >= end) {
        next = child;
        break;
      }
    }
    if (next === undefined) return path;
    path.push(next);
    node = next;
  }
}

function verbatimLiterals(root: Node): Node[] {
  const found: Node[] = [];
  const visit = (node: Node): void => {
    if (node.type === 'verbatim_string_characters' && node.parent?.type === 'string_literal') {
      found.push(node);
    }
    for (const child of node.children) if (child !== null) visit(child);
  };
  visit(root);
  return found;
}

function allIndexes(text: string, part: string): number[] {
  const indexes: number[] = [];
  for (let index = text.indexOf(part); index >= 0; index = text.indexOf(part, index + 1)) {
    indexes.push(index);
  }
  return indexes;
}

/**
 * Every occurrence of `value` in `script`: its text as is, its text with each quote character
 * doubled (how it is written inside a verbatim literal), and every verbatim literal that decodes
 * to it. Each comes with the innermost node holding it and whether it is inside a verbatim
 * single-quoted literal whose decoded content is exactly `value` (indexes are UTF-16 offsets).
 */
export async function literalOccurrences(
  script: string,
  value: string,
): Promise<LiteralOccurrence[]> {
  if (value === '') throw new Error('literalOccurrences: the value is empty');
  const tree = await parsePowerShell(script);
  try {
    const hits = verbatimLiterals(tree.rootNode).filter(
      (node) => decodeVerbatimString(node.text) === value,
    );
    const doubled = [...value]
      .map((char) => (SINGLE_QUOTES.has(char) ? char + char : char))
      .join('');
    const spans = new Map<number, number>();
    for (const part of new Set([value, doubled])) {
      for (const index of allIndexes(script, part)) {
        spans.set(index, Math.max(spans.get(index) ?? 0, part.length));
      }
    }
    for (const hit of hits) {
      const covered = [...spans].some(
        ([index, length]) => index >= hit.startIndex && index + length <= hit.endIndex,
      );
      if (!covered) spans.set(hit.startIndex + 1, hit.endIndex - hit.startIndex - 2);
    }
    const occurrences: LiteralOccurrence[] = [];
    for (const [index, length] of [...spans].sort((a, b) => a[0] - b[0])) {
      const chain = innermostContaining(tree.rootNode, index, index + length);
      const named = [...chain].reverse().find((node) => node.isNamed) ?? tree.rootNode;
      // Anywhere inside a literal that decodes to exactly the value is data (its quotes included).
      const exact = hits.some((hit) => index >= hit.startIndex && index + length <= hit.endIndex);
      occurrences.push({
        index,
        nodeType: named.type,
        path: chain.filter((node) => node.isNamed).map((node) => node.type),
        nodeText: named.text.length > 200 ? `${named.text.slice(0, 200)}…` : named.text,
        isExactVerbatimLiteral: exact,
      });
    }
    return occurrences;
  } finally {
    tree.delete();
  }
}

/**
 * Throws unless every occurrence of `value` in `script` is a verbatim single-quoted literal whose
 * decoded content is exactly `value` (and the value occurs at least once, the script parses).
 */
export async function assertOnlyLiteral(script: string, value: string): Promise<void> {
  const problems = await listParseProblems(script);
  if (problems.length > 0) {
    throw new Error(
      `the script does not parse (${problems.map((p) => `${p.kind} at ${p.line}:${p.column} ${JSON.stringify(p.text.slice(0, 60))}`).join('; ')})`,
    );
  }
  const occurrences = await literalOccurrences(script, value);
  if (occurrences.length === 0) {
    throw new Error(`the value ${preview(value)} does not occur in the script at all`);
  }
  const bad = occurrences.filter((occurrence) => !occurrence.isExactVerbatimLiteral);
  if (bad.length > 0) {
    const lines = bad.map(
      (occurrence) =>
        `at offset ${occurrence.index}: inside ${occurrence.nodeType} (${occurrence.path.join(' > ')}): ${JSON.stringify(occurrence.nodeText)}`,
    );
    throw new Error(
      `the value ${preview(value)} occurs ${bad.length} time(s) outside an exact verbatim single-quoted literal:\n${lines.join('\n')}`,
    );
  }
}

function preview(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
export const valueOccurrences = literalOccurrences;
