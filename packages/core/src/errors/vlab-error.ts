/** What every vlab error carries besides its code and message. @public */
export interface VlabErrorOptions {
  /** The computer the failed operation was acting on, when there is one. */
  readonly computer?: string | undefined;
  /** What the operator should do about it. Defaults to the hint documented for the code. */
  readonly hint?: string | undefined;
  /** The underlying error, kept for logs and debugging. */
  readonly cause?: unknown;
  /** Structured facts about the failure (exit code, deadline, versions …). Never secrets. */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

const VLAB_ERROR_BRAND = Symbol.for('vlab.error');

/**
 * The base class of every error a vlab package throws on purpose.
 *
 * @remarks
 * Recognise errors with {@link isVlabError} and their {@link VlabError.code}, never with
 * `instanceof`: two copies of `@vlab/core` in one process must not break error handling. Every
 * instance carries the brand `Symbol.for('vlab.error')` (non-enumerable), which `isVlabError`
 * looks for; create errors through this class (or {@link coreError}), never as a plain object or
 * `Error` with a `code`. The message says what failed and on which computer;
 * {@link VlabError.hint} says what to do.
 * @public
 */
export class VlabError extends Error {
  /** Stable code, `VLAB_ERR_<AREA>_<PROBLEM>`. A retired code is never reused. */
  readonly code: string;
  /** The computer the operation was acting on, if any. */
  readonly computer: string | undefined;
  /** What the operator should do. */
  readonly hint: string;
  /** Structured facts about the failure. Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;
  /** The message without the computer and the hint. */
  readonly summary: string;

  /**
   * Makes an error whose message is `<code>: <summary> (computer "<name>"). What to do: <hint>`.
   * For a core code use {@link coreError}, which fills in the documented hint.
   * @param code - A code of the shape `VLAB_ERR_<AREA>_<PROBLEM>`, documented by its package.
   * @param summary - What failed, without the computer or the hint.
   */
  constructor(code: string, summary: string, options: VlabErrorOptions & { hint: string }) {
    const where = options.computer === undefined ? '' : ` (computer "${options.computer}")`;
    super(`${code}: ${summary}${where}. What to do: ${options.hint}`, { cause: options.cause });
    this.name = 'VlabError';
    this.code = code;
    this.summary = summary;
    this.computer = options.computer;
    this.hint = options.hint;
    this.details = options.details ?? {};
    Object.defineProperty(this, VLAB_ERROR_BRAND, { value: true });
  }
}

/**
 * Whether `error` is a vlab error, optionally with the given code.
 *
 * @remarks
 * It looks for the brand `Symbol.for('vlab.error')` that every {@link VlabError} carries (a
 * registered symbol, so it works across copies of `@vlab/core` in one process), not at the class
 * and not at the code's prefix: since contract 1.1 a plain object or `Error` with a
 * `code: 'VLAB_ERR_…'` is not a vlab error.
 * @param code - When given, the error must also have exactly this code.
 * @public
 */
export function isVlabError(error: unknown, code?: string): error is VlabError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; [VLAB_ERROR_BRAND]?: unknown };
  if (candidate[VLAB_ERROR_BRAND] !== true || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** One row of a package's error table: what the code means and what to do. @public */
export interface ErrorCodeInfo {
  /** What happened, in one sentence. */
  readonly meaning: string;
  /** What the operator should do, in one or two sentences. */
  readonly hint: string;
}

/** Checks the shape of an error code: `VLAB_ERR_<AREA>_<PROBLEM>`. @public */
export const ERROR_CODE_PATTERN: RegExp = /^VLAB_ERR_[A-Z0-9]+_[A-Z0-9_]+$/;
