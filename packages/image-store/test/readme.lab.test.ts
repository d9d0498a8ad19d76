import { fileURLToPath } from 'node:url';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { describe, expect, it } from 'vitest';

// The README's example runs as it stands (only the import of @vlab/image-store points at src/).

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('README example', () => {
  it('imports, captures, lists and deletes in a local store', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    const out = await runReadmeExample({
      packageDir: PACKAGE_DIR,
      packageName: '@vlab/image-store',
      example,
      env: {},
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const readme = await import('node:fs/promises').then((fs) =>
      fs.readFile(`${PACKAGE_DIR}/README.md`, 'utf8'),
    );
    const printed = /It prints:\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(printed).toBeDefined();
    expect(out.stdout).toBe(printed);
  });
});
