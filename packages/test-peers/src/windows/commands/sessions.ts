// quser.exe (query user) and logoff.exe.
// Sources:
// - https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/query-user
// - https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/logoff
// Output layout (column positions, `>` marking the caller's own session — never the case over SSH,
// whose logons are not WTS sessions), `No User exists for *` on stderr with exit code 1 when there is
// no session, and en-US dates: as quser.exe prints them. logoff of an unknown id: exit 1 with
// `Invalid session identifier <id>` — that wording is the model's, not verified against Windows.
import { defineNative, type NativeResult } from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import type { LogonSession } from '../model/windows-machine.js';
import { formatShortDateTime, machineOf } from './common.js';

export const QUSER_HEADER =
  ' USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME';

export function quserLine(s: LogonSession): string {
  const idle =
    s.idleMinutes === null
      ? 'none'
      : s.idleMinutes >= 60
        ? `${Math.floor(s.idleMinutes / 60)}:${String(s.idleMinutes % 60).padStart(2, '0')}`
        : String(s.idleMinutes);
  return ` ${s.userName.toLowerCase().padEnd(22)}${s.sessionName.padEnd(18)}${String(s.id).padStart(3)}  ${s.state.padEnd(8)}${idle.padStart(8)}   ${formatShortDateTime(s.logonTime)}`;
}

export const sessionCommands = [
  defineNative({
    names: ['quser.exe', 'quser'],
    paths: ['C:\\Windows\\System32\\quser.exe'],
    source:
      'https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/query-user',
    run(call): NativeResult {
      const m = machineOf(call);
      const filter = call.positional.map(toPsString).find((a) => !a.startsWith('/'));
      const sessions = m.sessions.filter(
        (s) =>
          filter === undefined ||
          s.userName.toLowerCase() === filter.toLowerCase() ||
          String(s.id) === filter,
      );
      if (sessions.length === 0)
        return { stdout: '', stderr: `No User exists for ${filter ?? '*'}\r\n`, exitCode: 1 };
      return {
        stdout: [QUSER_HEADER, ...sessions.map(quserLine)].map((l) => `${l}\r\n`).join(''),
        stderr: '',
        exitCode: 0,
      };
    },
  }),
  defineNative({
    names: ['logoff.exe', 'logoff'],
    paths: ['C:\\Windows\\System32\\logoff.exe'],
    source:
      'https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/logoff',
    run(call): NativeResult {
      const m = machineOf(call);
      const arg = call.positional.map(toPsString).find((a) => !a.startsWith('/'));
      const id = arg === undefined ? Number.NaN : Number(arg);
      if (!Number.isInteger(id) || !m.logoff(id))
        return { stdout: '', stderr: `Invalid session identifier ${arg ?? ''}\r\n`, exitCode: 1 };
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  }),
];
