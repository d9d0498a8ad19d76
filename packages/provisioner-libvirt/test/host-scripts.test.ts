import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as scripts from '../src/host-scripts.js';
import {
  CORRUPT_EXIT,
  CREATE_OVERLAY,
  DISCARD_CAPTURE,
  DROP_IDENTITY_DISK,
  FILE_EXISTS,
  FLATTEN,
  PUBLISH_CAPTURE,
  QEMU_PROGRESS,
  RECEIVE_MASTER,
  REMOVE_DOMAIN,
  REMOVE_VM_DIR,
  SHA256_LINE,
  STREAM_CAPTURE,
} from '../src/host-scripts.js';

interface Run {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a host script here as the provisioner runs it on a host: `sh -c SCRIPT vlab-libvirt ARG…`. */
function run(script: string, args: readonly string[], input?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'sh',
      ['-c', script, 'vlab-libvirt', ...args],
      { encoding: 'buffer', maxBuffer: 2 ** 30 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          stdout,
          stderr: stderr.toString('utf8'),
        }),
    );
    // A script may exit without reading all of its stdin.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const zstd = (data: Buffer) =>
  execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 2 ** 30 });
const unzstd = (data: Buffer) =>
  execFileSync('zstd', ['-q', '-dc'], { input: data, maxBuffer: 2 ** 30 });
const qemuInfo = (path: string): Record<string, unknown> =>
  JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' }));
/** The raw disk a qcow2 (with its backing chain) holds. */
async function rawOf(qcow2: string, work: string): Promise<Buffer> {
  const raw = join(work, `raw-${randomBytes(4).toString('hex')}`);
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
  try {
    return await readFile(raw);
  } finally {
    await rm(raw, { force: true });
  }
}
const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

const MiB = 2 ** 20;
/**
 * A path that would do harm if pasted into a script: a quote, a command, a comment, a space, a
 * newline, unicode (its `/` makes it two directories); {@link HOSTILE_NAME} is one file name.
 */
const HOSTILE = `d'; rm -rf / # a b\n$(touch pwned) ünïcødé`;
const HOSTILE_NAME = HOSTILE.replaceAll('/', '_');

const stringScripts = Object.entries(scripts as Record<string, unknown>).filter(
  (entry): entry is [string, string] => typeof entry[1] === 'string',
);
const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck'], {
  encoding: 'utf8',
}).stdout.trim();

