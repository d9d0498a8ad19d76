import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORE_ERROR_CODES, RETIRED_CORE_ERROR_CODES } from './core-errors.js';
import { ERROR_CODE_PATTERN } from './vlab-error.js';

// docs/errors.md documents every core code; this test keeps the page and CORE_ERROR_CODES in
// step, in both directions (fastify's errors test is the model).
const DOC = 'docs/errors.md';
const DOC_PATH = fileURLToPath(new URL('../../../../docs/errors.md', import.meta.url));
const SOURCE = 'CORE_ERROR_CODES (packages/core/src/errors/core-errors.ts)';
const SECTION = '## @vlab/core';
const HEADER = ['Code', 'Meaning', 'What to do'];

interface Row {
  readonly code: string;
  readonly meaning: string;
  readonly hint: string;
  /** 1-based line in the doc. */
  readonly line: number;
}

interface CoreSection {
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

function parseCoreSection(text: string): CoreSection {
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

const doc = parseCoreSection(readFileSync(DOC_PATH, 'utf8'));
const active = Object.entries(CORE_ERROR_CODES) as [
  string,
  { readonly meaning: string; readonly hint: string },
][];

describe(`${DOC} documents every @vlab/core error code`, () => {
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
      if (!Object.hasOwn(CORE_ERROR_CODES, row.code)) {
        const retired = RETIRED_CORE_ERROR_CODES.includes(row.code)
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
      const info = (CORE_ERROR_CODES as Record<string, { meaning: string; hint: string }>)[
        row.code
      ];
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
      ...RETIRED_CORE_ERROR_CODES.map((code) => `${code} (RETIRED_CORE_ERROR_CODES)`),
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
      .filter((code) => RETIRED_CORE_ERROR_CODES.includes(code))
      .map(
        (code) =>
          `${code} is in ${SOURCE} and in RETIRED_CORE_ERROR_CODES; a retired code is never reused`,
      );
    expect(both).toEqual([]);
  });

  it(`lists exactly RETIRED_CORE_ERROR_CODES under "Retired codes" in ${DOC}`, () => {
    expect(doc.hasRetiredHeading, `a "### Retired codes" heading under "${SECTION}"`).toBe(true);
    const listed = new Set(doc.retired.map((entry) => entry.code));
    const problems = [
      ...RETIRED_CORE_ERROR_CODES.filter((code) => !listed.has(code)).map(
        (code) => `${code} is in RETIRED_CORE_ERROR_CODES but not under "Retired codes" in ${DOC}`,
      ),
      ...doc.retired
        .filter((entry) => !RETIRED_CORE_ERROR_CODES.includes(entry.code))
        .map(
          (entry) =>
            `${DOC}:${entry.line} lists ${entry.code} as retired, but RETIRED_CORE_ERROR_CODES does not`,
        ),
    ];
    expect(problems).toEqual([]);
  });
});
