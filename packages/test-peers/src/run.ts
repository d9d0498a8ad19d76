import { execFile } from 'node:child_process';

/** What a finished program left. */
export interface RunOutput {
  /** Its exit code (1 when it was killed by a signal or timed out). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Written to the program's stdin, then stdin is closed. */
  readonly input?: string | Buffer;
  /** Killed (SIGKILL) after this long. Default: 60000 ms. */
  readonly timeoutMs?: number;
  /** Added to this process's environment (the way to hand a program a secret: not in argv). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs a program without a shell and resolves with its exit code and output, whatever the code;
 * rejects only when it cannot be started (ENOENT …).
 */
export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      {
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
      },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (typeof code === 'string') {
          reject(new Error(`${file} could not be started (${code})`, { cause: error }));
          return;
        }
        resolve({ code: typeof code === 'number' ? code : error ? 1 : 0, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => undefined); // the program may exit without reading its input
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Like {@link run}, but a non-zero exit rejects with the program, its arguments and stderr. */
export async function runChecked(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunOutput> {
  const out = await run(file, args, options);
  if (out.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} exited with code ${out.code}: ${out.stderr.trim() || out.stdout.trim() || '(no output)'}`,
    );
  }
  return out;
}
