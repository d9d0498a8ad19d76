/**
 * Regenerates the API reference regions of the Markdown files under `docs/` from the API
 * Extractor doc models (`packages/<pkg>/temp/*.api.json`, written by `pnpm api` / `pnpm api:update`).
 *
 *   tsx scripts/generate-api-docs.ts           rewrite the regions that changed
 *   tsx scripts/generate-api-docs.ts --check   change nothing; exit 1 naming each stale file
 *
 * Only the text between a pair of markers is generated; everything else is hand-written prose
 * and is left exactly as it is:
 *
 *   <!-- generated:api:start OsModule,OsContext,@vlab/core/testing!createMemoryLab -->
 *   (generated)
 *   <!-- generated:api:end OsModule,OsContext,@vlab/core/testing!createMemoryLab -->
 *
 * A marker lists API items by name, comma-separated, in the order they are rendered. A name
 * found in more than one entry point must be qualified as `<import path>!<name>`. An unknown or
 * ambiguous name, an unclosed region or a mismatched end marker is an error (exit 2).
 *
 * Each item becomes a heading one level below the last heading above its region, then its
 * kind, import line and source link, the TSDoc summary, deprecation and remarks, the declaration
 * in a `ts` block, then the members (own members of interfaces and classes, in source order),
 * documented union values, parameters, return value and examples. TSDoc prose is treated as
 * Markdown, as the sources write it; `{@link X}` becomes `X` in a code span (a link when X is
 * rendered in the same file).
 * The generated text is then formatted by Biome in the context of its file, exactly as
 * `pnpm format` would (Biome formats Markdown and the code blocks in it), so `pnpm lint` and
 * this script never disagree; the hand-written text around the regions is left as it is.
 * The output depends only on the models, the sources and the docs: no time, no host paths.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ApiDeclaredItem,
  type ApiDocumentedItem,
  type ApiItem,
  ApiModel,
  ApiOptionalMixin,
  ApiParameterListMixin,
  ApiReleaseTagMixin,
  ApiStaticMixin,
  ReleaseTag,
} from '@microsoft/api-extractor-model';

type DocComment = NonNullable<ApiDocumentedItem['tsdocComment']>;
type DocNode = ReturnType<DocComment['getChildNodes']>[number];
type DocSection = DocComment['summarySection'];

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS_DIR = join(REPO_ROOT, 'docs');
const WORKSPACE_DIRS = ['packages', 'apps'];
const GENERATED_NOTE =
  '<!-- Generated from the API Extractor models by scripts/generate-api-docs.ts; edit the TSDoc in the source, not this text. -->';
const START = /^<!-- generated:api:start (.*?) -->$/;
const END = /^<!-- generated:api:end (.*?) -->$/;

class DocsError extends Error {}

/** Formats a whole Markdown file with the repository's Biome configuration. */
function biomeFormat(text: string, file: string): string {
  const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
  const path = relative(REPO_ROOT, file).split(sep).join('/');
  try {
    return execFileSync(process.execPath, [biome, 'format', `--stdin-file-path=${path}`], {
      cwd: REPO_ROOT,
      input: text,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new DocsError(`biome could not format ${path}: ${stderr.trim() || String(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The models
// ---------------------------------------------------------------------------------------------

interface Entry {
  /** `@vlab/core` or `@vlab/core/testing`. */
  readonly importPath: string;
  /** The package folder (for source links and source order). */
  readonly packageDir: string;
  /** Top-level items by name (overloads share a name). */
  readonly items: ReadonlyMap<string, readonly ApiItem[]>;
}

/** The import path of a model: `<pkg>.api.json` is `<pkg>`, `<pkg>-<sub>.api.json` is `<pkg>/<sub>`. */
function importPathOf(packageName: string, modelFile: string): string {
  const base = modelFile.replace(/\.api\.json$/, '');
  const unscoped = packageName.slice(packageName.lastIndexOf('/') + 1);
  if (base === unscoped) return packageName;
  if (base.startsWith(`${unscoped}-`)) return `${packageName}/${base.slice(unscoped.length + 1)}`;
  throw new DocsError(
    `cannot tell the entry point of ${modelFile} in ${packageName}: name it ${unscoped}.api.json or ${unscoped}-<subpath>.api.json`,
  );
}

function loadEntries(): Entry[] {
  const entries: Entry[] = [];
  for (const workspace of WORKSPACE_DIRS) {
    const root = join(REPO_ROOT, workspace);
    if (!existsSync(root)) continue;
    for (const pkg of readdirSync(root).sort()) {
      const temp = join(root, pkg, 'temp');
      if (!existsSync(temp)) continue;
      for (const file of readdirSync(temp)
        .filter((f) => f.endsWith('.api.json'))
        .sort()) {
        // One model per file: entry points of one package share its name, which one ApiModel refuses.
        const apiPackage = new ApiModel().loadPackage(join(temp, file));
        const items = new Map<string, ApiItem[]>();
        for (const entryPoint of apiPackage.entryPoints) {
          for (const member of entryPoint.members) {
            const name = member.displayName;
            items.set(name, [...(items.get(name) ?? []), member]);
          }
        }
        entries.push({
          importPath: importPathOf(apiPackage.name, file),
          packageDir: join(root, pkg),
          items,
        });
      }
    }
  }
  if (entries.length === 0) {
    throw new DocsError(
      'no API models found (packages/*/temp/*.api.json); build and run `pnpm api:update` first',
    );
  }
  return entries;
}

interface Resolved {
  readonly name: string;
  readonly entry: Entry;
  readonly overloads: readonly ApiItem[];
}

function resolveName(spec: string, entries: readonly Entry[], where: string): Resolved {
  const bang = spec.lastIndexOf('!');
  const importPath = bang === -1 ? undefined : spec.slice(0, bang);
  const name = bang === -1 ? spec : spec.slice(bang + 1);
  const found = entries.filter(
    (e) => (importPath === undefined || e.importPath === importPath) && e.items.has(name),
  );
  if (found.length === 0) {
    const known = entries.map((e) => e.importPath).join(', ');
    throw new DocsError(
      `${where}: unknown API item "${spec}" (looked in ${known}); is it exported and is the model fresh (pnpm api:update)?`,
    );
  }
  if (found.length > 1) {
    throw new DocsError(
      `${where}: "${spec}" is exported by ${found.map((e) => e.importPath).join(' and ')}; write it as ${found.map((e) => `${e.importPath}!${name}`).join(' or ')}`,
    );
  }
  const entry = found[0] as Entry;
  return { name, entry, overloads: entry.items.get(name) ?? [] };
}

// ---------------------------------------------------------------------------------------------
// TSDoc → Markdown
// ---------------------------------------------------------------------------------------------

/** What the renderer needs to know about the page it writes into. */
interface Page {
  /** Names rendered in this file, by anchor. */
  readonly anchors: ReadonlyMap<string, string>;
}

function codeSpan(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function anchorOf(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

function linkedName(name: string, page: Page): string {
  const root = name.split('.')[0] ?? name;
  const anchor = page.anchors.get(root);
  return anchor === undefined ? codeSpan(name) : `[${codeSpan(name)}](#${anchor})`;
}

/** Duck-typed views of the TSDoc node kinds the renderer reads (no import of @microsoft/tsdoc). */
interface NodeFields {
  readonly text?: string;
  readonly code?: string;
  readonly language?: string;
  readonly decodedText?: string;
  readonly tagContent?: string;
  readonly linkText?: string;
  readonly urlDestination?: string;
  readonly codeDestination?: {
    readonly packageName?: string;
    readonly memberReferences: readonly {
      readonly memberIdentifier?: { readonly identifier: string };
      readonly memberSymbol?: unknown;
    }[];
  };
  emitAsHtml?(): string;
}

function renderInline(node: DocNode, page: Page): string {
  const n = node as unknown as NodeFields;
  switch (node.kind) {
    case 'PlainText':
    case 'ErrorText':
      return n.text ?? '';
    case 'EscapedText':
      return n.decodedText ?? '';
    case 'SoftBreak':
      return '\n';
    case 'CodeSpan':
      return codeSpan(n.code ?? '');
    case 'LinkTag': {
      if (n.urlDestination !== undefined) {
        return n.linkText === undefined
          ? `<${n.urlDestination}>`
          : `[${n.linkText}](${n.urlDestination})`;
      }
      const name = (n.codeDestination?.memberReferences ?? [])
        .map((ref) => ref.memberIdentifier?.identifier ?? '')
        .filter((part) => part !== '')
        .join('.');
      if (name === '') return n.linkText ?? '';
      return n.linkText === undefined ? linkedName(name, page) : n.linkText;
    }
    case 'HtmlStartTag':
    case 'HtmlEndTag':
      return n.emitAsHtml?.() ?? '';
    case 'InlineTag':
      return n.tagContent ?? '';
    default:
      return node
        .getChildNodes()
        .map((child) => renderInline(child, page))
        .join('');
  }
}

/** A paragraph keeps the author's line breaks (so `- ` lines stay a list), minus indentation. */
function renderParagraph(node: DocNode, page: Page): string {
  const text = node
    .getChildNodes()
    .map((child) => renderInline(child, page))
    .join('');
  return text
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

function renderSection(section: DocSection | undefined, page: Page): string {
  if (section === undefined) return '';
  const blocks: string[] = [];
  for (const node of section.getChildNodes()) {
    if (node.kind === 'Paragraph') {
      const text = renderParagraph(node, page);
      if (text !== '') blocks.push(text);
    } else if (node.kind === 'FencedCode') {
      const n = node as unknown as NodeFields;
      const code = (n.code ?? '').replace(/\n+$/, '');
      blocks.push(`\`\`\`${n.language ?? ''}\n${code}\n\`\`\``);
    } else {
      const text = renderInline(node, page).trim();
      if (text !== '') blocks.push(text);
    }
  }
  return blocks.join('\n\n');
}

interface ItemDocs {
  readonly summary: string;
  readonly remarks: string;
  readonly deprecated: string;
  readonly returns: string;
  readonly params: ReadonlyMap<string, string>;
  readonly examples: readonly string[];
  readonly defaultValue: string;
  readonly experimental: boolean;
}

function docsOf(item: ApiItem, page: Page): ItemDocs {
  const comment = (item as ApiDocumentedItem).tsdocComment;
  const params = new Map<string, string>();
  for (const block of comment?.params.blocks ?? [])
    params.set(block.parameterName, renderSection(block.content, page));
  const custom = (tag: string) =>
    (comment?.customBlocks ?? [])
      .filter((block) => block.blockTag.tagNameWithUpperCase === tag.toUpperCase())
      .map((block) => renderSection(block.content, page));
  return {
    summary: renderSection(comment?.summarySection, page),
    remarks: renderSection(comment?.remarksBlock?.content, page),
    deprecated: renderSection(comment?.deprecatedBlock?.content, page),
    returns: renderSection(comment?.returnsBlock?.content, page),
    params,
    examples: custom('@example'),
    defaultValue: custom('@defaultValue').join(' '),
    experimental:
      comment?.modifierTagSet.isExperimental() === true ||
      comment?.modifierTagSet.isBeta() === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Declarations
// ---------------------------------------------------------------------------------------------

/** The d.ts text of a declaration: `declare` dropped, 4-space indentation halved. */
function declarationText(item: ApiItem): string {
  const text = (item as ApiDeclaredItem).excerpt?.text ?? '';
  return text
    .replace(/^export declare /, 'export ')
    .split('\n')
    .map((line) => {
      const indent = line.length - line.trimStart().length;
      return ' '.repeat(Math.floor(indent / 2)) + line.trim();
    })
    .join('\n')
    .trim();
}

/** Splits documented string-literal unions (`/** doc *\/ 'value' | …`) into values and docs. */
function unionValues(
  text: string,
): { readonly declaration: string; readonly values: [string, string][] } | undefined {
  if (!text.includes('/**')) return undefined;
  const values: [string, string][] = [];
  const pattern = /\/\*\*([\s\S]*?)\*\/\s*\|?\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/g;
  for (const match of text.matchAll(pattern)) {
    const doc = (match[1] ?? '')
      .split('\n')
      .map((line) => line.replace(/^\s*\*?\s?/, '').trim())
      .filter((line) => line !== '')
      .join(' ');
    values.push([match[2] ?? '', doc]);
  }
  if (values.length !== (text.match(/\/\*\*/g) ?? []).length) return undefined;
  const declaration = text
    .replace(/\/\*\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .replace(/= \| /, '= ')
    .trim();
  return { declaration, values };
}

/** Own members in the order the source declares them (the models sort them by name). */
function membersInSourceOrder(item: ApiItem, entry: Entry): readonly ApiItem[] {
  const members = [...item.members];
  const byName = [...members].sort((a, b) =>
    a.displayName < b.displayName ? -1 : a.displayName > b.displayName ? 1 : 0,
  );
  const file = (item as ApiDeclaredItem).fileUrlPath;
  if (file === undefined) return byName;
  const path = join(entry.packageDir, file);
  if (!existsSync(path)) return byName;
  const source = readFileSync(path, 'utf8');
  const head = new RegExp(`\\b(?:interface|class)\\s+${item.displayName}\\b`).exec(source);
  if (head === null) return byName;
  const open = source.indexOf('{', head.index);
  let depth = 0;
  let close = -1;
  for (let i = open; i < source.length; i += 1) {
    if (source[i] === '{') depth += 1;
    else if (source[i] === '}') {
      depth -= 1;
      if (depth === 0) {
        close = i;
        break;
      }
    }
  }
  if (open === -1 || close === -1) return byName;
  const body = source.slice(open, close);
  const position = (member: ApiItem): number => {
    const name = member.kind === 'Constructor' ? 'constructor' : member.displayName;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const found = new RegExp(
      `^\\s*(?:(?:readonly|static|public|async|get|set)\\s+)*${escaped}\\s*[?(:<=]`,
      'm',
    ).exec(body);
    return found === null ? -1 : found.index;
  };
  const positions = new Map(byName.map((member) => [member, position(member)]));
  if ([...positions.values()].some((p) => p === -1)) return byName;
  return [...byName].sort((a, b) => (positions.get(a) ?? 0) - (positions.get(b) ?? 0));
}

/** A function's declaration, one parameter a line when it does not fit in 100 characters. */
function functionDeclaration(item: ApiItem): string {
  const text = declarationText(item);
  if (text.length <= 100 || text.includes('\n') || !ApiParameterListMixin.isBaseClassOf(item))
    return text;
  const open = text.indexOf('(', text.indexOf(item.displayName) + item.displayName.length);
  const returns = (item as unknown as { returnTypeExcerpt?: { text: string } }).returnTypeExcerpt;
  if (open === -1 || returns === undefined) return text;
  const params = item.parameters.map(
    (p) => `  ${p.name}${p.isOptional ? '?' : ''}: ${p.parameterTypeExcerpt.text.trim()},`,
  );
  return `${text.slice(0, open)}(\n${params.join('\n')}\n): ${returns.text.trim()};`;
}

function kindLabel(item: ApiItem): string {
  switch (item.kind) {
    case 'TypeAlias':
      return 'type';
    case 'Function':
      return 'function';
    case 'Interface':
      return 'interface';
    case 'Class':
      return 'class';
    case 'Variable':
      return 'constant';
    case 'Enum':
      return 'enum';
    case 'Namespace':
      return 'namespace';
    default:
      return item.kind.toLowerCase();
  }
}

function isTypeOnly(item: ApiItem): boolean {
  return item.kind === 'Interface' || item.kind === 'TypeAlias';
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '' : by + line))
    .join('\n');
}

/** A list item: `head — first paragraph`, further blocks indented under it. */
function listItem(head: string, body: string): string {
  if (body === '') return `- ${head}`;
  if (body.startsWith('```')) return `- ${head}\n\n${indent(body, '  ')}`;
  const [first = '', ...rest] = body.split('\n\n');
  const lead = `- ${head} — ${first}`.split('\n').join('\n  ');
  return rest.length === 0 ? lead : `${lead}\n\n${indent(rest.join('\n\n'), '  ')}`;
}

function memberHead(member: ApiItem): string {
  const isMethod = member.kind === 'MethodSignature' || member.kind === 'Method';
  const name =
    member.kind === 'Constructor'
      ? 'constructor(…)'
      : member.kind === 'CallSignature'
        ? '(call signature)'
        : member.kind === 'IndexSignature'
          ? '[index signature]'
          : member.kind === 'ConstructSignature'
            ? 'new (…)'
            : `${member.displayName}${isMethod ? '()' : ''}`;
  const flags: string[] = [];
  if (ApiStaticMixin.isBaseClassOf(member) && member.isStatic) flags.push('static');
  if (ApiOptionalMixin.isBaseClassOf(member) && member.isOptional) flags.push('optional');
  return `${codeSpan(name)}${flags.length > 0 ? ` *(${flags.join(', ')})*` : ''}`;
}

function parameterLines(item: ApiItem, docs: ItemDocs): string[] {
  if (!ApiParameterListMixin.isBaseClassOf(item)) return [];
  const lines = item.parameters
    .filter((p) => (docs.params.get(p.name) ?? '') !== '')
    .map((p) => `${codeSpan(p.name)} — ${docs.params.get(p.name) ?? ''}`);
  return lines;
}

/** Parameters, returns and default value of a member, as text under its list item. */
function memberDetails(member: ApiItem, page: Page): string {
  const docs = docsOf(member, page);
  const parts: string[] = [];
  if (docs.deprecated !== '') parts.push(`**Deprecated:** ${docs.deprecated}`);
  if (docs.experimental) parts.push('**Experimental.**');
  if (docs.summary !== '') parts.push(docs.summary);
  if (docs.remarks !== '') parts.push(docs.remarks);
  const params = parameterLines(member, docs);
  if (params.length > 0) parts.push(`Parameters:\n${params.map((p) => `- ${p}`).join('\n')}`);
  if (docs.returns !== '') parts.push(`Returns: ${docs.returns}`);
  if (docs.defaultValue !== '') parts.push(`Default: ${docs.defaultValue}`);
  return parts.join('\n\n');
}

function renderItem(resolved: Resolved, page: Page, docFile: string, level: number): string {
  const [first] = resolved.overloads;
  if (first === undefined) throw new DocsError(`no declaration for ${resolved.name}`);
  const { entry } = resolved;
  const docs = docsOf(first, page);
  const out: string[] = [`${'#'.repeat(level)} ${resolved.name}`];

  const importLine = `import ${isTypeOnly(first) ? 'type ' : ''}{ ${resolved.name} } from '${entry.importPath}'`;
  const fileUrlPath = (first as ApiDeclaredItem).fileUrlPath;
  const meta = [`*${kindLabel(first)}*`, codeSpan(importLine)];
  if (fileUrlPath !== undefined) {
    const target = relative(dirname(docFile), join(entry.packageDir, fileUrlPath))
      .split(sep)
      .join('/');
    meta.push(`[source](${target})`);
  }
  if (ApiReleaseTagMixin.isBaseClassOf(first) && first.releaseTag !== ReleaseTag.Public)
    meta.push(`**${ReleaseTag[first.releaseTag]}**`);
  out.push(meta.join(' · '));

  if (docs.deprecated !== '') out.push(`**Deprecated:** ${docs.deprecated}`);
  if (docs.experimental) out.push('**Experimental:** may change in a minor release.');
  if (docs.summary !== '') out.push(docs.summary);
  if (docs.remarks !== '') out.push(docs.remarks);

  // The declaration.
  let declaration: string;
  let values: [string, string][] = [];
  let members: readonly ApiItem[] = [];
  if (first.kind === 'Interface' || first.kind === 'Class') {
    members = membersInSourceOrder(first, entry);
    // A member's continuation lines already carry its own indentation; only the first needs it.
    const lines = members.map((member) => `  ${declarationText(member)}`);
    declaration = `${declarationText(first)} {\n${lines.join('\n')}\n}`;
  } else if (first.kind === 'TypeAlias') {
    const text = declarationText(first);
    const union = unionValues(text);
    declaration = union?.declaration ?? text;
    values = union?.values ?? [];
  } else if (first.kind === 'Variable') {
    declaration = `export const ${declarationText(first).replace(/;$/, '')};`;
  } else {
    declaration = resolved.overloads.map(functionDeclaration).join('\n');
  }
  out.push(`\`\`\`ts\n${declaration}\n\`\`\``);

  if (first.kind === 'Interface') {
    const bases = (
      first as unknown as { extendsTypes: readonly { excerpt: { text: string } }[] }
    ).extendsTypes.map((base) => base.excerpt.text.trim());
    if (bases.length > 0) {
      const linked = bases.map((base) => linkedName(base, page));
      out.push(`Also has every member of ${linked.join(', ')}.`);
    }
  }

  if (values.length > 0) {
    out.push(
      `**Values**\n\n${values.map(([value, doc]) => listItem(codeSpan(value), doc)).join('\n')}`,
    );
  }

  if (members.length > 0) {
    const items = members.map((member) =>
      listItem(memberHead(member), memberDetails(member, page)),
    );
    const loose = items.some((item) => item.includes('\n\n'));
    out.push(`**Members**\n\n${items.join(loose ? '\n\n' : '\n')}`);
  }

  if (ApiParameterListMixin.isBaseClassOf(first) && first.kind !== 'Class') {
    const params = resolved.overloads.flatMap((overload) =>
      parameterLines(overload, docsOf(overload, page)),
    );
    if (params.length > 0) out.push(`**Parameters**\n\n${params.map((p) => `- ${p}`).join('\n')}`);
    if (docs.returns !== '') out.push(`**Returns:** ${docs.returns}`);
  }

  for (const example of docs.examples) out.push(`**Example**\n\n${example}`);
  return out.join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// The docs
// ---------------------------------------------------------------------------------------------

function markdownFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...markdownFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.md')) files.push(path);
  }
  return files;
}

interface Region {
  readonly spec: string;
  readonly names: readonly string[];
  /** Line indexes of the start and end markers. */
  readonly start: number;
  readonly end: number;
  /** Heading level of the items: one below the last heading before the region (at most 6). */
  readonly level: number;
}

function findRegions(lines: readonly string[], file: string): Region[] {
  const regions: Region[] = [];
  let open: { spec: string; line: number } | undefined;
  let fence: string | undefined;
  let level = 2;
  for (const [index, line] of lines.entries()) {
    const where = `${file}:${index + 1}`;
    if (open === undefined) {
      const fenceMatch = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fenceMatch !== null) {
        const marker = fenceMatch[1] ?? '';
        if (fence === undefined) fence = marker;
        else if (marker.startsWith(fence)) fence = undefined;
        continue;
      }
      if (fence !== undefined) continue;
      const heading = /^(#{1,6}) /.exec(line);
      if (heading !== null) level = Math.min(6, (heading[1] ?? '').length + 1);
    }
    const start = START.exec(line.trim());
    const end = END.exec(line.trim());
    if (start !== null) {
      if (open !== undefined)
        throw new DocsError(`${where}: region started inside the region of line ${open.line + 1}`);
      open = { spec: (start[1] ?? '').trim(), line: index };
    } else if (end !== null) {
      const spec = (end[1] ?? '').trim();
      if (open === undefined) throw new DocsError(`${where}: end marker without a start marker`);
      if (spec !== open.spec) {
        throw new DocsError(
          `${where}: end marker "${spec}" does not match the start marker "${open.spec}" of line ${open.line + 1}`,
        );
      }
      const names = spec.split(',').map((name) => name.trim());
      if (names.some((name) => name === ''))
        throw new DocsError(`${where}: empty name in "${spec}"`);
      regions.push({ spec, names, start: open.line, end: index, level });
      open = undefined;
    }
  }
  if (open !== undefined)
    throw new DocsError(`${file}:${open.line + 1}: region "${open.spec}" is never closed`);
  return regions;
}

interface Regenerated {
  readonly text: string;
  readonly regions: number;
  /** One line per region whose content changes: where, which names, the first difference. */
  readonly changes: readonly string[];
}

function firstDifference(before: readonly string[], after: readonly string[]): string {
  const length = Math.max(before.length, after.length);
  for (let i = 0; i < length; i += 1) {
    if (before[i] !== after[i]) {
      const show = (line: string | undefined) =>
        line === undefined ? '(nothing)' : JSON.stringify(line.slice(0, 120));
      return `region line ${i + 1}: now ${show(before[i])}, generated ${show(after[i])}`;
    }
  }
  return 'no line differs';
}

function regenerate(text: string, file: string, entries: readonly Entry[]): Regenerated {
  const display = relative(REPO_ROOT, file).split(sep).join('/');
  const lines = text.split('\n');
  const regions = findRegions(lines, display);
  if (regions.length === 0) return { text, regions: 0, changes: [] };

  const anchors = new Map<string, string>();
  const seen = new Map<string, string>();
  const resolvedRegions = regions.map((region) =>
    region.names.map((spec) => {
      const where = `${display}:${region.start + 1}`;
      const resolved = resolveName(spec, entries, where);
      const previous = seen.get(resolved.name);
      if (previous !== undefined)
        throw new DocsError(`${where}: ${resolved.name} is already rendered at ${previous}`);
      seen.set(resolved.name, where);
      anchors.set(resolved.name, anchorOf(resolved.name));
      return resolved;
    }),
  );
  const page: Page = { anchors };

  // 1. The file with every region replaced by its raw rendering.
  const raw: string[] = [];
  let next = 0;
  for (const [index, region] of regions.entries()) {
    raw.push(...lines.slice(next, region.start + 1));
    const rendered = (resolvedRegions[index] ?? []).map((resolved) =>
      renderItem(resolved, page, file, region.level),
    );
    raw.push(GENERATED_NOTE, '', rendered.join('\n\n'), '', lines[region.end] ?? '');
    next = region.end + 1;
  }
  raw.push(...lines.slice(next));

  // 2. Biome formats it in context; take only the regions' bodies from the formatted file.
  const formatted = biomeFormat(raw.join('\n'), file).split('\n');
  const formattedRegions = findRegions(formatted, `${display} (formatted)`);
  if (formattedRegions.length !== regions.length)
    throw new DocsError(`${display}: biome changed the number of generated regions`);

  // 3. The original text around the regions, the formatted bodies inside them.
  const out: string[] = [];
  const changes: string[] = [];
  next = 0;
  for (const [index, region] of regions.entries()) {
    const done = formattedRegions[index] as Region;
    const body = formatted.slice(done.start + 1, done.end);
    const current = lines.slice(region.start + 1, region.end);
    if (body.join('\n') !== current.join('\n')) {
      changes.push(
        `${display}:${region.start + 1}: region "${region.spec}" is stale (${firstDifference(current, body)})`,
      );
    }
    out.push(...lines.slice(next, region.start + 1), ...body, lines[region.end] ?? '');
    next = region.end + 1;
  }
  out.push(...lines.slice(next));
  return { text: out.join('\n'), regions: regions.length, changes };
}

function main(argv: readonly string[]): number {
  const unknown = argv.filter((arg) => arg !== '--check');
  if (unknown.length > 0) {
    console.error(
      `usage: tsx scripts/generate-api-docs.ts [--check] (unknown: ${unknown.join(' ')})`,
    );
    return 2;
  }
  const check = argv.includes('--check');
  const entries = loadEntries();
  const files = markdownFiles(DOCS_DIR);
  const stale: string[] = [];
  const changes: string[] = [];
  let regions = 0;
  for (const file of files) {
    const before = readFileSync(file, 'utf8');
    const after = regenerate(before, file, entries);
    regions += after.regions;
    if (after.text === before) continue;
    stale.push(relative(REPO_ROOT, file).split(sep).join('/'));
    changes.push(...after.changes);
    if (!check) writeFileSync(file, after.text);
  }
  if (check) {
    if (stale.length > 0) {
      for (const change of changes) console.error(change);
      console.error(
        `generate-api-docs --check: ${stale.join(', ')} would change; run \`tsx scripts/generate-api-docs.ts\` (after \`pnpm api:update\`) and commit the result`,
      );
      return 1;
    }
    console.log(`generate-api-docs: ${files.length} files, ${regions} regions up to date`);
    return 0;
  }
  for (const file of stale) console.log(`updated ${file}`);
  console.log(
    `generate-api-docs: ${files.length} files, ${regions} regions, ${stale.length} updated`,
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof DocsError)) throw error;
  console.error(`generate-api-docs: ${error.message}`);
  process.exitCode = 2;
}
