import { defineConfig } from 'vitest/config';

// The lab tests boot real Debian guests (systemd-nspawn), BMCs (ipmi_sim) and network
// namespaces. They need root and the Debian packages of scripts/setup.sh; they fail, never skip.
// One file at a time, one test at a time: the machine has 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
