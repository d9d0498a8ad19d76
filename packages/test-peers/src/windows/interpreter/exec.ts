/**
 * Runs one PowerShell script the way `powershell.exe -NoProfile -NonInteractive -EncodedCommand`
 * would: parse (a syntax error is a ParserError on stderr, exit 1), then interpret.
 */

import { basicCommands } from '../commands/basic-commands.js';
import { WindowsMachine } from '../model/windows-machine.js';
import { parsePowerShell, parseProblems } from '../powershell-grammar.js';
import {
  type CommandDefinition,
  CommandTable,
  type MachineLike,
  type ProcessTable,
  type WindowsSession,
} from './command.js';
import { KilledSignal } from './errors.js';
import { Interpreter } from './interpreter.js';

/** How an exec ended. */
export type ExecOutcome =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'killed' };

/** powershell.exe's ParserError text for the first syntax error tree-sitter found. */
function parserErrorText(
  script: string,
  problem: ReturnType<typeof parseProblems>[number],
): string {
  const lineText = script.split(/\r?\n/)[problem.line - 1] ?? '';
  const message =
    problem.kind === 'MISSING'
      ? `Missing '${problem.text}' in the script (tree-sitter-powershell reports a MISSING node).`
      : `Unexpected token '${problem.text.split(/\r?\n/)[0] ?? ''}' in expression or statement.`;
  return (
    `At line:${problem.line} char:${problem.column}\r\n` +
    `+ ${lineText}\r\n` +
    `+ ${' '.repeat(Math.max(0, problem.column - 1))}~\r\n` +
    `${message}\r\n` +
    '    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\r\n' +
    `    + FullyQualifiedErrorId : ${problem.kind === 'MISSING' ? 'MissingToken' : 'UnexpectedToken'}\r\n \r\n`
  );
}

/**
 * Parses and runs a script in a session. Resolves with the exit code, or `killed` when the
 * session's signal ended it (taskkill). Errors of the peer itself (bugs) reject.
 */
export async function executeScript(
  script: string,
  table: CommandTable,
  session: WindowsSession,
  stdin: () => Promise<string>,
): Promise<ExecOutcome> {
  const tree = await parsePowerShell(script);
  try {
    const problems = parseProblems(tree);
    const first = problems[0];
    if (first !== undefined) {
      session.stderr(parserErrorText(script, first));
      return { kind: 'exit', code: 1 };
    }
    const interpreter = new Interpreter({ table, session, stdin });
    try {
      const code = await interpreter.run(tree);
      if (session.signal.aborted) return { kind: 'killed' };
      return { kind: 'exit', code };
    } catch (error) {
      if (error instanceof KilledSignal || session.signal.aborted) return { kind: 'killed' };
      throw error;
    }
  } finally {
    tree.delete();
  }
}

/** What {@link runPowerShell} saw. */
export interface PowerShellRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  /** Names of the commands that started, in order. */
  readonly started: readonly string[];
}

/** Options of {@link runPowerShell}. */
export interface RunPowerShellOptions {
  readonly stdin?: string;
  readonly machine?: MachineLike;
  /** More commands (added to the basic ones). */
  readonly commands?: readonly CommandDefinition[];
  readonly user?: string;
  readonly pid?: number;
}

/** Runs a script without SSH (for interpreter and command tests). */
export async function runPowerShell(
  script: string,
  options: RunPowerShellOptions = {},
): Promise<PowerShellRun> {
  let stdout = '';
  let stderr = '';
  const started: string[] = [];
  const controller = new AbortController();
  const pid = options.pid ?? 4000;
  const processes: ProcessTable = {
    list: () => [
      { pid, parentPid: 3996, imageName: 'powershell.exe', user: options.user ?? 'vlab' },
    ],
    kill: (target) => {
      if (target !== pid) return false;
      controller.abort();
      return true;
    },
  };
  const machine =
    options.machine ?? new WindowsMachine({ computerName: 'VLAB-WIN', hostKeys: 'shared' });
  const session: WindowsSession = {
    pid,
    parentPid: 3996,
    user: options.user ?? 'vlab',
    machine,
    signal: controller.signal,
    stdout: (text) => {
      if (!controller.signal.aborted) stdout += text;
    },
    stderr: (text) => {
      if (!controller.signal.aborted) stderr += text;
    },
    env: new Map([['computername', machine.computerName]]),
    processes,
    commandStarted: (name) => started.push(name),
  };
  const table = new CommandTable([...basicCommands, ...(options.commands ?? [])]);
  const stdin = options.stdin ?? '';
  const outcome = await executeScript(script, table, session, async () => stdin);
  return { stdout, stderr, exitCode: outcome.kind === 'exit' ? outcome.code : -1, started };
}
