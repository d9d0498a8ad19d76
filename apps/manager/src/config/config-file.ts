import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  type ConfigIssue,
  coreError,
  isVlabError,
  type SecretRef,
  type VlabError,
} from '@vlab/core';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import type { z } from 'zod';
import { managerError } from '../errors.js';
import { closestKey } from './closest-key.js';
import { formatKeyPath, type KeyPath, quoteText } from './key-path.js';
import { CROSS_REFERENCE, type ManagerConfig, managerConfigSchema } from './manager-config.js';

/** A place in the configuration file: 1-based line and column. @public */
export interface ConfigLocation {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /**
   * Whether the whole key path was found. When it was not (a missing key), the location is that
   * of the deepest key that exists on the way.
   */
  readonly exact: boolean;
}

/** One wrong key of a configuration file: core's `ConfigIssue`, and where it is. @public */
export interface LocatedConfigIssue extends ConfigIssue {
  /** 1-based line of the key (or of its value, for a wrong value). */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}

/**
 * A configuration file as read: its name, and where each key path is in it, for messages that
 * point at the file (`vlab.yaml:12:7: provisioners.bm.settings.timeouts.powerMs: …`).
 * @public
 */
export interface ConfigSource {
  /** The file's path as given to {@link readManagerConfig} (what messages show). */
  readonly file: string;
  /** The absolute directory of the file: relative paths of the configuration start there. */
  readonly dir: string;
  /**
   * Where `path` is in the file. `at: 'key'` points at the key itself, `'value'` (default) at its
   * value (the key, for an empty value). A path that is not in the file gives the deepest key on
   * the way (`exact: false`); an empty path, line 1, column 1.
   */
  locate(path: KeyPath, at?: 'key' | 'value'): ConfigLocation;
  /** One issue as messages print it: `<file>:<line>:<column>: <key.path>: <message>`. */
  format(path: KeyPath, message: string, at?: 'key' | 'value'): string;
}

/** A configuration file read and validated by {@link readManagerConfig}. @public */
export interface ManagerConfigFile {
  /** The validated configuration, defaults applied, every path absolute. */
  readonly config: ManagerConfig;
  /** The file, to point messages at any key of it. */
  readonly source: ConfigSource;
}

/**
 * Reads, parses and validates the manager's configuration file (YAML). Relative paths in it
 * (`dataDir`, `installDir`, the `file` of the manager's own secret references) are made absolute
 * from the file's directory; module settings are passed on as written. No secret is resolved.
 *
 * @remarks
 * Throws `VLAB_ERR_CONFIG_UNREADABLE` when the file cannot be read, and `VLAB_ERR_CONFIG_INVALID`
 * for a YAML syntax error, a duplicate key, a wrong or unknown key (with the closest known key as
 * a suggestion) or a broken cross-reference: its message lists every issue as
 * `<file>:<line>:<column>: <key.path>: <what is wrong>`, and `details.fields` holds them as
 * {@link LocatedConfigIssue}s (`details.issues`, as `<key.path>: <message>` lines, like core's
 * `parseConfig`).
 * @param path - The configuration file; messages show it as given.
 * @public
 */
export async function readManagerConfig(path: string): Promise<ManagerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'the manager may not read it'
            : `it could not be read (${typeof code === 'string' ? code : 'unknown error'})`;
    throw managerError(
      'VLAB_ERR_CONFIG_UNREADABLE',
      `cannot read the configuration file ${path}: ${why}`,
      { cause: error, details: { file: path, ...(typeof code === 'string' ? { code } : {}) } },
    );
  }
  return parseManagerConfig(text, path);
}

/**
 * {@link readManagerConfig} for text already read: parses and validates `text` as the content of
 * `file` (which names it in messages and whose directory relative paths start from).
 * @public
 */
export function parseManagerConfig(text: string, file: string): ManagerConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    // Duplicate keys are found below, with their key path.
    uniqueKeys: false,
    strict: true,
  });
  const source = makeSource(doc, lineCounter, file);

  const syntax: LocatedConfigIssue[] = [];
  for (const problem of [...doc.errors, ...doc.warnings]) {
    const offset = problem.pos[0];
    const { line, col } = lineCounter.linePos(offset);
    syntax.push({
      path: pathAtOffset(doc, offset),
      message: `YAML: ${problem.message.replace(/\.$/, '')}`,
      line,
      column: col,
    });
  }
  syntax.push(...keyProblems(doc, lineCounter));
  if (syntax.length > 0) throw invalid(source, syntax);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml package throws only for too many alias expansions (a "billion laughs" file).
    throw invalid(
      source,
      [
        {
          path: [],
          message: `YAML: the file expands aliases (*name) more than ${MAX_ALIAS_COUNT} times; write the values out`,
          line: 1,
          column: 1,
        },
      ],
      { cause: error },
    );
  }
  const parsed = managerConfigSchema.safeParse(data, { error: friendlyMessage });
  if (!parsed.success) throw invalid(source, schemaIssues(parsed.error.issues, source));
  return { config: absolutePaths(parsed.data, source.dir), source };
}

