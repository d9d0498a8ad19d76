import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { RunOutput } from '@vlab/test-peers';

// run and runChecked are test-peers' (one implementation for every test helper).
export { type RunOptions, type RunOutput, run, runChecked } from '@vlab/test-peers';

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
