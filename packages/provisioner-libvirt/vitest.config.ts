import { defineConfig } from 'vitest/config';

// Unit tests are pure (config, attributes, domain XML; the host scripts run here on temp files).
// The lab tests drive real QEMU guests under a libvirt of their own (@vlab/testlab), the host
// reached over SSH as root; root and scripts/test.sh's packages are needed, and they fail, never
// skip. One file at a time: the machine has 2 cores.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 600_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.lab.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['test/**/*.lab.test.ts'],
          exclude: ['test/conformance.lab.test.ts'],
          environment: 'node',
          // A TCG boot takes 30-90 s on a busy machine; a test loads up to two VMs and captures.
          testTimeout: 900_000,
        },
      },
      {
        // The conformance kit over a libvirt domain: most checks load the VM or capture it, about
        // 40 minutes under TCG (resets restore a saved VM: seconds). Part of `pnpm test`;
        // `pnpm test:kit` runs it alone.
        extends: true,
        test: {
          name: 'kit',
          include: ['test/conformance.lab.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
        },
      },
    ],
  },
});
