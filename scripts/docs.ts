/**
 * Hook for the `docs` task (turbo: `docs` dependsOn `api`), run in each package directory.
 *
 * Placeholder: it only checks that API Extractor left its doc models in `temp/*.api.json`.
 * The docs generator replaces this: read those models and write the pages under the
 * repository's `docs/` folder; `scripts/test.sh` then fails if `docs/` or an API report is stale.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';

const models = (() => {
  try {
    return readdirSync('temp').filter((file) => file.endsWith('.api.json'));
  } catch {
    return [];
  }
})();

if (models.length === 0) {
  console.error(`docs: no temp/*.api.json in ${process.cwd()}; run \`pnpm api\` first`);
  process.exit(1);
}
console.log(
  `docs: ${basename(process.cwd())}: doc models ${models.sort().join(', ')} (generator not yet added)`,
);
