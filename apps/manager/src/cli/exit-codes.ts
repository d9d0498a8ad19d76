/** The `vlab` command's exit codes, documented in the manager's README. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The manager refused the request (a 4xx other than authentication): its message says why. */
  refused: 1,
  /** The command line is wrong: an unknown verb or option, a missing argument. */
  usage: 2,
  /** The manager cannot be reached, or failed (a 5xx). */
  unreachable: 3,
  /** No token, or the manager refused it (401), or the user may not do this (403). */
  auth: 4,
  /** What was watched ended badly (a failed reservation). */
  failed: 5,
} as const;

/** An error the command reports on stderr (and as JSON with `--json`), exiting with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string | undefined;
  readonly hint: string | undefined;

  constructor(
    exitCode: number,
    message: string,
    options: { code?: string | undefined; hint?: string | undefined } = {},
  ) {
    super(message);
    this.exitCode = exitCode;
    this.code = options.code;
    this.hint = options.hint;
  }
}
