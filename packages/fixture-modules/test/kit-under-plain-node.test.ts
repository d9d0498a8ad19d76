import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Under vitest the worker stays alive whatever the kit's timers do; a plain `node` process exits as
// soon as nothing ref'd is left, abandoning a check in the middle without a word.
const script = fileURLToPath(new URL('./plain-node/run-kit.ts', import.meta.url));

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runNode(args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      args,
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: child.exitCode, stdout, stderr });
      },
    );
  });
}

describe('the conformance kit under plain node', () => {
  it('runs every check of the good modules to the end and exits 0', async () => {
    const exit = await runNode(['--import', 'tsx', script]);
    const lines = exit.stdout.trimEnd().split('\n');
    const summary = lines.at(-1) ?? '';
    const total = Number(/^\d+ of (\d+) checks passed$/.exec(summary)?.[1] ?? Number.NaN);
    // Every check printed its line, and the summary counts them all.
    expect({ code: exit.code, summary, lines: lines.length - 1 }, exit.stderr).toEqual({
      code: 0,
      summary: `${total} of ${total} checks passed`,
      lines: total,
    });
    expect(lines.slice(0, -1).filter((line) => !line.startsWith('ok '))).toEqual([]);
    expect(lines).toContain('ok os/wait-for-response-timeout');
  }, 180_000);
});
