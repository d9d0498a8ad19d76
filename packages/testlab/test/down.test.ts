import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../src/exec.js';
import { cleanStaleLabs, type LabRecord, labLeftovers, listLabs } from '../src/lab.js';
import { labsDir } from '../src/paths.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(PACKAGE, 'node_modules/.bin/tsx');

/** Everything of lab `id` the machine still shows, asked the way an operator would. */
async function machineShows(id: string): Promise<string[]> {
  const dir = join(labsDir(), id);
  const lines = [
    ...(await run('ip', ['netns', 'list'])).stdout
      .split('\n')
      .filter((l) => l.includes(`vlab-${id}-`)),
    ...(await run('ip', ['link', 'show'])).stdout.split('\n').filter((l) => l.includes(`vl${id}`)),
    ...(await run('losetup', ['-a'])).stdout.split('\n').filter((l) => l.includes(dir)),
    ...(await run('mount', [])).stdout.split('\n').filter((l) => l.includes(dir)),
    ...(await run('pgrep', ['-a', 'systemd-nspawn'])).stdout
      .split('\n')
      .filter((l) => l.includes(id)),
    ...(await run('pgrep', ['-a', 'ipmi_sim'])).stdout.split('\n').filter((l) => l.includes(dir)),
    ...(await run('pgrep', ['-af', 'vlab-power'])).stdout
      .split('\n')
      .filter((l) => l.includes(dir)),
  ];
  if (existsSync(dir)) lines.push(dir);
  return lines;
}

function kill(child: ChildProcess | undefined): void {
  if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
}

/** Waits until `check` returns a value, or fails after `timeoutMs` with `what`. */
async function until<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

/** Resolves once `pid` has exited (gone, or a zombie): a SIGKILL is delivered, not only sent. */
async function exited(pid: number): Promise<void> {
  await until(`pid ${pid} to exit`, 30_000, () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return /^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
        ? true
        : undefined;
    } catch {
      return true;
    }
  });
}

function ownedBy(pid: number): (records: LabRecord[]) => LabRecord | undefined {
  return (records) => records.find((r) => r.owner?.pid === pid);
}

// A lab whose owner was SIGKILLed is stale: the next start (cleanStaleLabs) removes every
// namespace, link, mount, loop device, process and cgroup it made.
describe('down after a crash', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children) kill(child);
  });

  it('removes a lab whose owner was SIGKILLed with computers running from disk and PXE', async () => {
    const child = spawn(TSX, [join(PACKAGE, 'test/fixtures/hold-lab.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const id = await until('the fixture lab', 300_000, () => {
      if (child.exitCode !== null) throw new Error(`fixture exited with ${child.exitCode}`);
      return /READY ([0-9a-f]{6})/.exec(output)?.[1];
    });
    const record = (await listLabs()).find((r) => r.id === id);
    expect(record?.owner).not.toBeNull();
    const before = await machineShows(id);
    expect(before.some((l) => l.startsWith('/dev/loop'))).toBe(true); // c1's mount, c2's disk
    expect(before.filter((l) => /systemd-nspawn/.test(l))).toHaveLength(2);
    // SIGKILL the lab's owner: the process that ran startLab (tsx runs it in a child).
    process.kill(record?.owner?.pid ?? 0, 'SIGKILL');
    kill(child);
    await exited(record?.owner?.pid ?? 0);
    expect((await machineShows(id)).length).toBeGreaterThan(0); // the computers outlive it

    const removed = await cleanStaleLabs();
    expect(removed).toContain(id);
    expect(Object.values(await labLeftovers(id, record?.blackhole)).flat()).toEqual([]);
    expect(await machineShows(id)).toEqual([]);
    const routes = await run('ip', ['route', 'show']);
    expect(routes.stdout).not.toContain(record?.blackhole ?? '-');
  });

  it('removes a lab whose `lab up` was SIGKILLed while its computers were booting', async () => {
    const child = spawn(TSX, [join(PACKAGE, 'src/cli.ts'), 'up', '--computers', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // tsx runs the CLI in a child process: find the lab by its owner once the record exists.
    const record = await until('a lab being brought up', 300_000, () => {
      if (child.exitCode !== null) throw new Error(`lab up exited early: ${stderr}`);
      const match = /lab ([0-9a-f]{6}): network/.exec(stderr);
      if (match?.[1] === undefined) return undefined;
      const path = join(labsDir(), match[1], 'state.json');
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as LabRecord;
      const booting = existsSync(join(labsDir(), match[1], 'computers/c1/run/nspawn.pid'));
      return booting ? parsed : undefined;
    });
    const id = record.id;
    process.kill(record.owner?.pid ?? 0, 'SIGKILL');
    kill(child);
    await exited(record.owner?.pid ?? 0);
    expect((await machineShows(id)).length).toBeGreaterThan(0);
    expect(ownedBy(record.owner?.pid ?? 0)(await listLabs())?.id).toBe(id);

    expect(await cleanStaleLabs()).toContain(id);
    expect(Object.values(await labLeftovers(id, record.blackhole)).flat()).toEqual([]);
    expect(await machineShows(id)).toEqual([]);
  });
});
