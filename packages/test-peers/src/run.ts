import { execFile } from 'node:child_process';

/** What a finished helper program left. */
export interface RunOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a local program without a shell and resolves with its exit code and output, whatever the
 * code; rejects only when it cannot be started (ENOENT …).
 */
export function run(
  file: string,
  args: readonly string[],
  options: { readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (typeof code === 'string') {
          reject(new Error(`${file} could not be started (${code})`, { cause: error }));
          return;
        }
        resolve({ code: typeof code === 'number' ? code : error ? 1 : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like {@link run}, but a non-zero exit rejects with the program, its arguments and stderr. */
export async function runChecked(
  file: string,
  args: readonly string[],
  options: { readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<RunOutput> {
  const out = await run(file, args, options);
  if (out.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} exited with code ${out.code}: ${out.stderr.trim() || '(no stderr)'}`,
    );
  }
  return out;
}
