import { fileURLToPath } from 'node:url';
import { startIpmiSim } from '@vlab/test-peers';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { describe, expect, it } from 'vitest';

// The README's first example runs as it stands (only the import of @vlab/ipmi points at src/),
// against a real ipmi_sim: a PXE boot and a power cycle.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('README example', () => {
  it('sets PXE and power-cycles an ipmi_sim BMC', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    expect(example.split('\n').filter((line) => line.trim() !== '').length).toBeLessThanOrEqual(14);

    await using sim = await startIpmiSim({ power: 'on' });
    const out = await runReadmeExample({
      packageDir: PACKAGE_DIR,
      packageName: '@vlab/ipmi',
      example,
      env: {
        BMC_HOST: '127.0.0.1',
        BMC_PORT: String(sim.port),
        BMC_USER: sim.username,
        BMC_PASSWORD: sim.password,
      },
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/action: 'cycle', confirmedBy: 'reply'/);
    expect(out.stdout.trim().split('\n').at(-1)).toBe('on');
    expect(await sim.bootDevice()).toBe('pxe');
    expect((await sim.hookCalls()).some((line) => line.endsWith('set power 0'))).toBe(true);
  });
});
