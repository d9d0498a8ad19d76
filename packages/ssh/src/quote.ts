import { coreError, type VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The longest command line a remote exec accepts: sshd runs it as the single argument of
 * `sh -c`, and Linux caps one argument at 128 KiB (`MAX_ARG_STRLEN`), terminating NUL included.
 * @public
 */
export const MAX_COMMAND_LINE_BYTES = 128 * 1024 - 1;

/** What to do about an argument that cannot reach the remote side unchanged. */
const ARGUMENT_HINT =
  'Pass binary or very long data on stdin or as a file (writeFile, put), never in the argument vector; name a program whose name starts with a hyphen by a path (./-x).';

/** `VLAB_ERR_ARGUMENT_INVALID` with the quoting hint unless `options` brings its own. */
function argumentInvalid(summary: string, options: VlabErrorOptions = {}): VlabError {
  return coreError('VLAB_ERR_ARGUMENT_INVALID', summary, { hint: ARGUMENT_HINT, ...options });
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `text` cannot reach the remote side unchanged, or undefined when it can: a NUL byte (no C
 * program or file name can hold one) or an unpaired UTF-16 surrogate (no UTF-8 encoding: ssh2
 * would send U+FFFD instead, so two different strings would arrive as one).
 * @internal
 */
export function unsendable(text: string): string | undefined {
  if (text.includes('\0')) return 'holds a NUL byte, which no remote program or file name can hold';
  if (LONE_SURROGATE.test(text)) {
    return 'holds an unpaired UTF-16 surrogate, which has no UTF-8 encoding';
  }
  return undefined;
}

/** `a number`, `null`, `an object`: what a value is, for messages. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/**
 * Quotes one argument for a POSIX shell so that the program receives exactly these bytes (the
 * argument's UTF-8 encoding). Words of only safe characters stay bare; everything else is put in
 * single quotes, with each `'` written as `'\''`. Inside single quotes no character is special —
 * not `$`, back-ticks, `\`, newlines, `!` — so this is complete.
 *
 * Throws `VLAB_ERR_ARGUMENT_INVALID` for a value that is not a string, a NUL byte (no C
 * program can receive one) and an unpaired UTF-16 surrogate (it has no UTF-8 encoding, so it
 * could not arrive unchanged).
 * @public
 */
export function quoteArgument(argument: string, index = 0): string {
  if (typeof argument !== 'string') {
    const kind = kindOf(argument);
    throw argumentInvalid(`argument ${index} is ${kind}, not a string`, {
      cause: new TypeError(`argument ${index} is ${kind}, not a string`),
      details: { index, type: argument === null ? 'null' : typeof argument },
    });
  }
  const problem = unsendable(argument);
  if (problem !== undefined) {
    throw argumentInvalid(`argument ${index} ${problem}`, {
      details: { index, length: argument.length },
    });
  }
  if (argument === '') return "''";
  if (SAFE.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/**
 * Turns an argument vector into one POSIX shell command line that runs `argv[0]` with exactly
 * the other arguments. The one place where vlab builds remote command lines: no caller pastes
 * strings into a command. Throws `VLAB_ERR_ARGUMENT_INVALID` for an empty vector (or not an
 * array), an argument {@link quoteArgument} refuses, a program name that starts with `-` (the
 * remote wrapper `exec`s the program, and `exec`, `sudo` or `env` would read it as their own
 * options: under bash `['-c', 'id']` would run `id`), or a line longer than
 * {@link MAX_COMMAND_LINE_BYTES}.
 * @public
 */
export function quoteCommand(argv: readonly string[]): string {
  if (!Array.isArray(argv)) {
    throw argumentInvalid(`the argument vector is ${kindOf(argv)}, not an array`, {
      details: { type: argv === null ? 'null' : typeof argv },
    });
  }
  if (argv.length === 0) {
    throw argumentInvalid('the argument vector is empty');
  }
  const line = argv.map((argument, index) => quoteArgument(argument, index)).join(' ');
  if ((argv[0] as string).startsWith('-')) {
    throw argumentInvalid(
      'the program name (argument 0) starts with "-", so the remote shell\'s exec would read it as options',
      {
        details: { index: 0 },
        hint: 'Name the program by a path ("./-x") or put the option after the program name.',
      },
    );
  }
  assertCommandLineLength(line);
  return line;
}

/** Throws `VLAB_ERR_ARGUMENT_INVALID` if `line` is too long for one remote exec. @internal */
export function assertCommandLineLength(line: string): void {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_COMMAND_LINE_BYTES) {
    throw argumentInvalid(
      `the command line is ${bytes} bytes, over the ${MAX_COMMAND_LINE_BYTES} bytes one remote exec accepts`,
      { details: { bytes, limit: MAX_COMMAND_LINE_BYTES } },
    );
  }
}
