import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InstallDir, makeRealModulesInstallDir } from './install-dir.js';

// The README's configuration and example run as they stand: the configuration with its
// /var/lib/vlab paths moved into a temporary install directory where @vlab/os-linux and
// @vlab/provisioner-baremetal are "installed" (the manager itself resolves neither), the example
// with only its import of @vlab/manager pointed at src/.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

let install: InstallDir;

beforeAll(async () => {
  install = await makeRealModulesInstallDir();
});

afterAll(async () => {
  await install?.remove();
});

describe('README', () => {
  it('starts a manager from the README configuration, twice', async () => {
    const readme = await readFile(join(PACKAGE_DIR, 'README.md'), 'utf8');
    const yaml = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    if (yaml === undefined)
      throw new Error('README.md has no ```yaml block under "## Configuration"');
    const config = await install.write(
      'vlab.yaml',
      yaml.replaceAll('/var/lib/vlab', join(install.dir, 'var')),
    );
    const example = await readmeExample(PACKAGE_DIR);
    const run = () =>
      runReadmeExample({
        packageDir: PACKAGE_DIR,
        packageName: '@vlab/manager',
        example,
        timeoutMs: 120_000,
        env: { VLAB_CONFIG: config, VLAB_BMC_PASSWORD: 'not-used-at-start' },
      });
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('c1 available bm\nc2 available bm\n');
    expect(first.stdout).toContain('HTTP 200 c1 c2\n');
    expect(first.stdout).toMatch(/^linux @vlab\/os-linux@\d+\.\d+\.\d+$/m);
    expect(first.stderr).not.toContain('not-used-at-start');
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('c1 available bm\nc2 available bm\n');
    expect(second.stdout).toContain('HTTP 200 c1 c2\n');
    // The second start found alice registered, so the image has its owner now.
    expect(first.stderr).toMatch(/image owners are not registered users/);
    expect(second.stderr).not.toMatch(/image owners are not registered users/);
  });
});
