/** PowerShell variable scopes: the global (= script) scope of an exec and child scopes of script blocks. */
import type { PsValue } from './values.js';

export class Scope {
  private readonly vars = new Map<string, PsValue>();
  constructor(readonly parent?: Scope) {}

  /** The outermost scope (`$global:` and, for an -EncodedCommand script, `$script:`). */
  get root(): Scope {
    return this.parent === undefined ? this : this.parent.root;
  }

  /** Looks a variable up here and in the parents (PowerShell's dynamic scoping). */
  lookup(name: string): { found: boolean; value: PsValue } {
    const key = name.toLowerCase();
    for (let scope: Scope | undefined = this; scope !== undefined; scope = scope.parent) {
      if (scope.vars.has(key)) return { found: true, value: scope.vars.get(key) ?? null };
    }
    return { found: false, value: null };
  }

  /** Assigns in this scope (an assignment creates a local variable, as in PowerShell). */
  set(name: string, value: PsValue): void {
    this.vars.set(name.toLowerCase(), value);
  }
}
