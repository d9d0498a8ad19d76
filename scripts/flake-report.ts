// The table of scripts/flake-hunt.sh: per test, in how many runs it failed.
//   tsx scripts/flake-report.ts RUNS REPORT_DIR PACKAGE…
// Reads REPORT_DIR/run-<i>-<package>.json (vitest's JSON reporter). Prints one row per package and
// one per test that failed at least once; writes every test's row to REPORT_DIR/per-test.md.
// A run that left no report, or a file that failed to load, counts as a failure of that file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface AssertionResult {
  readonly fullName: string;
  readonly status: string;
}
interface FileResult {
  readonly name: string;
  readonly status: string;
  readonly message?: string;
  readonly assertionResults: readonly AssertionResult[];
}

const [runsArg, dir, ...packages] = process.argv.slice(2);
const runs = Number(runsArg);
if (!Number.isInteger(runs) || runs < 1 || dir === undefined || packages.length === 0) {
  console.error('usage: tsx scripts/flake-report.ts RUNS REPORT_DIR PACKAGE…');
  process.exit(2);
}

/** package → test id → [runs seen, runs failed] */
const tally = new Map<string, Map<string, [number, number]>>();
const count = (pkg: string, id: string, failed: boolean): void => {
  const tests = tally.get(pkg) ?? new Map<string, [number, number]>();
  tally.set(pkg, tests);
  const row = tests.get(id) ?? [0, 0];
  tests.set(id, [row[0] + 1, row[1] + (failed ? 1 : 0)]);
};

for (const pkg of packages) {
  for (let run = 1; run <= runs; run += 1) {
    const path = join(dir, `run-${run}-${pkg}.json`);
    if (!existsSync(path)) {
      count(pkg, '(the suite left no report)', true);
      continue;
    }
    const report = JSON.parse(readFileSync(path, 'utf8')) as { testResults: FileResult[] };
    // Two tests of one file may share a full name: the second of a run is counted as `… #2`.
    const seen = new Map<string, number>();
    const once = (id: string): string => {
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      return n === 1 ? id : `${id} #${n}`;
    };
    for (const file of report.testResults) {
      const name = relative(process.cwd(), file.name);
      if (file.assertionResults.length === 0 || (file.status === 'failed' && file.message)) {
        // A file that failed outside any test (import error, failing hook) is a failure of its own.
        count(pkg, `${name} (file)`, file.status === 'failed');
      }
      for (const test of file.assertionResults) {
        if (test.status === 'skipped' || test.status === 'pending' || test.status === 'todo') {
          count(pkg, once(`${name} > ${test.fullName} (SKIPPED)`), true);
          continue;
        }
        count(pkg, once(`${name} > ${test.fullName}`), test.status !== 'passed');
      }
    }
  }
}

const cell = (text: string): string => text.replaceAll('|', '\\|');
const summary = ['| package | tests | test runs | failed runs |', '| --- | ---: | ---: | ---: |'];
const failing = ['| test | runs | failed |', '| --- | ---: | ---: |'];
const all = [...failing];
let failures = 0;
for (const pkg of packages) {
  const tests = tally.get(pkg) ?? new Map<string, [number, number]>();
  let seen = 0;
  let failed = 0;
  for (const [id, [n, f]] of [...tests].sort(([a], [b]) => a.localeCompare(b))) {
    seen += n;
    failed += f;
    const row = `| ${cell(`${pkg}: ${id}`)} | ${n} | ${f} |`;
    all.push(row);
    if (f > 0) failing.push(row);
  }
  failures += failed;
  summary.push(`| ${pkg} | ${tests.size} | ${seen} | ${failed} |`);
}
writeFileSync(join(dir, 'per-test.md'), `${all.join('\n')}\n`);
console.log(`\nflake hunt, ${runs} run(s) each, one core kept busy:\n\n${summary.join('\n')}\n`);
if (failures > 0) console.log(`tests that failed at least once:\n\n${failing.join('\n')}\n`);
console.log(`every test's row: ${join(dir, 'per-test.md')}`);
process.exit(failures > 0 ? 1 : 0);
