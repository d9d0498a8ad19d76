import {
  coreError,
  isVlabError,
  type UserConnectedArgs,
  type UserConnectedResult,
} from '@vlab/core';
import type { Guest } from './guest.js';
import {
  openInLog,
  parseUtmp,
  UTMP_PATH,
  type UtmpRecord,
  userSessions,
  WTMP_PATH,
} from './utmp.js';
import { assertLogin } from './validate.js';

/**
 * How much later than its record a session's process may seem to have started: the start time
 * is computed from the boot time in whole seconds, and a clock stepped back moves it too. A
 * process that started later than that took over a dead session's pid.
 */
const START_SLACK_S = 60;

/**
 * For each of `pids` that is a running process of the guest: when it started, in epoch seconds
 * (`/proc/stat`'s `btime` plus field 22 of `/proc/<pid>/stat`, which follows the last `)`).
 * Read as root, so `hidepid` cannot hide anything.
 */
const PROCESS_STARTS = `btime=$(sed -n 's/^btime //p' /proc/stat)
hz=$(getconf CLK_TCK)
for p in "$@"; do
  stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
  ticks=$(printf '%s\\n' "\${stat##*) }" | cut -d ' ' -f 20)
  echo "$p $((btime + ticks / hz))"
done
exit 0`;

async function processStarts(guest: Guest, pids: readonly number[]): Promise<Map<number, number>> {
  const valid = [...new Set(pids.filter((pid) => Number.isInteger(pid) && pid > 0))];
  const starts = new Map<number, number>();
  if (valid.length === 0) return starts;
  const out = await guest.scriptChecked('process-starts', PROCESS_STARTS, valid.map(String));
  for (const line of out.split('\n')) {
    const [pid, start] = line.split(' ').map(Number);
    if (Number.isInteger(pid) && Number.isInteger(start))
      starts.set(pid as number, start as number);
  }
  return starts;
}

/** A file of the guest read with the communicator's `get`; `undefined` when it is not there. */
async function readIfThere(guest: Guest, path: string): Promise<Buffer | undefined> {
  const { ctx } = guest;
  try {
    return await ctx.communicator.get(path, {
      signal: ctx.signal,
      idleTimeoutMs: Math.max(1, Math.min(60_000, ctx.remainingMs())),
    });
  } catch (error) {
    if (isVlabError(error, 'VLAB_ERR_COMMAND_FAILED')) return undefined;
    throw error;
  }
}

/** The open login records: utmp's, else those of the wtmp log no logout closed. */
async function openRecords(guest: Guest): Promise<UtmpRecord[]> {
  const utmp = await readIfThere(guest, UTMP_PATH);
  if (utmp !== undefined) return parseUtmp(utmp);
  const wtmp = await readIfThere(guest, WTMP_PATH);
  if (wtmp !== undefined) return openInLog(parseUtmp(wtmp));
  throw coreError(
    'VLAB_ERR_CAPABILITY_MISSING',
    `the machine keeps no session records (neither ${UTMP_PATH} nor ${WTMP_PATH}), so who is connected cannot be told`,
    {
      computer: guest.computer,
      hint: 'Use an image whose sshd records logins in utmp or wtmp (UsePAM and the default build of Debian and RHEL do).',
    },
  );
}

/**
 * `userConnected`: the open login sessions of `users`, from the OS's session records —
 * `/run/utmp` (world-readable, read with the communicator's `get`), or where the OS keeps none,
 * the logins of `/var/log/wtmp` no logout closed. A record counts only while its process runs and
 * started no later than the record: an sshd killed before it recorded the logout, or a log
 * without logouts, leaves records of sessions that are over. Changes nothing on the machine.
 */
export async function userConnected(
  guest: Guest,
  { users }: UserConnectedArgs,
): Promise<UserConnectedResult> {
  for (const login of users) assertLogin(login, guest.computer);
  if (users.length === 0) return { sessions: [] };
  const recorded = userSessions(await openRecords(guest), users);
  const starts = await processStarts(
    guest,
    recorded.map((s) => s.pid),
  );
  const sessions = recorded
    .filter((session) => {
      const start = starts.get(session.pid);
      return (
        start !== undefined && start <= Math.floor(Date.parse(session.since) / 1000) + START_SLACK_S
      );
    })
    .map(({ pid: _pid, ...session }) => session);
  if (sessions.length < recorded.length)
    guest.ctx.log.info('ignored session records whose process is gone', {
      records: recorded.length - sessions.length,
    });
  return { sessions };
}
