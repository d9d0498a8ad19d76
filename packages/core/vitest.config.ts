import { defineConfig } from 'vitest/config';

// Tests run against this package's own `src` (vitest transpiles TypeScript); other
// workspace packages are consumed through their built `dist` (turbo `test` dependsOn `^build`).
// Each entry of `test.projects` is a suite; add e.g. a `lab` project next to `unit` later.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          typecheck: {
            enabled: true,
            include: ['test/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
    ],
  },
});
