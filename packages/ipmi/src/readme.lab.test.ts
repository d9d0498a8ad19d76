import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIpmiSim } from '@vlab/test-peers';
import { describe, expect, it } from 'vitest';

// The README's first example runs as it stands (only the import of @vlab/ipmi points at src/),
// against a real ipmi_sim: a PXE boot and a power cycle.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('README example', () => {
  it('sets PXE and power-cycles an ipmi_sim BMC', async () => {
    const readme = await readFile(join(PACKAGE_DIR, 'README.md'), 'utf8');
    const example = /## Example[^\n]*\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    if (example === undefined) throw new Error('README.md has no ```ts block under "## Example"');
    expect(example.split('\n').filter((line) => line.trim() !== '').length).toBeLessThanOrEqual(14);

    await using sim = await startIpmiSim({ power: 'on' });
    const dir = await mkdtemp(join(PACKAGE_DIR, '.readme-example-'));
    try {
      const file = join(dir, 'example.mts');
      const source = example.replace(
        "from '@vlab/ipmi'",
        `from ${JSON.stringify(join(PACKAGE_DIR, 'src', 'index.ts'))}`,
      );
      await writeFile(file, source);
      const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', file],
          {
            cwd: PACKAGE_DIR,
            timeout: 60_000,
            env: {
              ...process.env,
              BMC_HOST: '127.0.0.1',
              BMC_PORT: String(sim.port),
              BMC_USER: sim.username,
              BMC_PASSWORD: sim.password,
            },
          },
          (error, stdout, stderr) =>
            resolve({
              code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
              stdout,
              stderr,
            }),
        );
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/action: 'cycle', confirmedBy: 'reply'/);
      expect(out.stdout.trim().split('\n').at(-1)).toBe('on');
      expect(await sim.bootDevice()).toBe('pxe');
      expect((await sim.hookCalls()).some((line) => line.endsWith('set power 0'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
