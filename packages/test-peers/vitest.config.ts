import { defineConfig } from 'vitest/config';

// The launcher tests start real sshd processes; they need root (to run sshd and create the
// test account) and OpenSSH installed (scripts/test.sh installs it). They fail, never skip.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
