/**
 * Checks `pnpm new-module` end to end: the modules it writes install offline, build, type-check,
 * pass Biome and the conformance kit on the memory lab, have a working API report and a README
 * example that runs; bad and taken names are refused; the documentation prints the scaffold's
 * files as they are.
 *
 *   tsx scripts/check-new-module.ts
 *
 * Works on a copy, never on the repository: the root files, `.changeset/`, `scripts/` and every
 * workspace package (without node_modules, dist, temp) are copied into a temporary directory,
 * where `pnpm new-module` writes `os-kit-check` and `provisioner-kit-check`, `pnpm install
 * --offline` links them (no dependency is new: the packages come from the store) and each
 * package's own scripts run. The directory is removed at the end, whatever happened.
 *
 * Exit status: 0 when every step passed; 1 naming the step that failed, with its output.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { REPO_ROOT, ScaffoldError, syncDocs, writeModule } from './new-module/scaffold.js';

const MODULES = ['os-kit-check', 'provisioner-kit-check'];
/** Names `pnpm new-module` must refuse, and a word of what its message must say. */
const REFUSED: [name: string, says: string][] = [
  ['alpine', 'is not a module name'],
  ['OS-alpine', 'is not a module name'],
  ['os-', 'is not a module name'],
  ['os-alpine_3', 'is not a module name'],
  ['os--alpine', 'is not a module name'],
  ['provisioner-libvirt-', 'is not a module name'],
  ['os-linux', 'exists already'],
];
const SKIPPED = new Set(['node_modules', 'dist', 'temp', '.turbo', 'coverage']);

class StepFailed extends Error {}

const started = performance.now();
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** Runs a step, then prints its name and duration (steps of the two modules run side by side). */
async function step<T>(name: string, run: () => T | Promise<T>): Promise<T> {
  const at = performance.now();
  try {
    const result = await run();
    console.log(`new-module check: ${name} (${seconds(at)})`);
    return result;
  } catch (error) {
    console.log(`new-module check: ${name} FAILED (${seconds(at)})`);
    throw error;
  }
}

// Offline, and no install behind a script's back: the check installs when it means to.
const ENV = {
  ...process.env,
  pnpm_config_offline: 'true',
  pnpm_config_verify_deps_before_run: 'false',
  FORCE_COLOR: '0',
  NO_COLOR: '1',
};

type Ran = { status: number | null; output: string };

function failed(cwd: string, command: string, args: string[], ran: Ran): StepFailed {
  return new StepFailed(
    `${command} ${args.join(' ')} (in ${cwd}) exited ${ran.status}:\n${ran.output}`,
  );
}

/** Runs a command in `cwd`; throws with its output when it fails (unless `allowFail`). */
function sh(cwd: string, command: string, args: string[], allowFail = false): Ran {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: ENV });
  const ran = { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
  if (!allowFail && ran.status !== 0) throw failed(cwd, command, args, ran);
  return ran;
}

/** The same, without blocking: the two modules' steps run at the same time. */
function run(cwd: string, command: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: ENV });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const ran = { status, output };
      if (status === 0) resolve(ran);
      else reject(failed(cwd, command, args, ran));
    });
  });
}

/** Copies what the workspace is made of into `dir`. */
function copyWorkspace(dir: string): void {
  for (const entry of readdirSync(REPO_ROOT, { withFileTypes: true })) {
    const keep =
      entry.isFile() || ['.changeset', 'packages', 'apps', 'scripts'].includes(entry.name);
    if (!keep) continue;
    cpSync(join(REPO_ROOT, entry.name), join(dir, entry.name), {
      recursive: true,
      filter: (source) => !SKIPPED.has(basename(source)) && !source.endsWith('.tsbuildinfo'),
    });
  }
}

/** What the scaffold could have written to: the packages and the changesets. */
function listing(dir: string): string {
  const entries = (sub: string) => readdirSync(join(dir, sub)).map((entry) => `${sub}/${entry}`);
  return [...entries('packages'), ...entries('.changeset')].sort().join('\n');
}

/** The first `ts` block of a README. */
function readmeExample(readme: string): string {
  const match = /^```ts\n([\s\S]*?)^```$/m.exec(readme);
  if (match === null) throw new StepFailed('the README has no ts example');
  return match[1] as string;
}

