/** Memory of processes, read from /proc (Linux). */
import { readdir, readFile } from 'node:fs/promises';

/** What the kernel counts for one process, in bytes. */
export interface ProcMemory {
  readonly pid: number;
  /** VmRSS: resident pages, shared ones counted in full. */
  readonly rss: number;
  /** RssAnon: resident private (anonymous) pages. */
  readonly rssAnon: number;
  /** RssShmem: resident shared memory (PostgreSQL's shared buffers it touched). */
  readonly rssShmem: number;
  /** Pss: resident pages, each shared page divided among the processes that map it. */
  readonly pss: number;
  /** Private_Clean + Private_Dirty (USS): what ending the process would free. */
  readonly uss: number;
}

/** The sum over several processes. */
export interface MemorySum {
  readonly processes: number;
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssShmem: number;
  readonly pss: number;
  readonly uss: number;
}

function kib(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** The process's memory, or `undefined` when it has gone. */
export async function procMemory(pid: number): Promise<ProcMemory | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    return {
      pid,
      rss: kib(status, 'VmRSS'),
      rssAnon: kib(status, 'RssAnon'),
      rssShmem: kib(status, 'RssShmem'),
      pss: kib(rollup, 'Pss'),
      uss: kib(rollup, 'Private_Clean') + kib(rollup, 'Private_Dirty'),
    };
  } catch {
    return undefined;
  }
}

/** Sums the memory of `pids` (those that have gone count for nothing). */
export async function sumMemory(pids: readonly number[]): Promise<MemorySum> {
  const all = (await Promise.all(pids.map(procMemory))).filter(
    (m): m is ProcMemory => m !== undefined,
  );
  return {
    processes: all.length,
    rss: all.reduce((s, m) => s + m.rss, 0),
    rssAnon: all.reduce((s, m) => s + m.rssAnon, 0),
    rssShmem: all.reduce((s, m) => s + m.rssShmem, 0),
    pss: all.reduce((s, m) => s + m.pss, 0),
    uss: all.reduce((s, m) => s + m.uss, 0),
  };
}

/** Every process: pid, parent pid, command name. */
export async function processTable(): Promise<{ pid: number; ppid: number; comm: string }[]> {
  const rows: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      rows.push({ pid: Number(entry), ppid: Number(rest[1]), comm: stat.slice(open + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  return rows;
}

/** The postmaster and its children (the PostgreSQL server of one cluster). */
export async function postgresPids(postmasterPid: number): Promise<number[]> {
  const table = await processTable();
  return [postmasterPid, ...table.filter((p) => p.ppid === postmasterPid).map((p) => p.pid)];
}

/** The processes called `postgres` whose command line mentions `dir`. */
export async function postgresProcessesUnder(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const p of await processTable()) {
    if (p.comm !== 'postgres') continue;
    const cmdline = await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.push(p.pid);
  }
  return found;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) spent by `pids`, plus what their children that exited and were
 * waited for spent (cutime + cstime): PostgreSQL's backends that came and went count too.
 */
export async function cpuSeconds(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command: state is field 3, so utime (14) … cstime (17) are at 11 … 14.
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / TICKS_PER_SECOND;
}
