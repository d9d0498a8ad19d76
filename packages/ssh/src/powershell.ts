import { coreError, type VlabError, type VlabErrorOptions } from '@vlab/core';
import { unsendable } from './quote.js';

/**
 * The longest command line Windows' sshd can run: it hands the line to `cmd.exe`, which refuses
 * one over 8191 characters ("The command line is too long.").
 * @public
 */
export const MAX_POWERSHELL_COMMAND_LINE = 8191;

/** The program and switches every command runs under; the script follows, encoded. */
const POWERSHELL = 'powershell.exe -NoProfile -NonInteractive -EncodedCommand ';

/**
 * The quote characters PowerShell's tokenizer treats as a single quote (`'` and the typographic
 * ‘ ’ ‚ ‛): inside a verbatim string each is written twice, or it would end the string.
 */
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

const HINT =
  'Pass long, secret or binary values on stdin (the script reads them with [Console]::In.ReadToEnd()), never in the argument vector.';

function argumentInvalid(summary: string, options: VlabErrorOptions = {}): VlabError {
  return coreError('VLAB_ERR_ARGUMENT_INVALID', summary, { hint: HINT, ...options });
}

/**
 * Quotes one value as a PowerShell verbatim string literal: `'…'`, with every single-quote
 * character doubled. Inside it nothing is special — not `$`, back-ticks, `"`, newlines — so the
 * value is data wherever the literal stands. Throws `VLAB_ERR_ARGUMENT_INVALID` for a value that is
 * not a string, holds a NUL or an unpaired surrogate.
 * @public
 */
export function quotePowerShellLiteral(value: string, index = 0): string {
  if (typeof value !== 'string') {
    throw argumentInvalid(
      `argument ${index} is ${value === null ? 'null' : typeof value}, not a string`,
      {
        details: { index },
      },
    );
  }
  const problem = unsendable(value);
  if (problem !== undefined) {
    throw argumentInvalid(`argument ${index} ${problem}`, {
      details: { index, length: value.length },
    });
  }
  return `'${value.replace(SINGLE_QUOTES, (quote) => quote + quote)}'`;
}

/**
 * The script that runs `argv` under PowerShell: `argv[0]` is the caller's own PowerShell code (a
 * command name is code too), run as a script block; every further element is a verbatim literal
 * bound in order to the block's `param()` or `$args`. It reports its process id on stderr first
 * (`vlab-pid:<pid>`) so an abort can end the process tree; a terminating error exits 1 with its
 * message on stderr; otherwise the exit code is the block's own `exit N`, else the last native
 * program's, else 0.
 * @public
 */
export function powerShellScript(argv: readonly string[]): string {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw argumentInvalid('the argument vector is empty or not an array');
  }
  const code = argv[0];
  if (typeof code !== 'string' || code.trim() === '') {
    throw argumentInvalid('argument 0 (the PowerShell code) is empty or not a string', {
      details: { index: 0 },
    });
  }
  const problem = unsendable(code);
  if (problem !== undefined)
    throw argumentInvalid(`argument 0 ${problem}`, { details: { index: 0 } });
  const literals = argv.slice(1).map((value, index) => quotePowerShellLiteral(value, index + 1));
  return [
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    // Windows PowerShell reads stdin and writes stdout in the OEM code page unless told otherwise.
    '$OutputEncoding = [Console]::InputEncoding = [Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)',
    "[Console]::Error.WriteLine('vlab-pid:' + $PID)",
    'try {',
    '& {',
    code,
    `}${literals.map((literal) => ` ${literal}`).join('')}`,
    '} catch {',
    '[Console]::Error.WriteLine($_.ToString())',
    'exit 1',
    '}',
    'exit $LASTEXITCODE',
  ].join('\n');
}

/**
 * The command line Windows' sshd runs for `script`: PowerShell without profile or prompts, the
 * script as `-EncodedCommand` (base64 of its UTF-16LE bytes), so no shell on the way — `cmd.exe`
 * or PowerShell as sshd's `DefaultShell` — reads any of it. Throws `VLAB_ERR_ARGUMENT_INVALID` when
 * the line would pass {@link MAX_POWERSHELL_COMMAND_LINE} (the encoded form is about 2.7 times the
 * script).
 * @public
 */
export function encodePowerShellCommand(script: string): string {
  const line = POWERSHELL + Buffer.from(script, 'utf16le').toString('base64');
  if (line.length > MAX_POWERSHELL_COMMAND_LINE) {
    throw argumentInvalid(
      `the PowerShell command line is ${line.length} characters (a script of ${script.length}), over the ${MAX_POWERSHELL_COMMAND_LINE} cmd.exe accepts`,
      { details: { characters: line.length, limit: MAX_POWERSHELL_COMMAND_LINE } },
    );
  }
  return line;
}

/** The code that ends process `$Id` and its whole tree (Windows has no process groups). */
const KILL_TREE = 'param($Id) & taskkill.exe /T /F /PID $Id';

/**
 * The command line that ends the process tree of `pid` on Windows: `taskkill /T /F`, which
 * returns once the processes are gone.
 * @internal
 */
export function powerShellKillCommand(pid: number): string {
  return encodePowerShellCommand(powerShellScript([KILL_TREE, String(pid)]));
}
