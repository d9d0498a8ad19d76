import { readdirSync, readFileSync, rmSync } from 'node:fs';

/** Parent pid of each live process, read from /proc (Linux). */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  return children;
}

/**
 * The pids of every live descendant of `pid` (children, their children …), not `pid` itself.
 * Several roots may be given; their descendants are merged (without duplicates).
 */
export function descendants(pid: number | readonly number[]): number[] {
  const children = parentMap();
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = typeof pid === 'number' ? [pid] : [...pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Sends `signal` to each pid, ignoring those that are already gone. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Whether a process with this pid exists (and is not a zombie we could still reap). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The live processes (zombies left out) of a local user, one `pid args` line each, for tests that
 * check that nothing was left running. Empty when there are none.
 */
export function liveProcessesOf(user: string): string[] {
  const uid = userUid(user);
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      const owner = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (owner !== uid || state === 'Z' || state === 'X') continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push(`${entry} ${args}`);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function userUid(user: string): number {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user) return Number(fields[2]);
  }
  throw new Error(`no local user "${user}"`);
}

/** A peer to clean up should the test process exit without stopping it. */
export interface ExitEntry {
  /** Its process (0 until started); it and every process below it get SIGKILL. */
  pid: number;
  /** Its temporary directory, removed. */
  readonly dir: string;
}

const atExit = new Set<ExitEntry>();
let exitHookInstalled = false;

/**
 * Registers a peer to be killed (with all below it) and its directory removed when the process
 * exits without stopping it — synchronously, since no event loop runs then. Returns `entry`.
 */
export function killAtExit(entry: ExitEntry): ExitEntry {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const peer of atExit) {
        if (peer.pid > 0) signalAll([peer.pid, ...descendants(peer.pid)], 'SIGKILL');
        rmSync(peer.dir, { recursive: true, force: true });
      }
    });
  }
  atExit.add(entry);
  return entry;
}

/** The peer was stopped: nothing to do for it at exit. */
export function forgetAtExit(entry: ExitEntry): void {
  atExit.delete(entry);
}
