import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Under vitest the worker stays alive whatever core's timers do; a plain `node` process exits as
// soon as nothing ref'd is left, abandoning a pending step or call without a word.
const script = fileURLToPath(new URL('./plain-node/waits-on-core-timers.ts', import.meta.url));

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runNode(args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: child.exitCode, stdout, stderr });
    });
  });
}

describe('under plain node', () => {
  it('a step, a cleanup and a memory-lab call that wait only on core timers keep the process alive until they settle', async () => {
    const exit = await runNode(['--import', 'tsx', script]);
    expect({ code: exit.code, stdout: exit.stdout }, exit.stderr).toEqual({
      code: 0,
      stdout:
        'step: VLAB_ERR_OP_TIMEOUT\n' +
        'cleanup: VLAB_ERR_STEP_CLEANUP_FAILED\n' +
        'stalled call: VLAB_ERR_OP_TIMEOUT\n',
    });
  }, 90_000);
});
