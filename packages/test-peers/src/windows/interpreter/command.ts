/**
 * The interface between the Windows peer's PowerShell interpreter and the commands it models
 * (cmdlets/functions and native programs). Other files register commands with {@link defineCmdlet}
 * and {@link defineNative}; a peer is built with a {@link CommandTable} of them.
 *
 * ```ts
 * export type PsValue = null | boolean | number | string | PsValue[] | PsObject | PsScriptBlock | PsHashtable;
 * export interface CommandCall {
 *   readonly name: string;                          // as written in the script
 *   readonly named: ReadonlyMap<string, PsValue>;   // declared param name, lowercase -> value (switch -> true)
 *   readonly positional: readonly PsValue[];        // cmdlets: always [] (bound to declared params);
 *                                                   // natives: every argument as a string
 *   readonly input: readonly PsValue[];             // pipeline input ([] when none)
 *   readonly stdin: () => string | Promise<string>; // the exec's stdin, read to end (await it: waits for EOF)
 *   readonly session: WindowsSession;               // pid, writers, abort signal, the machine
 *   readonly invoke: (block: PsScriptBlock, options?: InvokeOptions) => Promise<PsValue[]>;
 *   readonly warning?: (text: string) => void;      // the warning stream, honours -WarningAction
 * }
 * export type Cmdlet = (call: CommandCall) => Promise<PsValue[]> | PsValue[];   // output objects
 * export type NativeCommand = (call: CommandCall) =>
 *   Promise<NativeResult> | NativeResult;           // { stdout, stderr, exitCode }
 * defineCmdlet({ name, aliases?, parameters: ParameterSpec[], pipeline?: 'all' | 'each', source, run })
 * defineNative({ names: ['taskkill.exe', 'taskkill'], source, run })
 * new CommandTable([...definitions])
 * ```
 * Errors: `throw new PsError(message, { fullyQualifiedErrorId, category })` (./errors.js). The
 * wrapper sets `$ErrorActionPreference = 'Stop'`, so it is terminating and `catch` sees `message`.
 */

import type { WindowsMachine } from '../model/windows-machine.js';
import { PsError } from './errors.js';
import type { PsScriptBlock, PsValue } from './values.js';

export { PsError } from './errors.js';
export type { PsValue } from './values.js';
export { ErrorRecord, PsHashtable, PsObject, PsScriptBlock } from './values.js';

/** The modelled machine a session runs on (the model's own type; see ../model/windows-machine.ts). */
export type MachineLike = WindowsMachine;

/** One modelled process (an exec's powershell.exe), as taskkill sees it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly parentPid: number;
  readonly imageName: string;
  /** The account it runs as (the SSH user). */
  readonly user: string;
}

/** The running execs of a peer, for taskkill. */
export interface ProcessTable {
  /** Every live process. */
  list(): readonly ProcessInfo[];
  /** Ends the process (and its exec's channel, exit status 1). False if there is no such pid. */
  kill(pid: number, by: string): boolean;
}

/** The exec a command runs in. */
export interface WindowsSession {
  /** The exec's fake PID (`$PID`). */
  readonly pid: number;
  /** The PID of its parent (the connection's fake sshd process). */
  readonly parentPid: number;
  /** The user the SSH connection logged in as (`whoami`: `<computer>\<user>`, lowercase). */
  readonly user: string;
  /** The modelled machine. */
  readonly machine: WindowsMachine;
  /** Aborted when the exec is killed (taskkill) or the connection/peer ends. */
  readonly signal: AbortSignal;
  /** Writes to the exec's stdout / stderr (text as is; add `\r\n` yourself). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** Environment variables (`$env:NAME`), case-insensitive keys stored lowercase. */
  readonly env: Map<string, string>;
  /** The peer's processes (for taskkill). */
  readonly processes: ProcessTable;
  /** Tells the peer's listeners that a command started (the interpreter calls it for every command). */
  commandStarted(name: string): void;
}

/** Options of {@link CommandCall.invoke}. */
export interface InvokeOptions {
  /** `$_` / `$PSItem` inside the block. */
  readonly dollarUnder?: PsValue;
  /** `$args` / param() arguments. */
  readonly args?: readonly PsValue[];
}

/** One invocation of a modelled command. */
export interface CommandCall {
  /** The command name as written in the script. */
  readonly name: string;
  /** Cmdlets: declared parameter name (lowercase) -> bound value (a switch -> true). */
  readonly named: ReadonlyMap<string, PsValue>;
  /** Cmdlets: always empty (positional arguments are bound to declared parameters). Natives: all arguments as strings. */
  readonly positional: readonly PsValue[];
  /** Pipeline input (empty when none). For `pipeline: 'each'` cmdlets, the one current item. */
  readonly input: readonly PsValue[];
  /** The exec's stdin, read to the end: resolves at the client's EOF (the same text every call). */
  readonly stdin: () => string | Promise<string>;
  readonly session: WindowsSession;
  /** Runs a script block (ForEach-Object, Where-Object) dot-sourced in the caller's scope; returns its output. */
  readonly invoke: (block: PsScriptBlock, options?: InvokeOptions) => Promise<PsValue[]>;
  /**
   * Writes to the warning stream: `WARNING: <text>\r\n` on stdout (powershell.exe with redirected
   * output), unless -WarningAction / $WarningPreference is SilentlyContinue or Ignore; Stop makes it
   * an error. Always present in calls the interpreter makes (optional for hand-made calls in tests).
   */
  readonly warning?: (text: string) => void;
}

/** A cmdlet's run function: returns its output objects. */
export type Cmdlet = (call: CommandCall) => Promise<PsValue[]> | PsValue[];

