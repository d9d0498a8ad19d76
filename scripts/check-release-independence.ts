/**
 * Checks that a minor release of `@vlab/core` moves no other package's version (README,
 * "Versions"): a module's version is its own, and its peer range on core covers every core minor.
 *
 *   tsx scripts/check-release-independence.ts
 *
 * Works on copies, never on the repository: the root files, `.changeset/` and every workspace
 * package's `package.json` and `CHANGELOG.md` are copied into two temporary directories, and the
 * workspace's own `node_modules/.bin/changeset version` runs in each (offline: no git repository
 * is reachable from the copies, so changesets never fetches).
 *
 *   own changesets    the pending changesets, with every `@vlab/core` entry taken out: each
 *                     package at the bump its own changesets ask
 *   + core minor      the same, plus one changeset releasing `@vlab/core` as a minor
 *
 * Every versioned package other than core (private packages are not versioned, see
 * `privatePackages` in `.changeset/config.json`) must end at the same version in both. Core's own
 * pending changesets are left out of both so that the question stays "does a core minor move a
 * module?" whatever core has pending (with them in, a pending core minor would make the two runs
 * identical and the check could never fail; a pending core major moves modules, as it should).
 *
 * Exit status: 0 when no package moves; 1 naming each package that moves, its two versions and
 * the dependency range that made changesets move it; 2 when the check could not run.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CORE = '@vlab/core';
const DEP_TYPES = ['dependencies', 'peerDependencies', 'optionalDependencies'] as const;

type Manifest = {
  name: string;
  version: string;
  private?: boolean;
} & Partial<Record<(typeof DEP_TYPES)[number], Record<string, string>>>;
type Pkg = { dir: string; manifest: Manifest };
type Release = { name: string; type: string };
type Changeset = { id: string; summary: string; releases: Release[] };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const changesetBin = join(root, 'node_modules', '.bin', 'changeset');

/** The check could not run (exit 2), as opposed to a package that moves (exit 1). */
class CannotRun extends Error {}
function fail(message: string): never {
  throw new CannotRun(message);
}
/** The same, before there is anything to clean up. */
function cannotStart(message: string): never {
  console.error(`release independence: ${message}`);
  process.exit(2);
}

if (!existsSync(changesetBin)) cannotStart(`${changesetBin} is missing: run pnpm install first`);
// The modules changesets itself uses (same versions, same package discovery, same semver).
const cliRequire = createRequire(
  realpathSync(join(root, 'node_modules', '@changesets', 'cli', 'package.json')),
);
const { getPackages } = cliRequire('@manypkg/get-packages') as {
  getPackages(dir: string): Promise<{ packages: { dir: string; packageJson: Manifest }[] }>;
};
const readChangesets = (cliRequire('@changesets/read') as { default: (dir: string) => unknown })
  .default as (dir: string) => Promise<Changeset[]>;
const semver = cliRequire('semver') as {
  satisfies(version: string, range: string): boolean;
  inc(version: string, type: 'minor'): string | null;
};

const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8')) as {
  privatePackages?: { version?: boolean };
  ___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH?: {
    onlyUpdatePeerDependentsWhenOutOfRange?: boolean;
  };
};
const versionsPrivate = config.privatePackages?.version ?? true;

const packages: Pkg[] = (await getPackages(root)).packages
  .map((p) => ({ dir: relative(root, p.dir), manifest: p.packageJson }))
  .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
const core = packages.find((p) => p.manifest.name === CORE);
if (!core) cannotStart(`no workspace package is named ${CORE}`);

/** The files `changeset version` reads or writes, copied into `dir`. */
function copyRepo(dir: string): void {
  for (const entry of readdirSync(root)) {
    const from = join(root, entry);
    if (statSync(from).isFile()) copyFileSync(from, join(dir, entry));
  }
  mkdirSync(join(dir, '.changeset'));
  for (const entry of readdirSync(join(root, '.changeset'))) {
    const from = join(root, '.changeset', entry);
    if (statSync(from).isFile()) copyFileSync(from, join(dir, '.changeset', entry));
  }
  for (const p of packages) {
    mkdirSync(join(dir, p.dir), { recursive: true });
    for (const file of ['package.json', 'CHANGELOG.md']) {
      if (existsSync(join(root, p.dir, file))) {
        copyFileSync(join(root, p.dir, file), join(dir, p.dir, file));
      }
    }
  }
}

function writeChangeset(dir: string, id: string, releases: Release[], summary: string): void {
  const lines = releases.map((r) => `${JSON.stringify(r.name)}: ${r.type}`);
  writeFileSync(
    join(dir, '.changeset', `${id}.md`),
    `---\n${lines.join('\n')}\n---\n\n${summary}\n`,
  );
}

