import { sshError } from './errors.js';

/**
 * The longest command line a remote exec accepts: sshd runs it as the single argument of
 * `sh -c`, and Linux caps one argument at 128 KiB (`MAX_ARG_STRLEN`), terminating NUL included.
 * @public
 */
export const MAX_COMMAND_LINE_BYTES = 128 * 1024 - 1;

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Quotes one argument for a POSIX shell so that the program receives exactly these bytes (the
 * argument's UTF-8 encoding). Words of only safe characters stay bare; everything else is put in
 * single quotes, with each `'` written as `'\''`. Inside single quotes no character is special —
 * not `$`, back-ticks, `\`, newlines, `!` — so this is complete.
 *
 * Throws `VLAB_ERR_SSH_ARGUMENT_INVALID` for a NUL byte (no C program can receive one) and for an
 * unpaired UTF-16 surrogate (it has no UTF-8 encoding, so it could not arrive unchanged).
 * @public
 */
export function quoteArgument(argument: string, index = 0): string {
  if (argument.includes('\0')) {
    throw sshError(
      'VLAB_ERR_SSH_ARGUMENT_INVALID',
      `argument ${index} holds a NUL byte, which no remote program can receive`,
      { details: { index, length: argument.length } },
    );
  }
  if (LONE_SURROGATE.test(argument)) {
    throw sshError(
      'VLAB_ERR_SSH_ARGUMENT_INVALID',
      `argument ${index} holds an unpaired UTF-16 surrogate, which has no UTF-8 encoding`,
      { details: { index, length: argument.length } },
    );
  }
  if (argument === '') return "''";
  if (SAFE.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/**
 * Turns an argument vector into one POSIX shell command line that runs `argv[0]` with exactly
 * the other arguments. The one place where vlab builds remote command lines: no caller pastes
 * strings into a command. Throws `VLAB_ERR_SSH_ARGUMENT_INVALID` for an empty vector, an
 * argument {@link quoteArgument} refuses, or a line longer than {@link MAX_COMMAND_LINE_BYTES}.
 * @public
 */
export function quoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) {
    throw sshError('VLAB_ERR_SSH_ARGUMENT_INVALID', 'the argument vector is empty');
  }
  const line = argv.map((argument, index) => quoteArgument(argument, index)).join(' ');
  assertCommandLineLength(line);
  return line;
}

/** Throws `VLAB_ERR_SSH_ARGUMENT_INVALID` if `line` is too long for one remote exec. @internal */
export function assertCommandLineLength(line: string): void {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > MAX_COMMAND_LINE_BYTES) {
    throw sshError(
      'VLAB_ERR_SSH_ARGUMENT_INVALID',
      `the command line is ${bytes} bytes, over the ${MAX_COMMAND_LINE_BYTES} bytes one remote exec accepts`,
      { details: { bytes, limit: MAX_COMMAND_LINE_BYTES } },
    );
  }
}
