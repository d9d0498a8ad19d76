import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** What a finished program left. @public */
export interface RunOutput {
  /** Its exit code (1 when it was killed by a signal or timed out). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link run}. @public */
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

/** Options of {@link runWithFiles}. */
export interface FileRunOptions {
  /** The program's stdin is this file. */
  readonly stdinPath?: string;
  /** The program's stdout goes to this file (created or truncated). */
  readonly stdoutPath?: string;
  /** Killed (SIGKILL) after this long. Default: 600000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Runs a program with its stdin and/or stdout connected to files (for streams too big to hold in
 * memory, such as disk images); resolves with its exit code and stderr (stdout is empty when it
 * went to a file).
 */
export function runWithFiles(
  file: string,
  args: readonly string[],
  options: FileRunOptions,
): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const stdin = options.stdinPath === undefined ? 'ignore' : openSync(options.stdinPath, 'r');
    const stdout = options.stdoutPath === undefined ? 'pipe' : openSync(options.stdoutPath, 'w');
    const child = spawn(file, [...args], { stdio: [stdin, stdout, 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin);
    if (typeof stdout === 'number') closeSync(stdout);
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      err = (err + chunk).slice(-64 * 1024);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${file} could not be started: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: out, stderr: err });
    });
  });
}
