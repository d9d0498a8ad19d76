/** Errors and control-flow signals of the Windows peer's PowerShell interpreter. */

/** Options of a {@link PsError}. */
export interface PsErrorOptions {
  /** PowerShell's FullyQualifiedErrorId, e.g. `CommandNotFoundException`. */
  readonly fullyQualifiedErrorId?: string;
  /** PowerShell's ErrorCategory name, e.g. `ObjectNotFound`. */
  readonly category?: string;
  /** The .NET exception type of `$_.Exception`, e.g. `System.Management.Automation.RuntimeException`. */
  readonly exceptionType?: string;
  /**
   * A terminating error (`throw`, parameter binding, parse errors) unwinds even when the error
   * action is not Stop; a non-terminating one (a cmdlet's Write-Error) obeys -ErrorAction and
   * `$ErrorActionPreference`. Default false.
   */
  readonly terminating?: boolean;
}

/**
 * A PowerShell error. Under `$ErrorActionPreference = 'Stop'` (the wrapper sets it) every error is
 * terminating: it unwinds to the nearest `catch`, where `$_.ToString()` is `message`.
 */
export class PsError extends Error {
  readonly fullyQualifiedErrorId: string;
  readonly category: string;
  readonly exceptionType: string;
  readonly terminating: boolean;
  constructor(message: string, options: PsErrorOptions = {}) {
    super(message);
    this.name = 'PsError';
    this.fullyQualifiedErrorId = options.fullyQualifiedErrorId ?? 'RuntimeException';
    this.category = options.category ?? 'NotSpecified';
    this.exceptionType = options.exceptionType ?? 'System.Management.Automation.RuntimeException';
    this.terminating = options.terminating ?? false;
  }
}

/** A construct the peer does not model: always an error, never silently ignored. */
export function notModelled(what: string, nodeType?: string): PsError {
  const node = nodeType === undefined ? '' : ` (tree-sitter node '${nodeType}')`;
  return new PsError(`the Windows peer does not model ${what}${node}`, {
    fullyQualifiedErrorId: 'NotModelledByWindowsPeer',
    category: 'NotImplemented',
    terminating: true,
  });
}

/** `exit N`: ends the whole exec with that code. */
export class ExitSignal {
  constructor(readonly code: number) {}
}

/** `return`: leaves the current script block, with what it wrote. */
export class ReturnSignal {
  constructor(readonly values: unknown[]) {}
}

/** `break` / `continue` inside a loop. */
export class LoopSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

/** The exec was ended from outside (taskkill): unwinds everything, nothing catches it. */
export class KilledSignal {
  constructor(readonly by: string) {}
}
