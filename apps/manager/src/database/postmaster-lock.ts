import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the lock file `postmaster.pid` of a cluster says about a server still running on it.
 *
 * - `none`: no lock file, or one whose process is gone (PostgreSQL removes or overrides it).
 * - `live`: a PostgreSQL server of this cluster runs; `parentPid` is its parent process, or
 *   `undefined` where `/proc` cannot tell.
 */
export type PostmasterLock =
  | { readonly state: 'none' }
  | { readonly state: 'live'; readonly pid: number; readonly parentPid: number | undefined };

/** The lock file PostgreSQL keeps in a running cluster's directory. */
export const POSTMASTER_PID_FILE = 'postmaster.pid';

/**
 * Reads `<clusterDir>/postmaster.pid` and looks at the process it names. A process that is gone,
 * a zombie, or (on Linux) not a `postgres -D <clusterDir>` — its id was reused after a reboot —
 * counts as no server.
 */
export async function readPostmasterLock(clusterDir: string): Promise<PostmasterLock> {
  let text: string;
  try {
    text = await readFile(join(clusterDir, POSTMASTER_PID_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    throw error;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isAlive(pid)) return { state: 'none' };
  const proc = await readProc(pid);
  if (proc === undefined) return { state: 'live', pid, parentPid: undefined };
  if (proc.zombie || !isPostgresOf(proc.argv, clusterDir)) return { state: 'none' };
  return { state: 'live', pid, parentPid: proc.parentPid };
}

/** Whether a process with this id exists (one of another user counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readProc(
  pid: number,
): Promise<{ parentPid: number; zombie: boolean; argv: string[] } | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
    ]);
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const parentPid = Number.parseInt(fields[1] ?? '', 10);
    if (!Number.isSafeInteger(parentPid)) return undefined;
    return { parentPid, zombie: fields[0] === 'Z', argv: cmdline.split('\0') };
  } catch {
    return undefined;
  }
}

function isPostgresOf(argv: readonly string[], clusterDir: string): boolean {
  const program = argv[0] ?? '';
  if (!/(^|\/)postgres$/.test(program)) return false;
  const dir = argv.indexOf('-D');
  return dir !== -1 && argv[dir + 1] === clusterDir;
}
