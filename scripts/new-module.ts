/**
 * Writes a new module package that passes the conformance kit on the in-memory lab.
 *
 *   pnpm new-module os-<name>            an OS module:        packages/os-<name>/
 *   pnpm new-module provisioner-<name>   a provisioning module: packages/provisioner-<name>/
 *   pnpm new-module --docs [--check]     rewrite (check) the documentation blocks that print
 *                                        the scaffold's files (scripts/new-module/scaffold.ts)
 *
 * The package: package.json (@vlab/<name>, 0.0.0, ES module, exports of dist/, @vlab/core as a
 * peer with the range the other modules use, the workspace's own versions of every tool and of
 * zod), tsconfig.json and tsconfig.build.json (the repository's strict base plus the strictest
 * flags), vitest.config.ts, api-extractor.json, a README with a runnable example, src/index.ts (a
 * small module that keeps the whole contract: `defineOsModule` or `defineProvisioner` with a zod
 * config) and test/conformance.test.ts (the conformance kit on the memory lab); and the changeset
 * .changeset/<name>-first-release.md. A name that is not os-… or provisioner-…, or that exists,
 * is refused before anything is written.
 *
 * Exit status: 0 when written (or the docs are up to date), 1 when refused (or the docs are
 * stale), 2 on a usage error.
 */
import { REPO_ROOT, ScaffoldError, syncDocs, writeModule } from './new-module/scaffold.js';

const USAGE =
  'usage: pnpm new-module os-<name> | provisioner-<name>\n' +
  '       pnpm new-module --docs [--check]   rewrite (check) the docs that print the scaffold';

function main(args: readonly string[]): number {
  if (args.includes('--docs')) {
    const check = args.includes('--check');
    const stale = syncDocs(REPO_ROOT, check);
    if (stale.length === 0) {
      console.log('new-module: the documentation blocks match the scaffold');
      return 0;
    }
    if (!check) {
      console.log(`new-module: rewrote the scaffold's blocks in ${stale.join(', ')}`);
      return 0;
    }
    console.error(
      `new-module: the scaffold's blocks are stale in ${stale.join(', ')}; run pnpm new-module --docs`,
    );
    return 1;
  }
  const names = args.filter((arg) => arg !== '--');
  if (names.length !== 1 || names[0]?.startsWith('-')) {
    console.error(USAGE);
    return 2;
  }
  const name = names[0] as string;
  const written = writeModule(REPO_ROOT, name);
  console.log(`new-module: wrote @vlab/${name}:`);
  for (const path of written) console.log(`  ${path}`);
  console.log(`
Next, from the repository root:
  pnpm install        links the package and adds it to pnpm-lock.yaml
  pnpm build          builds @vlab/core's dist/, which the package's tests import
  pnpm --filter @vlab/${name} test
                      runs the conformance kit on the memory lab
  pnpm --filter @vlab/${name} api:update
                      writes api/${name}.api.md, which pnpm api checks from then on
Then make it yours: src/index.ts, README.md and the changeset.`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof ScaffoldError)) throw error;
  console.error(`new-module: ${error.message}`);
  process.exitCode = 1;
}
