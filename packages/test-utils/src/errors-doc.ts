import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DOC = 'docs/errors.md';
const DOC_PATH = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
const HEADER = ['Code', 'Meaning', 'What to do'];

/** What {@link describeErrorsDoc} checks. */
export interface ErrorsDocOptions {
  /** The package, as its heading in docs/errors.md reads: `@vlab/core` for `## @vlab/core`. */
  readonly section: string;
  /** The package's error table: code → meaning and hint. */
  readonly codes: Readonly<Record<string, { readonly meaning: string; readonly hint: string }>>;
  /** The package's retired codes. */
  readonly retired: readonly string[];
  /** The name of the retired list in the code, for messages. */
  readonly retiredName: string;
  /** Where the table lives, for messages: `CORE_ERROR_CODES (packages/core/src/errors/core-errors.ts)`. */
  readonly source: string;
  /** `ERROR_CODE_PATTERN` of `@vlab/core` (passed in: core itself uses this helper). */
  readonly pattern: RegExp;
}

interface Row {
  readonly code: string;
  readonly meaning: string;
  readonly hint: string;
  /** 1-based line in the doc. */
  readonly line: number;
}

interface DocSection {
  readonly header: readonly string[] | undefined;
  readonly rows: readonly Row[];
  readonly retired: readonly { readonly code: string; readonly line: number }[];
  readonly hasRetiredHeading: boolean;
}

/** Cells of a Markdown table row; `\|` is a pipe inside a cell. */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'));
}

function parseSection(text: string, SECTION: string): DocSection {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.trim() === SECTION);
  if (start === -1) throw new Error(`${DOC} has no "${SECTION}" section`);
  const next = lines.findIndex((line, index) => index > start && /^## /.test(line));
  const end = next === -1 ? lines.length : next;

  let header: string[] | undefined;
  const rows: Row[] = [];
  const retired: { code: string; line: number }[] = [];
  let inRetired = false;
  let hasRetiredHeading = false;
  for (let index = start + 1; index < end; index += 1) {
    const line = lines[index] ?? '';
    if (/^#{3,} /.test(line)) {
      inRetired = /^#{3,} Retired codes\s*$/.test(line);
      hasRetiredHeading ||= inRetired;
      continue;
    }
    if (inRetired) {
      const bullet = /^[-*] `([^`]+)`/.exec(line);
      if (bullet !== null) retired.push({ code: bullet[1] ?? '', line: index + 1 });
      continue;
    }
    if (!line.trim().startsWith('|')) continue;
    const row = cells(line);
    if (header === undefined) {
      header = row;
      continue;
    }
    if (row.every((cell) => /^:?-{3,}:?$/.test(cell))) continue;
    const [code = '', meaning = '', hint = '', ...extra] = row;
    if (extra.length > 0) throw new Error(`${DOC}:${index + 1}: the row has more than 3 cells`);
    rows.push({ code: code.replace(/^`|`$/g, ''), meaning, hint, line: index + 1 });
  }
  return { header, rows, retired, hasRetiredHeading };
}

/**
 * Registers vitest tests that keep a package's error table and its `## <package>` section of
 * `docs/errors.md` in step, in both directions (fastify's errors test is the model).
 */
export function describeErrorsDoc(options: ErrorsDocOptions): void {
  const SECTION = `## ${options.section}`;
  const SOURCE = options.source;
  const CODES = options.codes;
  const RETIRED = options.retired;
  const RETIRED_NAME = options.retiredName;
  const ERROR_CODE_PATTERN = options.pattern;
  const doc = parseSection(readFileSync(DOC_PATH, 'utf8'), SECTION);
  const active = Object.entries(CODES);

  describe(`${DOC} documents every ${options.section} error code`, () => {
    it(`has a "${HEADER.join(' | ')}" table under "${SECTION}"`, () => {
      expect(doc.header, `the first table under "${SECTION}" in ${DOC}`).toEqual(HEADER);
      expect(doc.rows.length, `rows of the table under "${SECTION}" in ${DOC}`).toBeGreaterThan(0);
    });

    it(`documents every code of ${SOURCE}`, () => {
      const documented = new Set(doc.rows.map((row) => row.code));
      const missing = active
        .map(([code]) => code)
        .filter((code) => !documented.has(code))
        .map((code) => `${code} is in ${SOURCE} but has no row under "${SECTION}" in ${DOC}`);
      expect(missing).toEqual([]);
    });

    it(`documents no code that ${SOURCE} lacks, and none twice`, () => {
      const problems: string[] = [];
      const seen = new Map<string, number>();
      for (const row of doc.rows) {
        if (!Object.hasOwn(CODES, row.code)) {
          const retired = RETIRED.includes(row.code)
            ? ' (it is retired: move it to "Retired codes")'
            : '';
          problems.push(
            `${DOC}:${row.line} documents ${row.code}, which is not in ${SOURCE}${retired}`,
          );
        }
        const first = seen.get(row.code);
        if (first !== undefined)
          problems.push(`${DOC}:${row.line} documents ${row.code} again (first at line ${first})`);
        else seen.set(row.code, row.line);
      }
      expect(problems).toEqual([]);
    });

    it(`gives each code exactly the meaning and hint of ${SOURCE}`, () => {
      const problems: string[] = [];
      for (const row of doc.rows) {
        const info = CODES[row.code];
        if (info === undefined) continue;
        if (row.meaning !== info.meaning) {
          problems.push(
            `${DOC}:${row.line} ${row.code}: Meaning is "${row.meaning}", but the code says "${info.meaning}"`,
          );
        }
        if (row.hint !== info.hint) {
          problems.push(
            `${DOC}:${row.line} ${row.code}: What to do is "${row.hint}", but the code says "${info.hint}"`,
          );
        }
      }
      expect(problems).toEqual([]);
    });

    it('uses only codes of the shape VLAB_ERR_<AREA>_<PROBLEM>', () => {
      const all = [
        ...active.map(([code]) => `${code} (${SOURCE})`),
        ...RETIRED.map((code) => `${code} (${RETIRED_NAME})`),
        ...doc.rows.map((row) => `${row.code} (${DOC}:${row.line})`),
        ...doc.retired.map((entry) => `${entry.code} (${DOC}:${entry.line}, retired)`),
      ];
      const bad = all
        .filter((entry) => !ERROR_CODE_PATTERN.test(entry.slice(0, entry.indexOf(' '))))
        .map((entry) => `${entry} does not match ${String(ERROR_CODE_PATTERN)}`);
      expect(bad).toEqual([]);
    });

    it('never has a code both active and retired', () => {
      const both = active
        .map(([code]) => code)
        .filter((code) => RETIRED.includes(code))
        .map(
          (code) =>
            `${code} is in ${SOURCE} and in ${RETIRED_NAME}; a retired code is never reused`,
        );
      expect(both).toEqual([]);
    });

    it(`lists exactly ${RETIRED_NAME} under "Retired codes" in ${DOC}`, () => {
      expect(doc.hasRetiredHeading, `a "### Retired codes" heading under "${SECTION}"`).toBe(true);
      const listed = new Set(doc.retired.map((entry) => entry.code));
      const problems = [
        ...RETIRED.filter((code) => !listed.has(code)).map(
          (code) => `${code} is in ${RETIRED_NAME} but not under "Retired codes" in ${DOC}`,
        ),
        ...doc.retired
          .filter((entry) => !RETIRED.includes(entry.code))
          .map(
            (entry) =>
              `${DOC}:${entry.line} lists ${entry.code} as retired, but ${RETIRED_NAME} does not`,
          ),
      ];
      expect(problems).toEqual([]);
    });
  });
}
