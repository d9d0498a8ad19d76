import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { generateHostKey } from '@vlab/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DISK_TOO_SMALL_EXIT,
  HASH_DISK,
  PUT_HOST_KEY,
  READ_DISK,
  READ_DISK_SUM,
  WRITE_DISK,
} from '../src/deploy-scripts.js';

const exec = promisify(execFile);

/** Runs a deploy script here as the deploy environment would: `sh -c SCRIPT vlab-deploy ARG…`. */
function script(body: string, args: readonly string[], input?: Buffer) {
  const result = spawnSync('sh', ['-c', body, 'vlab-deploy', ...args], {
    input,
    maxBuffer: 2 ** 30,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MiB = 2 ** 20;

// The deploy environment's programs, run on this host against a real loop device (root: the
// test needs losetup, like the deploy environment's disk) — the same tools the testlab's deploy
// environment has: blockdev, blkdiscard, dd, zstd, sha256sum, debugfs.
describe('the deploy scripts on a loop device', () => {
  let dir: string;
  let loop: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vlab-deploy-scripts-'));
    await writeFile(join(dir, 'disk'), randomBytes(16 * MiB));
    loop = (await exec('losetup', ['--find', '--show', join(dir, 'disk')])).stdout.trim();
  });
  afterAll(async () => {
    if (loop !== undefined) await exec('losetup', ['-d', loop]);
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a zstd image sparsely over old data, and reads the disk back with its sum', async () => {
    // An image of 8 MiB: data, a hole of zeroes, data — written over 16 MiB of random bytes.
    const image = Buffer.concat([randomBytes(MiB), Buffer.alloc(6 * MiB), randomBytes(MiB)]);
    const packed = spawnSync('zstd', ['-q', '-c'], { input: image, maxBuffer: 2 ** 30 }).stdout;
    const write = script(WRITE_DISK, [loop, String(image.length), 'sparse'], packed);
    expect(write.stderr).toBe('');
    expect(write.code).toBe(0);
    const hashed = script(HASH_DISK, [loop, String(image.length)]);
    expect(hashed.stdout.toString().trim()).toBe(sha256(image));

    // The whole disk read back: the image, then zeroes where the discard left them.
    const read = script(READ_DISK, [loop, '3']);
    expect(read.code).toBe(0);
    const disk = spawnSync('zstd', ['-q', '-dc'], {
      input: read.stdout,
      maxBuffer: 2 ** 30,
    }).stdout;
    expect(disk.length).toBe(16 * MiB);
    expect(disk.subarray(0, image.length).equals(image)).toBe(true);
    expect(disk.subarray(image.length).equals(Buffer.alloc(8 * MiB))).toBe(true);
    const sum = READ_DISK_SUM.exec(read.stderr);
    expect(sum?.[1]).toBe(sha256(disk));
    expect(sum?.[2]).toBe(String(16 * MiB));
  });

  it('refuses an image larger than the disk with its own exit status, writing nothing', async () => {
    const before = await readFile(join(dir, 'disk'));
    const write = script(WRITE_DISK, [loop, String(32 * MiB), 'sparse'], Buffer.alloc(0));
    expect(write.code).toBe(DISK_TOO_SMALL_EXIT);
    expect(write.stderr).toContain(`holds ${16 * MiB} bytes, the image ${32 * MiB}`);
    expect((await readFile(join(dir, 'disk'))).equals(before)).toBe(true);
  });

  it('replaces every host key on an ext4 root without mounting it, whatever the comment says', async () => {
    // A root file system with the keys an installed system has.
    const root = join(dir, 'root');
    const etc = join(root, 'etc/ssh');
    await exec('mkdir', ['-p', etc]);
    for (const type of ['rsa', 'ecdsa', 'ed25519'])
      await writeFile(join(etc, `ssh_host_${type}_key`), `old ${type}\n`);
    await writeFile(join(etc, 'sshd_config'), 'Port 22\n');
    await exec('mkfs.ext4', ['-q', '-F', '-d', root, loop]);

    const key = generateHostKey('c1');
    const [type, base64] = key.publicKey.split(' ');
    const hostile = `${type} ${base64} '; rm -rf / #\n$(reboot) ünïcødé`;
    const put = script(PUT_HOST_KEY, [loop, hostile], Buffer.from(key.privateKey.reveal()));
    expect(put.stderr).toBe('');
    expect(put.code).toBe(0);

    const listing = (await exec('debugfs', ['-R', 'ls -p /etc/ssh', loop])).stdout
      .split('\n')
      .map((line) => line.split('/'))
      .filter((f) => f.length > 5 && f[5] !== '.' && f[5] !== '..')
      .map((f) => `${f[5]} ${Number.parseInt(f[2] as string, 8).toString(8)} ${f[3]}:${f[4]}`)
      .sort();
    expect(listing).toEqual([
      'ssh_host_ed25519_key 100600 0:0',
      'ssh_host_ed25519_key.pub 100644 0:0',
      'sshd_config 100644 0:0',
    ]);
    const cat = async (path: string) => (await exec('debugfs', ['-R', `cat ${path}`, loop])).stdout;
    expect(await cat('/etc/ssh/ssh_host_ed25519_key')).toBe(key.privateKey.reveal());
    expect(await cat('/etc/ssh/ssh_host_ed25519_key.pub')).toBe(`${hostile}\n`);
  });
});

/** The processes of group `pgid` that are not zombies, as `pid command` (from /proc). */
function liveInGroup(pgid: number): string[] {
  const live: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (command) state ppid pgrp …: the command may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z')
      live.push(`${pid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`);
  }
  return live;
}