/**
 * Points the errors of a module's settings at the file. Core's `instantiateOsModule` and
 * `instantiateProvisioner` throw `VLAB_ERR_CONFIG_INVALID` whose `details.fields[].path` start with
 * `['modules', <module name>, 'config']`; this rewrites them to start with `settingsPath` (where
 * the settings are in the file: `['provisioners', 'bm', 'settings']`) and adds the line and column.
 *
 * @returns For a `VLAB_ERR_CONFIG_INVALID` error, a new one of that code whose message lists each
 * issue as `<file>:<line>:<column>: <key.path>: <message>` (an error without fields, as a module's
 * `create` may throw, becomes one issue at `settingsPath`), with `details.fields` as
 * {@link LocatedConfigIssue}s and the original as `cause`. Any other error, unchanged.
 * @public
 */
export function locateModuleSettingsError(
  error: unknown,
  source: ConfigSource,
  settingsPath: KeyPath,
): unknown {
  if (!isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')) return error;
  const fields = error.details['fields'];
  const moved: { path: KeyPath; message: string }[] = [];
  let moduleName: string | undefined;
  if (Array.isArray(fields) && fields.length > 0) {
    for (const field of fields as readonly Partial<ConfigIssue>[]) {
      const path = Array.isArray(field.path) ? field.path : [];
      const message = typeof field.message === 'string' ? field.message : 'invalid';
      if (path[0] === 'modules' && path[2] === 'config') {
        if (typeof path[1] === 'string') moduleName = path[1];
        moved.push({ path: [...settingsPath, ...path.slice(3)], message });
      } else {
        // Not a settings path: say so at the settings, keeping the path the module gave.
        moved.push({ path: settingsPath, message: `${formatKeyPath(path)}: ${message}` });
      }
    }
  } else {
    moved.push({ path: settingsPath, message: error.summary });
  }
  const located = moved.map((issue) => {
    const at = source.locate(issue.path);
    return { path: issue.path, message: issue.message, line: at.line, column: at.column };
  });
  const by = moduleName === undefined ? '' : ` (checked by module ${quoteText(moduleName)})`;
  return invalid(source, located, { cause: error, suffix: by });
}

// ---------------------------------------------------------------------------------------------

const MAX_LINES_IN_MESSAGE = 20;
/** How many alias expansions a file may use: enough for shared settings, too few for an entity bomb. */
const MAX_ALIAS_COUNT = 100;

/** The `VLAB_ERR_CONFIG_INVALID` error listing `issues`, sorted by place. */
function invalid(
  source: ConfigSource,
  issues: readonly LocatedConfigIssue[],
  options: { readonly cause?: unknown; readonly suffix?: string } = {},
): VlabError {
  const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
  const fields = sorted.map((issue) => ({ ...issue, message: safeText(issue.message) }));
  const lines = fields.map((issue) => `${formatKeyPath(issue.path)}: ${issue.message}`);
  const shown = fields
    .slice(0, MAX_LINES_IN_MESSAGE)
    .map((issue, index) => `${source.file}:${issue.line}:${issue.column}: ${lines[index]}`);
  if (fields.length > MAX_LINES_IN_MESSAGE)
    shown.push(`… and ${fields.length - MAX_LINES_IN_MESSAGE} more (details.fields lists all)`);
  return coreError('VLAB_ERR_CONFIG_INVALID', `${shown.join('; ')}${options.suffix ?? ''}`, {
    cause: options.cause,
    details: { file: source.file, issues: lines, fields },
  });
}

/** `text` with control, format (bidi) and separator characters and lone surrogates escaped. */
function safeText(text: string): string {
  return text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

function makeSource(doc: Document, lineCounter: LineCounter, file: string): ConfigSource {
  const locate = (path: KeyPath, at: 'key' | 'value' = 'value'): ConfigLocation => {
    const found = findPath(doc, path);
    const { line, col } = lineCounter.linePos(found.offset(at));
    return { line, column: col, exact: found.exact };
  };
  return {
    file,
    dir: dirname(resolve(file)),
    locate,
    format(path, message, at) {
      const where = locate(path, at);
      return `${file}:${where.line}:${where.column}: ${formatKeyPath(path)}: ${safeText(message)}`;
    },
  };
}

/** The node after following aliases (bounded: an alias of an alias …). */
function deref(doc: Document, node: unknown): unknown {
  let current = node;
  for (let hops = 0; hops < 100 && isAlias(current); hops += 1) current = current.resolve(doc);
  return current;
}

function start(node: unknown): number | undefined {
  const range = (node as Partial<Node> | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

/** The text of a mapping key, as `toJS` makes it a property name. */
function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/** Walks `path` through the document: how far it got and where to point. */
function findPath(
  doc: Document,
  path: KeyPath,
): { readonly exact: boolean; offset(at: 'key' | 'value'): number } {
  let node: unknown = doc.contents;
  let keyNode: unknown;
  let lastPlace = start(node) ?? 0;
  for (const segment of path) {
    const current = deref(doc, node);
    let next: unknown;
    let nextKey: unknown;
    let found = false;
    if (isMap(current)) {
      const pair = current.items.find((item) => keyText(item.key) === String(segment));
      if (pair !== undefined) {
        found = true;
        next = pair.value;
        nextKey = pair.key;
      }
    } else if (isSeq(current) && typeof segment === 'number') {
      if (segment >= 0 && segment < current.items.length) {
        found = true;
        next = current.items[segment];
      }
    }
    if (!found) {
      const place = lastPlace;
      return { exact: false, offset: () => place };
    }
    node = next;
    keyNode = nextKey;
    lastPlace = start(keyNode) ?? start(node) ?? lastPlace;
  }
  const keyStart = start(keyNode);
  const value = deref(doc, node);
  // An empty value (`key:`) has no text of its own: point at the key.
  const emptyValue = isScalar(value) && value.value === null && value.source === '';
  const valueStart = emptyValue ? undefined : (start(node) ?? start(value));
  return {
    exact: true,
    offset: (at) =>
      (at === 'key' ? (keyStart ?? valueStart) : (valueStart ?? keyStart)) ?? lastPlace,
  };
}

/** The key path of the deepest node whose text holds `offset` (for YAML syntax errors). */
function pathAtOffset(doc: Document, offset: number): (string | number)[] {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  const holds = (candidate: unknown): boolean => {
    const range = (candidate as Partial<Node> | null | undefined)?.range;
    return Array.isArray(range) && range[0] <= offset && offset < range[1];
  };
  for (let depth = 0; depth < 200; depth += 1) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => holds(item.key) || holds(item.value));
      const key = pair === undefined ? undefined : keyText(pair.key);
      if (pair === undefined || key === undefined) break;
      path.push(key);
      if (holds(pair.key)) break;
      next = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex(holds);
      if (index === -1) break;
      path.push(index);
      next = node.items[index];
    } else break;
    node = next;
  }
  return path;
}

/**
 * Every duplicate key (the second and later), every key that is not a plain scalar, and every
 * `__proto__` key (which `toJS` keeps but zod drops without an issue).
 */
function keyProblems(doc: Document, lineCounter: LineCounter): LocatedConfigIssue[] {
  const issues: LocatedConfigIssue[] = [];
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // Aliases are not followed: each collection is visited where it is written.
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (path.length > 200) return;
    if (isMap(node)) {
      const first = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        const keyStart = start(pair.key) ?? start(node) ?? 0;
        if (key === undefined) {
          issues.push({
            path,
            message: 'a key must be a plain value (text or a number), not a list or a mapping',
            ...at(keyStart),
          });
          continue;
        }
        if (key === '__proto__') {
          issues.push({
            path: [...path, key],
            message: 'the key __proto__ is not allowed (it would be dropped without a word)',
            ...at(keyStart),
          });
          continue;
        }
        const earlier = first.get(key);
        if (earlier === undefined) first.set(key, keyStart);
        else {
          issues.push({
            path: [...path, key],
            message: `duplicate key: ${quoteText(key)} is already given at line ${at(earlier).line}; give each key once`,
            ...at(keyStart),
          });
        }
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        visit(item, [...path, index]);
      });
    }
  };
  visit(doc.contents, []);
  return issues;
}

