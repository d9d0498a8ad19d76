import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = '/sys/fs/cgroup';

/**
 * How the machine's cgroups are laid out: `hybrid` (v1 controllers, each its own hierarchy, plus
 * `name=systemd` and a controller-less cgroup2 at `unified/`), or `unified` (cgroup2 only).
 */
export type CgroupMode = 'hybrid' | 'unified';

/** The v1 hierarchies the lab uses, when present (`systemd` and `unified` are nspawn's). */
const V1_HIERARCHIES = ['memory', 'cpu', 'pids', 'freezer', 'systemd', 'unified'] as const;

export function cgroupMode(): CgroupMode {
  return existsSync(join(ROOT, 'cgroup.controllers')) ? 'unified' : 'hybrid';
}

/** The cgroup directories of `group` (a path like `vlab/<lab>/<computer>`), one per hierarchy. */
export function groupDirs(group: string): string[] {
  if (cgroupMode() === 'unified') return [join(ROOT, group)];
  return V1_HIERARCHIES.filter((h) => existsSync(join(ROOT, h))).map((h) => join(ROOT, h, group));
}

/** The `cgroup.procs` files a process writes its pid to, to join `group` everywhere. */
export function procsFiles(group: string): string[] {
  return groupDirs(group).map((dir) => join(dir, 'cgroup.procs'));
}

/** Limits of a group. */
export interface GroupLimits {
  /** Hard memory limit (page cache included: it is reclaimed first). */
  readonly memoryBytes?: number;
  /** Maximum number of tasks. */
  readonly pids?: number;
  /** CPU weight relative to siblings: 1024 = default share (v1 `cpu.shares`). */
  readonly cpuShares?: number;
}

async function writeIfPresent(path: string, value: string): Promise<void> {
  if (existsSync(path)) await writeFile(path, value);
}

/**
 * Creates `group` (and its parents) in every hierarchy and applies `limits`. On cgroup2 the
 * controllers are enabled down the path first.
 */
export async function createGroup(group: string, limits: GroupLimits = {}): Promise<void> {
  if (cgroupMode() === 'unified') {
    const parts = group.split('/');
    for (let i = 0; i < parts.length; i += 1) {
      const parent = join(ROOT, ...parts.slice(0, i));
      await mkdir(join(parent, parts[i] ?? ''), { recursive: true });
      const available = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/);
      const wanted = ['memory', 'cpu', 'pids'].filter((c) => available.includes(c));
      if (wanted.length > 0) {
        await writeFile(
          join(parent, 'cgroup.subtree_control'),
          wanted.map((c) => `+${c}`).join(' '),
        ).catch(() => undefined);
      }
    }
    const dir = join(ROOT, group);
    if (limits.memoryBytes !== undefined)
      await writeIfPresent(join(dir, 'memory.max'), String(limits.memoryBytes));
    if (limits.pids !== undefined) await writeIfPresent(join(dir, 'pids.max'), String(limits.pids));
    if (limits.cpuShares !== undefined) {
      const weight = Math.max(1, Math.min(10_000, Math.round((limits.cpuShares * 100) / 1024)));
      await writeIfPresent(join(dir, 'cpu.weight'), String(weight));
    }
    return;
  }
  for (const dir of groupDirs(group)) {
    // Another lab's down may remove the shared empty parent (`vlab`) meanwhile: retry.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await mkdir(dir, { recursive: true });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw error;
      }
    }
  }
  const at = (h: string, file: string): string => join(ROOT, h, group, file);
  if (limits.memoryBytes !== undefined)
    await writeIfPresent(at('memory', 'memory.limit_in_bytes'), String(limits.memoryBytes));
  if (limits.pids !== undefined) await writeIfPresent(at('pids', 'pids.max'), String(limits.pids));
  if (limits.cpuShares !== undefined)
    await writeIfPresent(at('cpu', 'cpu.shares'), String(limits.cpuShares));
}

/** Every directory of a cgroup subtree, deepest first. */
function subtree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    try {
      if (statSync(path).isDirectory()) out.push(...subtree(path));
    } catch {
      // removed meanwhile
    }
  }
  out.push(dir);
  return out;
}