// An abort ends the script's process group in the deploy environment, and a signal can come again
// while its trap runs. Run here under the local shells (dash is Debian's sh, bash the RHEL
// family's), with mktemp's directory under a TMPDIR of the test's. No disk needed: each script is
// held where it waits for its input, on stdin or from a fifo as the disk.
describe.each(['/bin/sh', '/bin/bash'])('the deploy scripts under %s', (shell) => {
  let work: string;
  let tmp: string;
  let disk: string;
  let diskWriter: number;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'vlab-deploy-signals-'));
    tmp = join(work, 'tmp');
    disk = join(work, 'disk');
    await mkdir(tmp);
    await exec('mkfifo', [disk]);
    // Read-write: opens at once, and holds the fifo open so a reader waits for more.
    diskWriter = openSync(disk, 'r+');
  });
  afterEach(async () => {
    closeSync(diskWriter);
    await rm(work, { recursive: true, force: true });
  });

  /** Sizes of the files in the script's scratch directory (none before it exists). */
  function scratch(): Record<string, number> {
    const [name] = readdirSync(tmp);
    if (name === undefined) return {};
    const dir = join(tmp, name);
    return Object.fromEntries(
      readdirSync(dir).map((file) => [file, statSync(join(dir, file)).size]),
    );
  }

  it.each([
    {
      name: 'PUT_HOST_KEY',
      script: PUT_HOST_KEY,
      args: () => ['/dev/null', 'ssh-ed25519 AAAA c1'],
      feed: (stdin: Writable) => stdin.write('part of the key'),
      // Part of the private key has reached its file; cat waits for the rest.
      held: (files: Record<string, number>) => (files['key'] ?? 0) > 0,
    },
    {
      name: 'READ_DISK',
      script: READ_DISK,
      args: () => [disk, '3'],
      feed: () => writeSync(diskWriter, 'part of the disk'),
      // The fifo is made and the hasher has started (its sum's file is open); dd then waits for
      // more of the disk.
      held: (files: Record<string, number>) => 'tee' in files && 'sum' in files,
    },
  ])(
    '$name removes its scratch directory though signals keep coming while it cleans up',
    async ({ script, args, feed, held }) => {
      // SIGTERM at the whole group, without pause, from the point where the scratch directory
      // holds the script's files until no process of the group is alive.
      for (let round = 0; round < 20; round += 1) {
        const child = spawn(shell, ['-c', script, 'vlab-deploy', ...args()], {
          stdio: ['pipe', 'ignore', 'ignore'],
          detached: true,
          env: { ...process.env, TMPDIR: tmp },
        });
        const exited = once(child, 'exit');
        try {
          feed(child.stdin);
          // A bound for a script that never gets there, not a wait for one that does.
          const deadline = Date.now() + 10_000;
          while (!held(scratch()) && Date.now() < deadline) await delay(20);
          expect(held(scratch()), `round ${round}: ${JSON.stringify(scratch())}`).toBe(true);
          const burst = spawn(
            'sh',
            ['-c', 'while kill -TERM "-$1" 2>/dev/null; do :; done', 'burst', String(child.pid)],
            { stdio: 'ignore' },
          );
          const burstEnded = once(burst, 'exit');
          const [code, signal] = (await exited) as [number | null, string | null];
          // The group is gone once init has reaped what the shell left (seconds in some VMs):
          // until then the flood goes on while a process of it is alive.
          const bound = Date.now() + 10_000;
          while (liveInGroup(child.pid as number).length > 0 && Date.now() < bound) await delay(20);
          burst.kill('SIGKILL');
          await burstEnded;
          expect({ round, left: readdirSync(tmp), code, signal }).toEqual({
            round,
            left: [],
            code: 143,
            signal: null,
          });
          expect(liveInGroup(child.pid as number)).toEqual([]);
        } finally {
          if (liveInGroup(child.pid as number).length > 0)
            process.kill(-(child.pid as number), 'SIGKILL');
        }
      }
    },
  );
});