/** One generated package: build, typecheck, the kit, its README example, its API report. */
async function checkModule(dir: string, name: string): Promise<void> {
  // The README's example, type-checked with the tests and run as it stands.
  const example = readmeExample(readFileSync(join(dir, 'README.md'), 'utf8'));
  writeFileSync(join(dir, 'test', 'readme-example.ts'), example);
  await step(`${name}: build`, () => run(dir, 'pnpm', ['run', 'build']));
  await step(`${name}: typecheck`, () => run(dir, 'pnpm', ['run', 'typecheck']));
  const kit = await step(`${name}: conformance kit`, () => run(dir, 'pnpm', ['run', 'test']));
  const summary = /Tests\s+(.*)$/m.exec(kit.output)?.[1]?.trim();
  console.log(`new-module check: ${name}: kit tests ${summary ?? '(no summary)'}`);
  await step(`${name}: README example runs`, async () => {
    const { output } = await run(dir, 'pnpm', ['exec', 'tsx', 'test/readme-example.ts']);
    const expected = name.startsWith('os-') ? 'true ready' : 'base 1 linux';
    if (!output.includes(expected))
      throw new StepFailed(`the README example printed\n${output}\nexpected "${expected}"`);
  });
  // Writes the report: fails on a missing TSDoc or release tag, as pnpm api would.
  await step(`${name}: api:update`, () => run(dir, 'pnpm', ['run', 'api:update']));
}

async function check(work: string): Promise<void> {
  await step('documentation blocks match the templates', () => {
    const stale = syncDocs(REPO_ROOT, true);
    if (stale.length > 0)
      throw new StepFailed(`stale in ${stale.join(', ')}: run pnpm new-module --docs`);
  });
  await step('copy the workspace', () => copyWorkspace(work));
  await step('pnpm install --offline', () => sh(work, 'pnpm', ['install', '--offline']));
  await step('bad and taken names are refused, writing nothing', () => {
    const before = listing(work);
    for (const [name, says] of REFUSED) {
      const refusal = (() => {
        try {
          writeModule(work, name);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      if (!(refusal instanceof ScaffoldError) || !refusal.message.includes(says))
        throw new StepFailed(`${name} was not refused with "${says}": ${String(refusal)}`);
    }
    // The command itself: exit status 1 and the message.
    for (const [name, says] of [REFUSED[1], REFUSED.at(-1)] as [string, string][]) {
      const { status, output } = sh(work, 'pnpm', ['new-module', name], true);
      if (status !== 1 || !output.includes(says))
        throw new StepFailed(
          `pnpm new-module ${name} exited ${status}, expected 1 with "${says}":\n${output}`,
        );
    }
    if (listing(work) !== before) throw new StepFailed('a refused name left files behind');
  });
  for (const name of MODULES)
    await step(`pnpm new-module ${name}`, () => sh(work, 'pnpm', ['new-module', name]));
  await step('a name just taken is refused', () => {
    const { status, output } = sh(work, 'pnpm', ['new-module', MODULES[0] as string], true);
    if (status !== 1 || !output.includes('exists already'))
      throw new StepFailed(`a second pnpm new-module ${MODULES[0]} was not refused:\n${output}`);
  });
  // A new package changes the lockfile by design; CI (CI=true) would default to a frozen one.
  await step('pnpm install --offline (links the new packages)', () =>
    sh(work, 'pnpm', ['install', '--offline', '--no-frozen-lockfile']),
  );
  await step('biome check of the new packages', () =>
    sh(work, 'pnpm', ['exec', 'biome', 'check', ...MODULES.map((name) => `packages/${name}`)]),
  );
  await step('build @vlab/core', () =>
    sh(work, 'pnpm', ['--filter', '@vlab/core', 'run', 'build']),
  );
  await Promise.all(MODULES.map((name) => checkModule(join(work, 'packages', name), name)));
  await step('release independence with the new changesets', () =>
    sh(work, 'pnpm', ['exec', 'tsx', 'scripts/check-release-independence.ts']),
  );
  for (const name of MODULES)
    if (existsSync(join(REPO_ROOT, 'packages', name)))
      throw new StepFailed(`packages/${name} appeared in the repository itself`);
}

const work = realpathSync(mkdtempSync(join(tmpdir(), 'vlab-new-module-check-')));
try {
  await check(work);
  console.log(`new-module check: passed in ${seconds(started)}`);
} catch (error) {
  if (!(error instanceof StepFailed)) throw error;
  console.error(`new-module check: ${error.message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