describe('the host scripts', () => {
  it('are all found', () => {
    expect(stringScripts.map(([name]) => name).sort()).toEqual([
      'CREATE_OVERLAY',
      'DISCARD_CAPTURE',
      'DROP_IDENTITY_DISK',
      'FILE_EXISTS',
      'FLATTEN',
      'PUBLISH_CAPTURE',
      'RECEIVE_MASTER',
      'REMOVE_DOMAIN',
      'REMOVE_FILE',
      'REMOVE_VM_DIR',
      'STREAM_CAPTURE',
    ]);
  });

  describe.each(['/bin/sh', '/bin/bash'])('under %s', (shell) => {
    it.each(stringScripts)('%s is valid syntax', (_name, script) => {
      expect(spawnSync(shell, ['-n', '-c', script], { encoding: 'utf8' }).stderr).toBe('');
    });
  });

  it.each(stringScripts)('%s passes shellcheck -s sh', (_name, script) => {
    if (shellcheck === '')
      throw new Error('shellcheck is not installed (scripts/lib/machine-setup.sh installs it)');
    const result = spawnSync(shellcheck, ['-s', 'sh', '-'], { input: script, encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('the host scripts, run here in a hostile directory', () => {
  let work: string;
  /** The host's directory, as `hosts.<name>.dir`. */
  let base: string;
  /** An 8 MiB disk: data, a hole of zeroes, data. */
  let image: Buffer;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vlab-libvirt-scripts-'));
    base = join(work, HOSTILE);
    await mkdir(base, { recursive: true });
    image = Buffer.concat([randomBytes(MiB), Buffer.alloc(6 * MiB), randomBytes(MiB)]);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** The scratch directories a script left in `dir`. */
  const scratchLeft = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.vlab.'));

  // libvirt's test driver (no daemon; each virsh starts from its fresh state, in which a domain
  // `test` runs): the scripts' virsh calls and their errors, with a hostile domain name.
  it('REMOVE_DOMAIN powers a domain off and undefines it; a missing domain is an error', async () => {
    expect(await run(REMOVE_DOMAIN, ['test:///default', 'test'])).toMatchObject({
      code: 0,
      stderr: '',
    });
    const missing = await run(REMOVE_DOMAIN, ['test:///default', HOSTILE]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`failed to get domain '${HOSTILE}'`);
    expect(existsSync('pwned')).toBe(false);
  });

  it('DROP_IDENTITY_DISK removes the disk file even when the detach fails, and fails', async () => {
    const identity = join(base, `${HOSTILE_NAME}.img`);
    await writeFile(identity, 'private keys');
    const dropped = await run(DROP_IDENTITY_DISK, ['test:///default', HOSTILE, identity]);
    expect(dropped.code).toBe(1);
    expect(dropped.stderr).toContain(`failed to get domain '${HOSTILE}'`);
    expect(existsSync(identity)).toBe(false);
  });

  it('FILE_EXISTS says yes for a regular file only', async () => {
    const file = join(base, `${HOSTILE_NAME}.qcow2`);
    await writeFile(file, 'x');
    expect((await run(FILE_EXISTS, [file])).stdout.toString()).toBe('yes\n');
    for (const other of [base, join(base, 'missing'), `${file}*`]) {
      const result = await run(FILE_EXISTS, [other]);
      expect({ other, code: result.code, stdout: result.stdout.toString() }).toEqual({
        other,
        code: 0,
        stdout: '',
      });
    }
  });

  /** Nothing on stderr but qemu-img's progress, which ends at 100 %. */
  const expectOnlyProgress = (stderr: string) => {
    expect(stderr).toContain('(100.00/100%)');
    expect(stderr.replace(QEMU_PROGRESS, '').trim()).toBe('');
  };

  describe('RECEIVE_MASTER', () => {
    const idir = () => join(base, 'masters', HOSTILE);
    const name = () => `1-${sha256(image).slice(0, 16)}.qcow2`;

    it.each(['raw+zstd', 'raw'])(
      'decodes %s, checks the sum and publishes a qcow2 master',
      async (format) => {
        await rm(idir(), { recursive: true, force: true });
        const stored = format === 'raw' ? image : zstd(image);
        const received = await run(
          RECEIVE_MASTER,
          [idir(), name(), format, sha256(image), String(image.length)],
          stored,
        );
        expect(received.code).toBe(0);
        expectOnlyProgress(received.stderr);
        const master = join(idir(), name());
        expect(qemuInfo(master)).toMatchObject({ format: 'qcow2', 'virtual-size': image.length });
        expect(qemuInfo(master)['backing-filename']).toBeUndefined();
        expect((await rawOf(master, work)).equals(image)).toBe(true);
        expect(await mode(master)).toBe('644');
        expect(await mode(idir())).toBe('755');
        expect(readdirSync(idir())).toEqual([name()]);
      },
    );

    it.each([
      ['a wrong SHA-256', (sum: string) => sum.replace(/^./, (c) => (c === '0' ? '1' : '0')), 0],
      ['a wrong size', (sum: string) => sum, 1],
    ])('refuses bytes with %s: exit 4, nothing published', async (_what, sumOf, extra) => {
      await rm(idir(), { recursive: true, force: true });
      const received = await run(
        RECEIVE_MASTER,
        [idir(), name(), 'raw+zstd', sumOf(sha256(image)), String(image.length + extra)],
        zstd(image),
      );
      expect(received.code).toBe(CORRUPT_EXIT);
      expect(received.stderr).toContain(`the image arrived as ${image.length} bytes`);
      expect(readdirSync(idir())).toEqual([]);
    });

    it('refuses an unknown stored format, publishing nothing', async () => {
      await rm(idir(), { recursive: true, force: true });
      const received = await run(
        RECEIVE_MASTER,
        [idir(), name(), 'qcow2', sha256(image), String(image.length)],
        image,
      );
      expect(received.code).not.toBe(0);
      expect(received.stderr).toContain('unknown stored format qcow2');
      expect(existsSync(idir()) ? readdirSync(idir()) : []).toEqual([]);
    });

    it('keeps a master that appeared meanwhile', async () => {
      await rm(idir(), { recursive: true, force: true });
      await mkdir(idir(), { recursive: true });
      await writeFile(join(idir(), name()), 'the other load');
      const received = await run(
        RECEIVE_MASTER,
        [idir(), name(), 'raw', sha256(image), String(image.length)],
        image,
      );
      expect(received.code).toBe(0);
      expectOnlyProgress(received.stderr);
      expect(await readFile(join(idir(), name()), 'utf8')).toBe('the other load');
      expect(scratchLeft(idir())).toEqual([]);
    });
  });

  describe('a VM: overlay, flatten, publish', () => {
    let master: string;
    let vm: string;
    let idir: string;
    beforeAll(async () => {
      idir = join(base, 'masters', `img ${HOSTILE}`);
      await mkdir(idir, { recursive: true });
      const raw = join(work, 'image.raw');
      await writeFile(raw, image);
      master = join(idir, '1-0123456789abcdef.qcow2');
      execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, master]);
      vm = join(base, 'vms', HOSTILE);
    });

    it('CREATE_OVERLAY makes a fresh overlay on the master, removing the old files', async () => {
      await mkdir(vm, { recursive: true });
      // Made under a strict umask: QEMU's user could not enter them.
      await chmod(dirname(vm), 0o700);
      await chmod(vm, 0o700);
      for (const old of ['disk.qcow2', 'identity.img', 'console.log'])
        await writeFile(join(vm, old), 'old');
      const created = await run(CREATE_OVERLAY, [master, vm]);
      expect(created).toMatchObject({ code: 0, stderr: '' });
      expect(readdirSync(vm)).toEqual(['disk.qcow2']);
      expect([await mode(dirname(vm)), await mode(vm)]).toEqual(['755', '755']);
      expect(qemuInfo(join(vm, 'disk.qcow2'))).toMatchObject({
        format: 'qcow2',
        'backing-filename': master,
        'backing-filename-format': 'qcow2',
        'virtual-size': image.length,
      });
      expect((await rawOf(join(vm, 'disk.qcow2'), work)).equals(image)).toBe(true);
    });

    it('FLATTEN makes the flattened capture, checked; STREAM_CAPTURE streams its raw disk, zstd, with its sum last on stderr', async () => {
      // The guest wrote into its overlay.
      execFileSync('qemu-io', [
        '-f',
        'qcow2',
        '-c',
        'write -P 0xab 2M 64k',
        join(vm, 'disk.qcow2'),
      ]);
      const expected = Buffer.from(image);
      expected.fill(0xab, 2 * MiB, 2 * MiB + 64 * 1024);

      const flattened = await run(FLATTEN, [join(vm, 'disk.qcow2'), idir, '3']);
      expect(flattened.code).toBe(0);
      expect(flattened.stdout.length).toBe(0);
      // Progress: the caller's sign of life while qemu-img works.
      expect(flattened.stderr).toMatch(/\(0\.00\/100%\)/);
      expectOnlyProgress(flattened.stderr);
      const flat = join(idir, '.capture-3.qcow2');
      expect(qemuInfo(flat)).toMatchObject({ format: 'qcow2', 'virtual-size': image.length });
      expect(qemuInfo(flat)['backing-filename']).toBeUndefined();
      expect((await rawOf(flat, work)).equals(expected)).toBe(true);
      expect(await mode(flat)).toBe('644');
      expect(scratchLeft(idir)).toEqual([]);

      const streamed = await run(STREAM_CAPTURE, [idir, '3', '3']);
      expect(streamed.code).toBe(0);
      expect(streamed.stderr).toMatch(/\(0\.00\/100%\)/);
      expectOnlyProgress(streamed.stderr.replace(SHA256_LINE, ''));
      expect(unzstd(streamed.stdout).equals(expected)).toBe(true);
      const last = streamed.stderr.trimEnd().split('\n').at(-1) ?? '';
      expect(last).toBe(`vlab-sha256 ${sha256(expected)} ${expected.length}`);
      expect(SHA256_LINE.exec(streamed.stderr)?.slice(1)).toEqual([
        sha256(expected),
        String(expected.length),
      ]);
      // The capture stays for the publish.
      expect((await rawOf(flat, work)).equals(expected)).toBe(true);
      expect(scratchLeft(idir)).toEqual([]);
    });

    it('STREAM_CAPTURE fails when there is no flattened capture, leaving no scratch', async () => {
      const streamed = await run(STREAM_CAPTURE, [idir, '8', '3']);
      expect(streamed.code).not.toBe(0);
      expect(streamed.stderr).not.toMatch(SHA256_LINE);
      expect(streamed.stderr).toContain('.capture-8.qcow2');
      expect(scratchLeft(idir)).toEqual([]);
    });

    it('PUBLISH_CAPTURE makes the flattened capture the master', async () => {
      const name = `3-${'f'.repeat(16)}.qcow2`;
      const published = await run(PUBLISH_CAPTURE, [idir, '3', name]);
      expect(published).toMatchObject({ code: 0, stderr: '' });
      expect(existsSync(join(idir, '.capture-3.qcow2'))).toBe(false);
      expect(qemuInfo(join(idir, name))).toMatchObject({ format: 'qcow2' });
    });

    it('FLATTEN accepts leaked clusters (a guest powered off hard), refuses corruption (exit 4)', async () => {
      const overlay = join(vm, 'disk.qcow2');
      const saved = `${overlay}.saved`;
      execFileSync('cp', [overlay, saved]);
      try {
        await setRefcount(overlay, 'leak');
        expect(spawnSync('qemu-img', ['check', '-q', overlay]).status).toBe(3);
        const leaked = await run(FLATTEN, [overlay, idir, '6']);
        expect(leaked.code).toBe(0);
        expect(existsSync(join(idir, '.capture-6.qcow2'))).toBe(true);
        await run(DISCARD_CAPTURE, [idir, '6']);
        await setRefcount(overlay, 'corrupt');
        expect(spawnSync('qemu-img', ['check', '-q', overlay]).status).toBe(2);
        const corrupt = await run(FLATTEN, [overlay, idir, '7']);
        expect(corrupt.code).toBe(CORRUPT_EXIT);
        expect(corrupt.stderr).toContain("qemu-img check of the VM's disk failed");
        expect(existsSync(join(idir, '.capture-7.qcow2'))).toBe(false);
        expect(scratchLeft(idir)).toEqual([]);
      } finally {
        execFileSync('mv', ['-f', saved, overlay]);
      }
    });

    it('FLATTEN fails on a missing overlay (the check cannot run: exit 1), leaving no capture and no scratch', async () => {
      const flattened = await run(FLATTEN, [join(vm, 'missing.qcow2'), idir, '4']);
      expect(flattened.code).toBe(1);
      expect(flattened.stderr).toContain('could not run');
      expect(existsSync(join(idir, '.capture-4.qcow2'))).toBe(false);
      expect(scratchLeft(idir)).toEqual([]);
    });

    it('DISCARD_CAPTURE removes an unfinished capture, and is content when there is none', async () => {
      await writeFile(join(idir, '.capture-5.qcow2'), 'half');
      expect(await run(DISCARD_CAPTURE, [idir, '5'])).toMatchObject({ code: 0, stderr: '' });
      expect(existsSync(join(idir, '.capture-5.qcow2'))).toBe(false);
      expect(await run(DISCARD_CAPTURE, [idir, '5'])).toMatchObject({ code: 0, stderr: '' });
    });

    it('REMOVE_VM_DIR removes a directory under vms/ and refuses any other', async () => {
      for (const other of [join(base, 'masters'), join(base, 'vms'), `${join(base, 'vms')}/`]) {
        const refused = await run(REMOVE_VM_DIR, [other]);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain('refusing to remove');
        expect(existsSync(other)).toBe(true);
      }
      expect(await run(REMOVE_VM_DIR, [vm])).toMatchObject({ code: 0, stderr: '' });
      expect(existsSync(vm)).toBe(false);
      expect(existsSync(master)).toBe(true);
    });
  });

  it('ran nothing of an argument as a command', () => {
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
  });
});

/** The processes of group `pgid` that are not zombies (from /proc). */
function liveInGroup(pgid: number): string[] {
  const live: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry))) {
    let line: string;
    try {
      line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const [state, , pgrp] = line.slice(line.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') live.push(pid);
  }
  return live;
}

// An abort ends the script's process group on the host, and a signal can come again while its
// trap runs: the scratch directory (in the masters directory, next to the masters) must go.
describe.each(['/bin/sh', '/bin/bash'])('RECEIVE_MASTER under %s', (shell) => {
  it('removes its scratch directory though signals keep coming while it cleans up', async () => {
    const idir = await mkdtemp(join(tmpdir(), 'vlab-libvirt-signals-'));
    try {
      for (let round = 0; round < 5; round += 1) {
        const child = spawn(
          shell,
          ['-c', RECEIVE_MASTER, 'vlab-libvirt', idir, 'm.qcow2', 'raw', '0'.repeat(64), '1'],
          { stdio: ['pipe', 'ignore', 'ignore'], detached: true },
        );
        const exited = once(child, 'exit');
        const pid = child.pid as number;
        try {
          // Part of the disk has arrived; dd waits for the rest.
          child.stdin.write(Buffer.alloc(64 * 1024, 1));
          const held = () => {
            const [scratch] = readdirSync(idir).filter((f) => f.startsWith('.vlab.'));
            if (scratch === undefined) return false;
            const files = readdirSync(join(idir, scratch));
            return files.includes('sum') && files.includes('disk.raw');
          };
          const deadline = Date.now() + 10_000;
          while (!held() && Date.now() < deadline) await delay(20);
          expect(held(), `round ${round}`).toBe(true);
          const burst = spawn(
            'sh',
            ['-c', 'while kill -TERM "-$1" 2>/dev/null; do :; done', 'burst', String(pid)],
            { stdio: 'ignore' },
          );
          const burstEnded = once(burst, 'exit');
          const [code] = (await exited) as [number | null];
          const bound = Date.now() + 10_000;
          while (liveInGroup(pid).length > 0 && Date.now() < bound) await delay(20);
          burst.kill('SIGKILL');
          await burstEnded;
          expect({ round, left: readdirSync(idir), code }).toEqual({ round, left: [], code: 143 });
        } finally {
          if (liveInGroup(pid).length > 0) process.kill(-pid, 'SIGKILL');
        }
      }
    } finally {
      await rm(idir, { recursive: true, force: true });
    }
  });
});

/**
 * Edits a qcow2's first refcount block: `leak` counts one cluster past the end of the data that
 * nothing references (qemu-img check exits 3), `corrupt` zeroes the block (clusters in use with
 * refcount 0: exit 2).
 */
async function setRefcount(path: string, how: 'leak' | 'corrupt'): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const header = Buffer.alloc(104);
    await file.read(header, 0, 104, 0);
    const clusterBits = header.readUInt32BE(20);
    const entry = Buffer.alloc(8);
    await file.read(entry, 0, 8, Number(header.readBigUInt64BE(48)));
    const block = Number(entry.readBigUInt64BE(0));
    if (how === 'corrupt') {
      await file.write(Buffer.alloc(2 ** clusterBits), 0, 2 ** clusterBits, block);
      return;
    }
    const clusters = (await file.stat()).size >> clusterBits;
    await file.truncate((clusters + 1) << clusterBits);
    const one = Buffer.alloc(2);
    one.writeUInt16BE(1);
    await file.write(one, 0, 2, block + 2 * clusters);
  } finally {
    await file.close();
  }
}
