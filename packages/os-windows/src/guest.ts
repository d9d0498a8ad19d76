import { coreError, type OsContext, type RunResult, type VlabError } from '@vlab/core';
import { PS, type ScriptName } from './scripts.js';

/** Options of one guest script. */
export interface ScriptOptions {
  /** Sent to the script's stdin as ASCII JSON (see {@link asciiJson}): the way secrets and structured data travel. */
  readonly stdin?: unknown;
  /** Kill it after this long (never later than the context's deadline). Default: 60000. */
  readonly timeoutMs?: number;
}

/** The longest a single guest script may run unless a step says otherwise. */
const SCRIPT_TIMEOUT_MS = 60_000;

/**
 * JSON with every character outside printable ASCII written as `\uXXXX`: PowerShell reads stdin
 * through the console's code page, which would garble anything else, while `ConvertFrom-Json`
 * decodes the escapes back to the exact text.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The stderr a script left, without the transport's `vlab-pid:` line. */
export function stderrOf(result: RunResult): string {
  return result.stderr
    .toString('utf8')
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('vlab-pid:'))
    .join('\n')
    .trim();
}

/** `VLAB_ERR_COMMAND_FAILED` naming the script (its code is the module's, not worth printing). */
export function scriptFailed(name: string, result: RunResult, computer: string): VlabError {
  const stderr = stderrOf(result);
  const stderrTail = stderr.length > 2048 ? `…${stderr.slice(-2048)}` : stderr;
  return coreError(
    'VLAB_ERR_COMMAND_FAILED',
    `the PowerShell step ${name} exited with code ${result.code}: ${stderrTail || '(no stderr)'}`,
    { computer, details: { program: name, exitCode: result.code, stderrTail } },
  );
}

/**
 * The guest as the module's steps see it: fixed PowerShell scripts ({@link PS}) run through the
 * context's communicator, bounded by the context's deadline and signal. A script is the module's
 * own constant code; every variable part is an argument (bound as a verbatim literal to its
 * `param()`) or JSON on stdin, never pasted into the code. Files are written by a script that
 * takes their content on stdin (the scripted peer has no SFTP, and Windows' SFTP paths differ).
 */
export class Guest {
  readonly ctx: OsContext;

  constructor(ctx: OsContext) {
    this.ctx = ctx;
  }

  /** The computer's name, for errors. */
  get computer(): string {
    return this.ctx.computer.name;
  }

  /** Runs script `name` with `args`; a non-zero exit is returned, not thrown. */
  run(
    name: ScriptName,
    args: readonly string[] = [],
    options: ScriptOptions = {},
  ): Promise<RunResult> {
    return this.ctx.communicator.run([PS[name], ...args], {
      signal: this.ctx.signal,
      timeoutMs: Math.max(
        1,
        Math.min(options.timeoutMs ?? SCRIPT_TIMEOUT_MS, this.ctx.remainingMs()),
      ),
      ...(options.stdin === undefined ? {} : { stdin: asciiJson(options.stdin) }),
    });
  }

  /** Runs script `name`; a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. Returns stdout. */
  async runChecked(
    name: ScriptName,
    args: readonly string[] = [],
    options: ScriptOptions = {},
  ): Promise<string> {
    const result = await this.run(name, args, options);
    if (result.code !== 0) throw scriptFailed(name, result, this.computer);
    return result.stdout.toString('utf8');
  }

  /** Runs script `name` and parses its stdout as JSON (`ConvertTo-Json -Compress`); empty stdout is `undefined`. */
  async json(
    name: ScriptName,
    args: readonly string[] = [],
    options: ScriptOptions = {},
  ): Promise<unknown> {
    const out = (await this.runChecked(name, args, options)).trim();
    if (out === '') return undefined;
    try {
      return JSON.parse(out) as unknown;
    } catch (error) {
      throw coreError(
        'VLAB_ERR_COMMAND_FAILED',
        `the PowerShell step ${name} printed no valid JSON`,
        {
          computer: this.computer,
          cause: error,
          details: { program: name, stdoutHead: out.slice(0, 200) },
        },
      );
    }
  }

  /** A text file's content, or `undefined` when it does not exist. */
  async readFile(path: string): Promise<string | undefined> {
    const result = await this.run('readFile', [path]);
    if (result.code === 3) return undefined;
    if (result.code !== 0) throw scriptFailed('readFile', result, this.computer);
    // Write-Output ends the text with CRLF; the file's own bytes come before it. A BOM (a file
    // written by hand with -Encoding UTF8) is not part of the text.
    return result.stdout
      .toString('utf8')
      .replace(/\r\n$/, '')
      .replace(/^\uFEFF/, '');
  }

  /**
   * Writes a text file (printable ASCII and line breaks only: see {@link asciiJson}), creating
   * its directory; returns false and writes nothing when it already holds `text`.
   */
  async writeFile(path: string, text: string): Promise<boolean> {
    if (!/^[\x20-\x7e\r\n\t]*$/.test(text)) {
      throw coreError('VLAB_ERR_ARGUMENT_INVALID', `the content for ${path} is not ASCII text`, {
        computer: this.computer,
        hint: 'This is a bug of os-windows: it writes only ASCII files (JSON escapes the rest).',
      });
    }
    if ((await this.readFile(path)) === text) return false;
    await this.runChecked('writeFile', [path, path.slice(0, path.lastIndexOf('\\'))], {
      stdin: { text },
    });
    return true;
  }

  /** Removes files or directories (recursively); missing ones are fine. Returns how many existed. */
  async remove(...paths: readonly string[]): Promise<number> {
    if (paths.length === 0) return 0;
    const out = await this.runChecked('removePaths', [], { stdin: { paths } });
    return Number(out.trim()) || 0;
  }
}
