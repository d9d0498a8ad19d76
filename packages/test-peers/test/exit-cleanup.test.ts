import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../src/process-tree.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

// A test process that ends without stopping its peers must not leave them running: a child
// process starts sshd, prints its pid and directory, and exits at once.
describe('peers a test forgot to stop', () => {
  it('are killed, with everything below them, and their directory removed when the process exits', async () => {
    const dir = await mkdtemp(join(PACKAGE_DIR, '.exit-cleanup-'));
    try {
      const script = join(dir, 'forget.mts');
      await writeFile(
        script,
        `import { startSshd } from ${JSON.stringify(join(PACKAGE_DIR, 'src', 'index.ts'))};
const sshd = await startSshd();
console.log(JSON.stringify({ pid: sshd.pid, dir: sshd.dir }));
process.exit(0);
`,
      );
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', script],
          { cwd: PACKAGE_DIR, timeout: 60_000 },
          (error, out, err) =>
            error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
        );
      });
      const peer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        pid: number;
        dir: string;
      };
      expect(peer.pid).toBeGreaterThan(0);
      expect(isAlive(peer.pid)).toBe(false);
      expect(existsSync(peer.dir)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
