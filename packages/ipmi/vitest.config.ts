import { defineConfig } from 'vitest/config';

// Tests run against this package's own `src`; `@vlab/core` through its built `dist` (turbo
// `test` dependsOn `^build`), `@vlab/test-peers` as TypeScript source. The lab tests start their
// own OpenIPMI `ipmi_sim` and run the real `ipmitool` (scripts/test.sh installs openipmi and
// ipmitool); they fail, never skip, when they cannot. Files run one at a time: the machine has
// 2 cores and other suites share it.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
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
