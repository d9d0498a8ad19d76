import { fileURLToPath } from 'node:url';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { createLabHarness, startLab } from '@vlab/testlab';
import { describe, expect, it } from 'vitest';

// The README's example runs as it stands (only the import of @vlab/provisioner-baremetal points at
// src/) against a fresh lab computer: the lab's generic image is imported, loaded and captured.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('README example', () => {
  it('imports, loads and captures a lab computer', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    await using lab = await startLab({ computers: 1, clients: 0 });
    const harness = await createLabHarness(lab, 'c1');
    try {
      const source = await harness.imageSource?.();
      if (source === undefined) throw new Error('the lab harness has no imageSource');
      const c1 = lab.computer('c1');
      const out = await runReadmeExample({
        packageDir: PACKAGE_DIR,
        packageName: '@vlab/provisioner-baremetal',
        example,
        timeoutMs: 900_000,
        env: {
          HOST: c1.ip,
          BMC_HOST: c1.bmc.host,
          BMC_PORT: String(c1.bmc.port),
          BMC_USER: c1.bmc.user,
          BMC_PASSWORD: c1.bmc.password,
          DEPLOY_HOST_KEY: c1.deployHostKeys[0] ?? '',
          KEY_FILE: lab.managementKey.path,
          STORE: `${lab.dir}/readme-store`,
          IMAGE_FILE: source.path ?? '',
          IMAGE_SHA256: source.sha256,
        },
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(out.stdout).toContain('loaded ready\n');
      expect(out.stdout).toContain(`captured 2 ${2 * 2 ** 30}\n`);
      expect(out.stdout).toContain('power off\n');
      // The BMC password never reaches a log line.
      expect(out.stdout).not.toContain(c1.bmc.password);
      expect(await c1.power()).toBe('off');
    } finally {
      await harness.close();
    }
  });
});
