import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What a finished ipmitool left. */
export interface ToolOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const IPMITOOL = process.env['VLAB_IPMITOOL'] ?? '/usr/bin/ipmitool';

/** Throws (the test fails, never skips) when ipmitool is missing. */
export function requireIpmitool(): string {
  if (!existsSync(IPMITOOL)) {
    throw new Error(
      `ipmitool not found at ${IPMITOOL}: install the Debian package ipmitool (scripts/test.sh does) or set VLAB_IPMITOOL`,
    );
  }
  return IPMITOOL;
}

/**
 * Runs the real `ipmitool -I lanplus` against 127.0.0.1:`port`; the password goes in the
 * environment (`-E`), never in argv. Resolves whatever the exit code.
 */
export function ipmitool(
  target: { readonly port: number; readonly username: string; readonly password: string },
  suite: 3 | 17,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<ToolOutput> {
  const tool = requireIpmitool();
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      [
        '-I',
        'lanplus',
        '-C',
        String(suite),
        '-H',
        '127.0.0.1',
        '-p',
        String(target.port),
        '-U',
        target.username,
        '-E',
        // One try with a short timeout: loopback is fast and failures should show quickly.
        '-N',
        '2',
        '-R',
        '2',
        ...args,
      ],
      {
        timeout: timeoutMs,
        env: { ...process.env, IPMI_PASSWORD: target.password },
        maxBuffer: 4 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (typeof code === 'string') {
          reject(new Error(`ipmitool could not be started (${code})`, { cause: error }));
          return;
        }
        resolve({ code: typeof code === 'number' ? code : error ? 1 : 0, stdout, stderr });
      },
    );
  });
}

/** Like {@link ipmitool}, but a non-zero exit throws with ipmitool's output. */
export async function ipmitoolChecked(
  target: { readonly port: number; readonly username: string; readonly password: string },
  suite: 3 | 17,
  args: readonly string[],
): Promise<string> {
  const out = await ipmitool(target, suite, args);
  if (out.code !== 0) {
    throw new Error(
      `ipmitool -C ${suite} ${args.join(' ')} exited with ${out.code}:\n${out.stderr}${out.stdout}`,
    );
  }
  return out.stdout;
}
