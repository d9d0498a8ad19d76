import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * zstd on the manager's host (Node 20's zlib has none): `-c` compresses a raw revision for the
 * wire, `-dc` decodes a captured stream to verify it. Ends with the signal.
 */
export function localZstd(
  args: readonly string[],
  signal: AbortSignal,
): {
  readonly process: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly exit: Promise<void>;
} {
  const child = spawn('zstd', ['-q', ...args], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 16) stderr.push(chunk);
  });
  // A write after zstd ended (it failed, or the transfer stopped) must not crash the process.
  child.stdin.on('error', () => undefined);
  const exit = new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`zstd ${args.join(' ')} on this host: ${error.message}`, { cause: error })),
    );
    child.once('close', (code, killed) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `zstd ${args.join(' ')} on this host ended with ${code ?? killed}: ${Buffer.concat(stderr).toString('utf8').trim()}`,
          ),
        );
    });
  });
  exit.catch(() => undefined);
  return { process: child, exit };
}
