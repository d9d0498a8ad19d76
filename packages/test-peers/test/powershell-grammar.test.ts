// The PowerShell grammar helpers: a value quoted as a verbatim literal (quotes doubled, the
// typographic ones too) is only ever data; naive embeddings are caught.
import { describe, expect, it } from 'vitest';
import { POWERSHELL_HOSTILE_VALUES } from '../src/windows/hostile-values.js';
import {
  assertOnlyLiteral,
  decodeVerbatimString,
  hasParseError,
  listParseProblems,
  literalOccurrences,
  parsePowerShell,
} from '../src/windows/powershell-grammar.js';
import { quote, wrapperWithText } from './wrapper-script.js';

const wrapper = (argument: string): string =>
  wrapperWithText('param($A)\nWrite-Output $A', argument);

const CORPUS: readonly string[] = [
  ...POWERSHELL_HOSTILE_VALUES.filter((value) => value.trim() !== ''),
  "'; rm -rf / #",
  '$(whoami)',
  '`whoami`',
  'a;b',
  'a|b',
  'a&b',
  "@'\nx\n'@",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell syntax on purpose
  '${x}',
  '‘’“”',
  'it’s',
  '--% stop',
  'two\nlines\r\n',
  'ünïcödé 🙂 名前',
  'x'.repeat(10 * 1024),
  "''''",
];

describe('assertOnlyLiteral', () => {
  // Values whose text also occurs in the wrapper's own code (e.g. '#', '"') cannot be told apart
  // by text search; for them the check is that a decoded literal exists.
  const skeleton = wrapper("'PLACEHOLDER'");

  it.each(CORPUS.map((value) => [JSON.stringify(value).slice(0, 60), value]))(
    'a correctly quoted value is only a literal: %s',
    async (_name, value) => {
      const script = wrapper(quote(value));
      expect(await hasParseError(script)).toBe(false);
      const occurrences = await literalOccurrences(script, value);
      expect(occurrences.some((occurrence) => occurrence.isExactVerbatimLiteral)).toBe(true);
      if (!skeleton.includes(value)) await assertOnlyLiteral(script, value);
    },
  );

  it.each(CORPUS.map((value) => [JSON.stringify(value).slice(0, 60), value]))(
    'a double-quoted embedding is caught: %s',
    async (_name, value) => {
      await expect(assertOnlyLiteral(wrapper(`"${value}"`), value)).rejects.toThrow();
    },
  );

  it.each(CORPUS.map((value) => [JSON.stringify(value).slice(0, 60), value]))(
    'an unquoted embedding is caught: %s',
    async (_name, value) => {
      await expect(assertOnlyLiteral(wrapper(value), value)).rejects.toThrow();
    },
  );

  it('catches single quotes that are not doubled, ASCII and typographic', async () => {
    await expect(assertOnlyLiteral(wrapper("'it's'"), "it's")).rejects.toThrow(
      /does not parse|outside/,
    );
    // tree-sitter's grammar knows only ', so it sees one literal; PowerShell ends it at ’.
    await expect(assertOnlyLiteral(wrapper("'it’s'"), 'it’s')).rejects.toThrow(
      /outside an exact verbatim/,
    );
    await expect(assertOnlyLiteral(wrapper("'x‘; whoami; ‘'"), 'x‘; whoami; ‘')).rejects.toThrow();
  });

  it('catches the value in a here-string, a comment, a variable name and a command', async () => {
    await expect(assertOnlyLiteral(wrapper("@'\nsecretvalue\n'@"), 'secretvalue')).rejects.toThrow(
      /verbatim_here_string_characters|string_literal/,
    );
    await expect(
      assertOnlyLiteral(`${wrapper("'secretvalue'")} # secretvalue`, 'secretvalue'),
    ).rejects.toThrow(/comment/);
    await expect(assertOnlyLiteral('$secretvalue = 1', 'secretvalue')).rejects.toThrow(/variable/);
    await expect(assertOnlyLiteral("secretvalue 'secretvalue'", 'secretvalue')).rejects.toThrow(
      /command_name/,
    );
  });

  it('rejects a literal that only contains the value, and a value that is absent', async () => {
    await expect(assertOnlyLiteral(wrapper("'xsecretvaluex'"), 'secretvalue')).rejects.toThrow(
      /outside/,
    );
    await expect(assertOnlyLiteral(wrapper("'other'"), 'secretvalue')).rejects.toThrow(
      /does not occur/,
    );
  });

  it('accepts the value in several exact literals', async () => {
    await assertOnlyLiteral("Write-Output 'secret' 'secret'", 'secret');
  });

  it('reports the innermost node and path of each occurrence', async () => {
    const [literal, code] = await literalOccurrences("'needle'; $needle", 'needle');
    expect(literal).toMatchObject({
      index: 1,
      nodeType: 'verbatim_string_characters',
      isExactVerbatimLiteral: true,
    });
    expect(literal?.path).toContain('string_literal');
    expect(code).toMatchObject({ index: 11, nodeType: 'variable', isExactVerbatimLiteral: false });
  });
});

describe('decodeVerbatimString', () => {
  it('un-doubles every kind of single quote', () => {
    expect(decodeVerbatimString("'a''b'")).toBe("a'b");
    expect(decodeVerbatimString("'a’’b‘‘c‚‚d‛‛e'")).toBe('a’b‘c‚d‛e');
    expect(decodeVerbatimString("'a'’b'")).toBe('a’b');
    expect(decodeVerbatimString('‘typographic’')).toBe('typographic');
    expect(decodeVerbatimString("''")).toBe('');
  });

  it('says when PowerShell would end the string early', () => {
    expect(decodeVerbatimString("'a’b'")).toBeUndefined();
    expect(decodeVerbatimString("'unterminated")).toBeUndefined();
  });
});

describe('parse errors', () => {
  it('lists ERROR and MISSING nodes with positions', async () => {
    expect(await hasParseError("Write-Output 'fine'")).toBe(false);
    expect(await hasParseError('if (1 -eq 1 {')).toBe(true);
    const problems = await listParseProblems("Write-Output 'ok'\n$x = (1 + ");
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ line: 2 });
    expect(['ERROR', 'MISSING']).toContain(problems[0]?.kind);
  });

  it('loads the grammar once', async () => {
    const [a, b] = await Promise.all([parsePowerShell('1'), parsePowerShell('2')]);
    expect(a.language).toBe(b.language);
    a.delete();
    b.delete();
  });
});
