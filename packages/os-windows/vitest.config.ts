import { defineConfig } from 'vitest/config';

// Unit tests are pure (validation, the scripts parsed with PowerShell's grammar). The peer tests
// run the module over real SSH against @vlab/test-peers' scripted Windows peer (no Windows runs
// on Linux; see the README). The `real` project, against a real Windows machine, exists only when
// VLAB_WINDOWS_HOST names one (see the README). One file at a time: the machine has 2 cores.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.peer.test.ts', 'test/**/*.real.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'peer',
          include: ['test/**/*.peer.test.ts'],
          environment: 'node',
        },
      },
      ...(process.env['VLAB_WINDOWS_HOST']
        ? [
            {
              extends: true as const,
              test: { name: 'real', include: ['test/**/*.real.test.ts'], environment: 'node' },
            },
          ]
        : []),
    ],
  },
});