/** What a native program did. */
export interface NativeResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}
export type NativeCommand = (call: CommandCall) => Promise<NativeResult> | NativeResult;

/** How a parameter's value is converted when bound. */
export type ParameterType =
  | 'any'
  | 'string'
  | 'string[]'
  | 'int'
  | 'bool'
  | 'switch'
  | 'scriptblock'
  | 'object[]';

/** A declared cmdlet parameter. */
export interface ParameterSpec {
  /** Its name as documented, e.g. `ExpandProperty`. */
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Default 'any'. 'switch' takes no value (`-Force`, or `-Force:$false`). */
  readonly type?: ParameterType;
  /** 0-based position for positional binding; absent: named only. */
  readonly position?: number;
  readonly mandatory?: boolean;
  /** Binds pipeline input (ByValue) when not bound otherwise. */
  readonly valueFromPipeline?: boolean;
  /** ValueFromRemainingArguments: takes every leftover positional argument, as an array. */
  readonly remaining?: boolean;
}

/** A modelled cmdlet or function. */
export interface CmdletDefinition {
  readonly kind: 'cmdlet';
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly parameters: readonly ParameterSpec[];
  /**
   * 'all' (default): runs once with all pipeline input in `input` (an end block, e.g. ConvertTo-Json).
   * 'each': runs once per input item, with the `valueFromPipeline` parameter bound to it (a process block).
   */
  readonly pipeline?: 'all' | 'each';
  /** Where the modelled behaviour comes from (Microsoft Learn URL). */
  readonly source?: string;
  readonly run: Cmdlet;
}

/** A modelled native program. */
export interface NativeDefinition {
  readonly kind: 'native';
  /** File names it answers to, e.g. `['taskkill.exe', 'taskkill']`; full paths match on their last part. */
  readonly names: readonly string[];
  /** Optional full paths it also answers to only (e.g. `C:\Windows\System32\Sysprep\sysprep.exe`). */
  readonly paths?: readonly string[];
  readonly source?: string;
  readonly run: NativeCommand;
}

export type CommandDefinition = CmdletDefinition | NativeDefinition;

/** Finds a native program for a name no definition lists (see {@link CommandTable.addResolver}). */
export type NativeResolver = (
  name: string,
  session: WindowsSession,
) => NativeDefinition | undefined;

export function defineCmdlet(definition: Omit<CmdletDefinition, 'kind'>): CmdletDefinition {
  return { kind: 'cmdlet', ...definition };
}

export function defineNative(definition: Omit<NativeDefinition, 'kind'>): NativeDefinition {
  return { kind: 'native', ...definition };
}

/** The commands a peer models; lookups are case-insensitive like Windows'. */
export class CommandTable {
  private readonly cmdlets = new Map<string, CmdletDefinition>();
  private readonly natives = new Map<string, NativeDefinition>();
  private readonly resolvers: NativeResolver[] = [];

  constructor(definitions: Iterable<CommandDefinition> = []) {
    this.add(...definitions);
  }

  /** Adds definitions; a later one with the same name replaces the earlier one. */
  add(...definitions: CommandDefinition[]): this {
    for (const definition of definitions) {
      if (definition.kind === 'cmdlet') {
        for (const name of [definition.name, ...(definition.aliases ?? [])]) {
          this.cmdlets.set(name.toLowerCase(), definition);
        }
      } else {
        for (const name of [...definition.names, ...(definition.paths ?? [])]) {
          this.natives.set(name.toLowerCase(), definition);
        }
      }
    }
    return this;
  }

  /** A new table with this one's commands and more. */
  with(...definitions: CommandDefinition[]): CommandTable {
    const table = new CommandTable();
    for (const definition of new Set([...this.cmdlets.values(), ...this.natives.values()])) {
      table.add(definition);
    }
    for (const resolver of this.resolvers) table.addResolver(resolver);
    return table.add(...definitions);
  }

  /**
   * Adds a fallback for names no definition lists, e.g. scripts (`.cmd`) on the modelled file
   * system: asked in order, with the session, after the listed natives.
   */
  addResolver(resolver: NativeResolver): this {
    this.resolvers.push(resolver);
    return this;
  }

  /** A listed native, else the first resolver's answer. */
  resolveNative(name: string, session: WindowsSession): NativeDefinition | undefined {
    const listed = this.native(name);
    if (listed !== undefined) return listed;
    for (const resolver of this.resolvers) {
      const found = resolver(name, session);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  cmdlet(name: string): CmdletDefinition | undefined {
    return this.cmdlets.get(name.toLowerCase());
  }

  /** A native by name (`taskkill`, `taskkill.exe`) or path (`C:\Windows\System32\taskkill.exe`). */
  native(name: string): NativeDefinition | undefined {
    const lower = name.toLowerCase();
    const exact = this.natives.get(lower);
    if (exact !== undefined) return exact;
    if (/[\\/]/.test(lower)) {
      const base = lower.split(/[\\/]/).pop() ?? lower;
      const byBase = this.natives.get(base);
      // A path names a program only where a listed path agrees, or the native lists no paths.
      if (byBase !== undefined && (byBase.paths ?? []).length === 0) return byBase;
    }
    return undefined;
  }
}

/** `The term 'x' is not recognized ...` (PowerShell 5.1's CommandNotFoundException text). */
export function commandNotFound(name: string): PsError {
  return new PsError(
    `The term '${name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
    {
      fullyQualifiedErrorId: 'CommandNotFoundException',
      category: 'ObjectNotFound',
      exceptionType: 'System.Management.Automation.CommandNotFoundException',
    },
  );
}
