// Calls the Windows peer's modelled commands directly, with hand-made CommandCall objects.

import { machineCommands } from '../src/windows/commands/model-commands.js';
import type {
  CmdletDefinition,
  CommandCall,
  NativeDefinition,
  NativeResult,
  PsValue,
  WindowsSession,
} from '../src/windows/interpreter/command.js';
import { CommandTable } from '../src/windows/interpreter/command.js';
import type { WindowsMachine } from '../src/windows/model/windows-machine.js';

export const table = new CommandTable(machineCommands);

export interface Ran {
  out: PsValue[];
  stdout: string;
  stderr: string;
}

function session(
  machine: WindowsMachine,
  sink: { stdout: string; stderr: string },
): WindowsSession {
  return {
    pid: 4000,
    parentPid: 3996,
    user: 'administrator',
    machine,
    signal: new AbortController().signal,
    stdout: (t) => {
      sink.stdout += t;
    },
    stderr: (t) => {
      sink.stderr += t;
    },
    env: new Map([['programdata', 'C:\\ProgramData']]),
    processes: { list: () => [], kill: () => false },
    commandStarted: () => {},
  };
}

function makeCall(
  machine: WindowsMachine,
  name: string,
  named: Record<string, PsValue>,
  positional: PsValue[],
  input: PsValue[],
  sink: { stdout: string; stderr: string },
): CommandCall {
  return {
    name,
    named: new Map(Object.entries(named).map(([k, v]) => [k.toLowerCase(), v])),
    positional,
    input,
    stdin: async () => '',
    session: session(machine, sink),
    invoke: async () => [],
  };
}

/** Runs a cmdlet (named parameters by their declared names). */
export async function cmdlet(
  machine: WindowsMachine,
  name: string,
  named: Record<string, PsValue> = {},
  input: PsValue[] = [],
): Promise<Ran> {
  const def: CmdletDefinition | undefined = table.cmdlet(name);
  if (!def) throw new Error(`no cmdlet ${name}`);
  const sink = { stdout: '', stderr: '' };
  const out = await def.run(makeCall(machine, name, named, [], input, sink));
  return { out, ...sink };
}

/** Runs a native program with string arguments. */
export async function native(
  machine: WindowsMachine,
  name: string,
  ...args: string[]
): Promise<NativeResult> {
  const def: NativeDefinition | undefined = table.native(name);
  if (!def) throw new Error(`no native ${name}`);
  return def.run(makeCall(machine, name, {}, args, [], { stdout: '', stderr: '' }));
}

/** The PsError a cmdlet throws, as {message, id}. */
export async function cmdletError(
  machine: WindowsMachine,
  name: string,
  named: Record<string, PsValue> = {},
  input: PsValue[] = [],
): Promise<{ message: string; id: string; category: string }> {
  try {
    await cmdlet(machine, name, named, input);
  } catch (e) {
    const err = e as { message: string; fullyQualifiedErrorId: string; category: string };
    return { message: err.message, id: err.fullyQualifiedErrorId, category: err.category };
  }
  throw new Error(`${name} did not fail`);
}