/** Copies the repo, takes core out of the pending changesets, runs `changeset version`. */
async function versionsAfter(
  work: string,
  label: string,
  addCoreMinor: boolean,
): Promise<Map<string, string>> {
  const dir = join(work, label);
  mkdirSync(dir);
  copyRepo(dir);
  for (const changeset of await readChangesets(dir)) {
    if (!changeset.releases.some((r) => r.name === CORE)) continue;
    const others = changeset.releases.filter((r) => r.name !== CORE);
    unlinkSync(join(dir, '.changeset', `${changeset.id}.md`));
    if (others.length > 0) writeChangeset(dir, changeset.id, others, changeset.summary);
  }
  if (addCoreMinor) {
    writeChangeset(dir, 'zz-check-core-minor', [{ name: CORE, type: 'minor' }], 'A core minor.');
  }
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_CEILING_DIRECTORIES: work, CI: 'true' };
  delete env['GIT_DIR'];
  delete env['GIT_WORK_TREE'];
  const run = spawnSync(changesetBin, ['version'], { cwd: dir, env, encoding: 'utf8' });
  if (run.status !== 0) {
    fail(`changeset version failed in the "${label}" copy:\n${run.stdout}${run.stderr}`);
  }
  const versions = new Map<string, string>();
  for (const p of packages) {
    const manifest = JSON.parse(readFileSync(join(dir, p.dir, 'package.json'), 'utf8')) as Manifest;
    versions.set(p.manifest.name, manifest.version);
  }
  return versions;
}

/** The range changesets compares a dependency's new version with (workspace:^ → ^current). */
function effectiveRange(range: string, dependencyVersion: string): string {
  if (!range.startsWith('workspace:')) return range;
  const stripped = range.slice('workspace:'.length);
  if (stripped === '*') return dependencyVersion;
  if (stripped === '^' || stripped === '~') return `${stripped}${dependencyVersion}`;
  return stripped;
}

/** Why changesets moved `pkg`: each of its dependencies that moved and left the range given. */
function why(pkg: Pkg, own: Map<string, string>, withMinor: Map<string, string>): string[] {
  const reasons: string[] = [];
  const peersMajor = config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH
    ?.onlyUpdatePeerDependentsWhenOutOfRange
    ? "when the peer's new version leaves that range"
    : 'whenever it has a minor or major release (onlyUpdatePeerDependentsWhenOutOfRange is off)';
  for (const type of DEP_TYPES) {
    for (const [name, range] of Object.entries(pkg.manifest[type] ?? {})) {
      const dependency = packages.find((p) => p.manifest.name === name);
      const next = withMinor.get(name);
      if (!dependency || next === undefined || next === own.get(name)) continue;
      const current = dependency.manifest.version;
      const effective = effectiveRange(range, current);
      const inRange = semver.satisfies(next, effective);
      const shown = effective === range ? `"${range}"` : `"${range}" (${effective} at release)`;
      const verdict = inRange ? 'covers' : 'does not cover';
      const rule =
        type === 'peerDependencies'
          ? `changesets releases a peer dependent as a major ${peersMajor}`
          : 'changesets releases a dependent whose dependency leaves its range';
      const note =
        !inRange && effective.startsWith('^0.')
          ? ` (${name} is ${current}: on 0.x a caret range covers one minor only)`
          : '';
      reasons.push(`${type} "${name}": ${shown} ${verdict} ${name} ${next}${note}; ${rule}`);
    }
  }
  if (reasons.length === 0)
    reasons.push('changesets moved it as a dependent of a package that moved');
  return reasons;
}

/** Runs the check in a temporary directory it removes; returns the exit status. */
async function main(): Promise<number> {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'vlab-release-check-')));
  try {
    return await check(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function check(work: string): Promise<number> {
  const own = await versionsAfter(work, 'own-changesets', false);
  const withMinor = await versionsAfter(work, 'plus-core-minor', true);
  const coreFrom = own.get(CORE) ?? '';
  const coreTo = withMinor.get(CORE) ?? '';
  if (coreTo !== semver.inc(coreFrom, 'minor')) {
    fail(`the added changeset took ${CORE} from ${coreFrom} to ${coreTo}, not to its next minor`);
  }

  const versioned = packages.filter((p) => versionsPrivate || p.manifest.private !== true);
  const moved = versioned.filter(
    (p) => p.manifest.name !== CORE && own.get(p.manifest.name) !== withMinor.get(p.manifest.name),
  );
  const width = Math.max(...versioned.map((p) => p.manifest.name.length));
  console.log(
    `release independence: does a ${CORE} minor (${coreFrom} → ${coreTo}) move anything?`,
  );
  console.log(`  ${'package'.padEnd(width)}  now       own changesets  + core minor`);
  for (const p of versioned) {
    const name = p.manifest.name;
    const columns = [
      name.padEnd(width),
      p.manifest.version.padEnd(8),
      (own.get(name) ?? '').padEnd(14),
      `${withMinor.get(name)}${moved.includes(p) ? '  ← moved' : ''}`,
    ];
    console.log(`  ${columns.join('  ')}`);
  }
  if (moved.length === 0) {
    console.log(`release independence: a ${CORE} minor moves no other package`);
    return 0;
  }
  for (const p of moved) {
    const name = p.manifest.name;
    console.error(
      `\n${name} moves with a ${CORE} minor: ${own.get(name)} with its own changesets, ` +
        `${withMinor.get(name)} once ${CORE} goes ${coreFrom} → ${coreTo}.`,
    );
    for (const reason of why(p, own, withMinor)) console.error(`  why: ${reason}.`);
  }
  console.error(
    `\nA core minor must move no module (README, "Versions"): core's package major follows ` +
      `the contract major, so a module's peer range ^<contract major> covers every core minor.`,
  );
  return 1;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const text =
      error instanceof CannotRun ? error.message : String((error as Error)?.stack ?? error);
    console.error(`release independence: ${text}`);
    process.exitCode = 2;
  },
);