/** Messages for zod's built-in issues that say what was expected and what was given, never the value. */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    const expected = describeType(String(issue.expected));
    if (issue.input === undefined) return `missing: expected ${expected}`;
    return `expected ${expected}, got ${describeValue(issue.input)}`;
  }
  if (issue.code === 'invalid_value') {
    return `must be one of: ${issue.values.map((value) => String(value)).join(', ')}`;
  }
  return undefined;
}

function describeType(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
      return 'a mapping (key: value)';
    case 'array':
      return 'a list';
    case 'boolean':
      return 'true or false';
    case 'string':
    case 'number':
      return `a ${expected}`;
    default:
      return expected;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'an empty value (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number';
  return `a ${typeof value}`;
}

/** Zod's issues as located issues: an unknown key becomes one issue per key, at the key. */
function schemaIssues(
  issues: readonly z.core.$ZodIssue[],
  source: ConfigSource,
): LocatedConfigIssue[] {
  // A cross-reference problem may follow from another one (a misspelt `provisioners:`): report
  // those only once everything else is right.
  const isCrossReference = (issue: z.core.$ZodIssue): boolean =>
    issue.code === 'custom' && issue.params?.[CROSS_REFERENCE] === true;
  const others = issues.filter((issue) => !isCrossReference(issue));
  // A refinement of a mapping that also has an unknown key ("needs env or file" beside `evn`)
  // most likely follows from that key: the unknown key alone says it.
  const withUnknownKeys = new Set(
    issues
      .filter((issue) => issue.code === 'unrecognized_keys')
      .map((issue) => JSON.stringify(issue.path)),
  );
  const reported = (others.length > 0 ? others : issues).filter(
    (issue) => !(issue.code === 'custom' && withUnknownKeys.has(JSON.stringify(issue.path))),
  );
  const out: LocatedConfigIssue[] = [];
  const add = (path: KeyPath, message: string, at: 'key' | 'value'): void => {
    const where = source.locate(path, at);
    out.push({ path: [...path], message, line: where.line, column: where.column });
  };
  for (const issue of reported) {
    const path = issue.path.map((segment) =>
      typeof segment === 'number' ? segment : String(segment),
    );
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(path);
      for (const key of issue.keys) {
        const guess = closestKey(key, known);
        const hint =
          guess === undefined
            ? known.length === 0
              ? ''
              : ` (known keys: ${known.join(', ')})`
            : `; did you mean \`${guess}\`?`;
        add([...path, key], `unknown key ${quoteText(key)}${hint}`, 'key');
      }
    } else if (issue.code === 'invalid_key') {
      const why = issue.issues.map((inner) => inner.message).join('; ') || issue.message;
      add(path, `the key ${why}`, 'key');
    } else {
      add(path, issue.message, 'value');
    }
  }
  return out;
}

