import { defineConfig } from 'vitest/config';

// Tests run against this package's own `src`; `@vlab/core` and `@vlab/ssh` through their built
// `dist` (turbo `test` dependsOn `^build`), `@vlab/test-peers` as TypeScript source. The lab tests
// mount a small tmpfs and start their own OpenSSH sshd (root needed; scripts/test.sh installs
// openssh-server) and fail, never skip, when they cannot. Files run one at a time.
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
