import { defineConfig } from 'vitest/config';

// Unit tests are pure (config, computer attributes, shell scripts against a loop device). The lab
// tests load and capture real lab computers of @vlab/testlab (systemd-nspawn, ipmi_sim BMCs, PXE
// deploy environment; root needed, scripts/test.sh installs the packages) and fail, never skip.
// One file at a time: the machine has 2 cores.
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
          environment: 'node',
        },
      },
    ],
  },
});
