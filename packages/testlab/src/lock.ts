import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Runs `fn` while holding an exclusive `flock` on `path`, machine-wide. The lock is held by a
 * `flock … cat` child that ends when our end of its stdin closes, so it is released even if this
 * process is killed. Rejects with `what` in the message when the lock is not free in time.
 */
export async function withMachineLock<T>(
  path: string,
  what: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const holder = spawn(
    'flock',
    ['-x', '-w', String(Math.ceil(timeoutMs / 1000)), path, 'sh', '-c', 'echo locked; exec cat'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => holder.once('exit', resolve));
  let stderr = '';
  holder.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  holder.stdin.on('error', () => undefined);
  const locked = await new Promise<boolean>((resolve, reject) => {
    holder.once('error', (error) =>
      reject(new Error(`flock could not be started (util-linux): ${error.message}`)),
    );
    holder.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('locked')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    throw new Error(
      `could not take the machine-wide lock ${path} for ${what} within ${Math.round(timeoutMs / 1000)} s: ` +
        `another process holds it (${stderr.trim() || 'flock timed out'})`,
    );
  }
  try {
    return await fn();
  } finally {
    holder.stdin.end();
    await exited;
  }
}