/** The keys the schema knows for the object at `path` (`[]` when that is no object). */
function knownKeys(path: KeyPath): string[] {
  let current: unknown = managerConfigSchema;
  const defOf = (type: unknown): Record<string, unknown> | undefined =>
    (type as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def;
  const unwrap = (type: unknown): unknown => {
    let inner = type;
    for (let depth = 0; depth < 20; depth += 1) {
      const def = defOf(inner);
      if (def === undefined) return inner;
      if ('innerType' in def) inner = def['innerType'];
      else if (def['type'] === 'pipe') inner = def['in'];
      else return inner;
    }
    return inner;
  };
  for (const segment of path) {
    const def = defOf(unwrap(current));
    if (def === undefined) return [];
    if (def['type'] === 'object') current = (def['shape'] as Record<string, unknown>)[segment];
    else if (def['type'] === 'array') current = def['element'];
    else if (def['type'] === 'record') current = def['valueType'];
    else return [];
  }
  const def = defOf(unwrap(current));
  return def?.['type'] === 'object' ? Object.keys(def['shape'] as Record<string, unknown>) : [];
}

function absolutePaths(config: ManagerConfig, dir: string): ManagerConfig {
  const ref = (secret: SecretRef): SecretRef =>
    'file' in secret ? { file: resolve(dir, secret.file) } : secret;
  const refs = (map: Readonly<Record<string, SecretRef>>): Record<string, SecretRef> =>
    Object.fromEntries(Object.entries(map).map(([name, secret]) => [name, ref(secret)]));
  return {
    ...config,
    dataDir: resolve(dir, config.dataDir),
    installDir: resolve(dir, config.installDir),
    database:
      config.database.url === undefined ? config.database : { url: ref(config.database.url) },
    ...(config.secretKey === undefined ? {} : { secretKey: ref(config.secretKey) }),
    pools: config.pools.map((pool) => ({
      ...pool,
      credentials: refs(pool.credentials),
      computers: pool.computers.map((entry) => ({
        ...entry,
        credentials: refs(entry.credentials),
      })),
    })),
    computers: config.computers.map((entry) => ({
      ...entry,
      credentials: refs(entry.credentials),
    })),
  };
}