/** The pids in `group` and every group below it (any hierarchy: they all hold the same tasks). */
export function groupPids(group: string): number[] {
  const pids = new Set<number>();
  for (const top of groupDirs(group)) {
    for (const dir of subtree(top)) {
      try {
        for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
          if (line.trim() !== '') pids.add(Number(line));
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return [...pids];
}

function setFrozen(group: string, frozen: boolean): boolean {
  try {
    if (cgroupMode() === 'unified') {
      writeFileSync(join(ROOT, group, 'cgroup.freeze'), frozen ? '1' : '0');
      return true;
    }
    const state = join(ROOT, 'freezer', group, 'freezer.state');
    if (!existsSync(state)) return false;
    writeFileSync(state, frozen ? 'FROZEN' : 'THAWED');
    return true;
  } catch {
    return false;
  }
}

/**
 * Freezes (or thaws) every process in `group` and below, and waits until the freezer says so.
 * Returns false when the machine has no freezer.
 */
export async function freezeGroup(group: string, frozen: boolean): Promise<boolean> {
  if (!setFrozen(group, frozen)) return false;
  if (cgroupMode() === 'unified') return true;
  const state = join(ROOT, 'freezer', group, 'freezer.state');
  for (let round = 0; round < 100; round += 1) {
    const now = readFileSync(state, 'utf8').trim();
    if (now === (frozen ? 'FROZEN' : 'THAWED')) return true;
    await delay(20);
  }
  return true;
}

/**
 * Kills every process in `group` and below: the group is frozen first so nothing forks or
 * escapes while the pids are collected, then everything gets SIGKILL and is thawed to die.
 * Resolves once the groups are empty (or after `timeoutMs`, with the pids still alive).
 */
export async function killGroup(group: string, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frozen = setFrozen(group, true);
    if (frozen) await delay(20);
    const pids = groupPids(group);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (frozen) setFrozen(group, false);
    if (pids.length === 0) return [];
    if (Date.now() > deadline) return groupPids(group);
    await delay(50);
  }
}

/** Removes `group` and every group below it, in every hierarchy (they must be empty). */
export function removeGroup(group: string): string[] {
  const failed: string[] = [];
  for (const top of groupDirs(group)) {
    for (const dir of subtree(top)) {
      try {
        rmdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(dir);
      }
    }
  }
  return failed;
}

/** Removes the shared parent `vlab` group where it is empty (no other lab uses it). */
export function removeParentIfEmpty(): void {
  for (const dir of groupDirs('vlab')) {
    try {
      rmdirSync(dir);
    } catch {
      // another lab's groups are below it, or it is gone
    }
  }
}

/** Memory charged to `group`, from the memory controller. */
export interface GroupMemory {
  /** Everything charged: anonymous memory and page cache. */
  readonly usageBytes: number;
  /** Anonymous (resident, not file-backed) memory. */
  readonly anonBytes: number;
  /** Page cache (file-backed, reclaimable). */
  readonly fileBytes: number;
}

export function groupMemory(group: string): GroupMemory | undefined {
  try {
    if (cgroupMode() === 'unified') {
      const dir = join(ROOT, group);
      const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
      return {
        usageBytes: Number(readFileSync(join(dir, 'memory.current'), 'utf8')),
        anonBytes: Number(/^anon (\d+)/m.exec(stat)?.[1] ?? 0),
        fileBytes: Number(/^file (\d+)/m.exec(stat)?.[1] ?? 0),
      };
    }
    const dir = join(ROOT, 'memory', group);
    const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
    return {
      usageBytes: Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8')),
      anonBytes: Number(/^total_rss (\d+)/m.exec(stat)?.[1] ?? 0),
      fileBytes: Number(/^total_cache (\d+)/m.exec(stat)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** The lab ids that have a cgroup (`vlab/<id>`) in any hierarchy. */
export function labGroupIds(): string[] {
  const ids = new Set<string>();
  for (const dir of groupDirs('vlab')) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      try {
        if (statSync(join(dir, entry)).isDirectory()) ids.add(entry);
      } catch {
        // gone
      }
    }
  }
  return [...ids];
}
