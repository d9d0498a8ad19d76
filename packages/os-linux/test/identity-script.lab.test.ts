import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  generateHostKey,
  IDENTITY_DISK,
  type IdentityDiskFile,
  identityDiskFiles,
} from '@vlab/core';
import { run, runChecked } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_SCRIPT } from '../src/identity-disk.js';

// The identity disk script of os-linux run on this machine (root needed) against a scratch
// directory instead of /etc/ssh, with real ext4 disks on read-only loop devices. Each run happens
// in a private mount namespace whose /dev holds only /dev/null and the disk under test, as in a
// container without udev: `blkid -L` must find it by scanning, and no other VLAB-ID disk of this
// machine (another test's) can answer.

const OLD_FILES = {
  ssh_host_rsa_key: 'old rsa private\n',
  'ssh_host_rsa_key.pub': 'ssh-rsa AAAAold rsa\n',
  ssh_host_ecdsa_key: 'old ecdsa private\n',
  'ssh_host_ecdsa_key.pub': 'ecdsa-sha2-nistp256 AAAAold\n',
  'ssh_host_ed25519_key-cert.pub': 'ssh-ed25519-cert-v01@openssh.com AAAAold\n',
  sshd_config: 'Port 22\n',
  moduli: '# moduli\n',
};

let work: string;
let script: string;
const attached = new Set<string>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vlab-identity-'));
  script = join(work, 'vlab-identity');
  await writeFile(script, IDENTITY_SCRIPT, { mode: 0o755 });
});
afterAll(async () => {
  for (const loop of attached) await run('losetup', ['-d', loop]);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

let counter = 0;

/** An ext4 (or other) disk image labelled `label` holding `files`, built without mounting. */
async function diskImage(
  files: readonly IdentityDiskFile[],
  options: { readonly label?: string; readonly mkfs?: string } = {},
): Promise<string> {
  counter += 1;
  const id = counter;
  const tree = join(work, `tree-${id}`);
  await mkdir(tree, { recursive: true });
  for (const file of files) {
    const path = join(tree, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data);
    await chmod(path, file.mode);
  }
  const image = join(work, `disk-${id}.img`);
  await runChecked(options.mkfs ?? 'mkfs.ext4', [
    '-q',
    '-F',
    '-L',
    options.label ?? IDENTITY_DISK.label,
    '-d',
    tree,
    image,
    '4M',
  ]);
  return image;
}

/** A scratch /etc/ssh holding the files of an image that had keys of its own. */
async function sshDir(): Promise<string> {
  counter += 1;
  const dir = join(work, `ssh-${counter}`);
  await mkdir(dir);
  for (const [name, content] of Object.entries(OLD_FILES))
    await writeFile(join(dir, name), content, { mode: name.endsWith('_key') ? 0o600 : 0o644 });
  return dir;
}

/** Every file of `dir`: name → content and mode. */
async function snapshot(dir: string): Promise<Record<string, { content: string; mode: number }>> {
  const out: Record<string, { content: string; mode: number }> = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    out[name] = { content: await readFile(path, 'utf8'), mode: (await stat(path)).mode & 0o7777 };
  }
  return out;
}

/** The files of the script's scratch directory in `dir`. */
async function scratchFiles(dir: string): Promise<string[]> {
  const scratch = (await readdir(dir)).filter((name) => name.startsWith('.vlab-identity.'));
  expect(scratch).toHaveLength(1);
  return (await readdir(join(dir, scratch[0] as string))).sort();
}

/** Attaches `image` read-only; the loop device. */
async function attach(image: string): Promise<string> {
  const loop = (await runChecked('losetup', ['-r', '-f', '--show', image])).stdout.trim();
  attached.add(loop);
  return loop;
}

async function detach(loop: string): Promise<void> {
  await runChecked('losetup', ['-d', loop]);
  attached.delete(loop);
}

/**
 * unshare's arguments that run the script under `shell` with the disk `loop` ('': none) and `dir`
 * as its /etc/ssh, in a clean environment as systemd would. `chown` (none: the real one) replaces
 * /usr/bin/chown in the namespace.
 */
async function isolated(
  loop: string,
  dir: string,
  options: { readonly shell?: string; readonly chown?: string } = {},
): Promise<string[]> {
  const [major = '', minor = ''] =
    loop === '' ? [] : (await runChecked('stat', ['-c', '%t %T', loop])).stdout.trim().split(' ');
  return [
    '--mount',
    'sh',
    '-c',
    `set -e
mount -t tmpfs -o mode=755 vlab-dev /dev
mknod -m 666 /dev/null c 1 3
[ -z "$1" ] || mknod -m 600 "$1" b "$((0x$2))" "$((0x$3))"
mount -t tmpfs vlab-run /run
[ -z "$7" ] || mount --bind "$7" /usr/bin/chown
exec env -i VLAB_IDENTITY_SSH_DIR="$4" "$6" "$5"`,
    'sh',
    loop,
    major,
    minor,
    dir,
    script,
    options.shell ?? '/bin/sh',
    options.chown ?? '',
  ];
}

/**
 * Runs the script with `image` attached (none: no identity disk) and `dir` as its /etc/ssh;
 * detaches the disk whatever happens.
 */
async function runScript(image: string | undefined, dir: string) {
  const loop = image === undefined ? '' : await attach(image);
  try {
    return await run('unshare', await isolated(loop, dir));
  } finally {
    if (loop !== '') await detach(loop);
  }
}

async function fingerprint(publicKey: string): Promise<string> {
  counter += 1;
  const file = join(work, `fp-${counter}.pub`);
  await writeFile(file, `${publicKey}\n`);
  return (await runChecked('ssh-keygen', ['-l', '-f', file])).stdout.split(' ')[1] ?? '';
}

describe('the identity disk script (vlab-identity)', () => {
  it('replaces every host key with those of a disk made by @vlab/core, and is idempotent', async () => {
    const key = generateHostKey('c1');
    const files = identityDiskFiles([key]);
    const image = await diskImage(files);
    const dir = await sshDir();

    const first = await runScript(image, dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const after = await snapshot(dir);
    expect(Object.keys(after)).toEqual([
      'moduli',
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
      'sshd_config',
    ]);
    expect(after['ssh_host_ed25519_key']).toEqual({
      content: key.privateKey.reveal(),
      mode: 0o600,
    });
    expect(after['ssh_host_ed25519_key.pub']).toEqual({
      content: `${key.publicKey}\n`,
      mode: 0o644,
    });
    expect(after['sshd_config']).toEqual({ content: OLD_FILES.sshd_config, mode: 0o644 });
    for (const name of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'])
      expect((await stat(join(dir, name))).uid).toBe(0);
    // The private key's copy is OpenSSH's own format: ssh-keygen derives the public key from it.
    const derived = await runChecked('ssh-keygen', ['-y', '-f', join(dir, 'ssh_host_ed25519_key')]);
    expect(derived.stdout.split(' ').slice(0, 2)).toEqual(key.publicKey.split(' ').slice(0, 2));
    // The log says what it did, with the fingerprint, never a key.
    expect(first.stdout).toContain('installed the SSH host keys of the identity disk /dev/loop');
    expect(first.stdout).toContain(`ed25519 ${await fingerprint(key.publicKey)}`);
    expect(first.stdout).toContain('removed 5 other host key files');
    expect(first.stdout).not.toContain(key.publicKey.split(' ')[1]);
    for (const line of key.privateKey.reveal().split('\n').slice(1, -2))
      expect(first.stdout).not.toContain(line);

    const second = await runScript(image, dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('removed 0 other host key files');
    expect(await snapshot(dir)).toEqual(after);
  });

  it('installs every key pair of the disk and takes a manifest with more members', async () => {
    const tree = join(work, 'keygen');
    await mkdir(tree, { recursive: true });
    const files: IdentityDiskFile[] = [
      {
        path: IDENTITY_DISK.manifestPath,
        data: Buffer.from('{\n  "note": "made by hand",\n  "version": 1\n}\n'),
        mode: 0o644,
      },
    ];
    for (const type of ['rsa', 'ed25519']) {
      const path = join(tree, `ssh_host_${type}_key`);
      await runChecked('ssh-keygen', [
        '-q',
        '-t',
        type,
        '-N',
        '',
        '-C',
        'made by hand',
        '-f',
        path,
      ]);
      for (const suffix of ['', '.pub'])
        files.push({
          path: `ssh/ssh_host_${type}_key${suffix}`,
          data: await readFile(`${path}${suffix}`),
          mode: suffix === '' ? 0o600 : 0o644,
        });
    }
    const dir = await sshDir();
    const result = await runScript(await diskImage(files), dir);
    expect(result.code).toBe(0);
    const after = await snapshot(dir);
    expect(Object.keys(after)).toEqual([
      'moduli',
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
      'ssh_host_rsa_key',
      'ssh_host_rsa_key.pub',
      'sshd_config',
    ]);
    expect(after['ssh_host_rsa_key']?.content).toBe(
      (await readFile(join(tree, 'ssh_host_rsa_key'))).toString(),
    );
    expect(result.stdout).toMatch(/\(ed25519 SHA256:\S+, rsa SHA256:\S+\)/);
  });

  it('does nothing and exits 0 without an identity disk', async () => {
    const dir = await sshDir();
    const before = await snapshot(dir);
    const result = await runScript(undefined, dir);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('no identity disk');
    expect(await snapshot(dir)).toEqual(before);
  });

  it('ignores a disk of another version, exit 0, keys untouched', async () => {
    const files = identityDiskFiles([generateHostKey('c1')]).map((f) =>
      f.path === IDENTITY_DISK.manifestPath ? { ...f, data: Buffer.from('{"version":2}\n') } : f,
    );
    const dir = await sshDir();
    const before = await snapshot(dir);
    const result = await runScript(await diskImage(files), dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('of version 2; this image knows version 1 only: ignored');
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses a damaged disk with exit 1, keys untouched', async () => {
    const key = generateHostKey('c1');
    const good = identityDiskFiles([key]);
    const other = identityDiskFiles([generateHostKey('other')]);
    const manifest = (text: string) =>
      good.map((f) =>
        f.path === IDENTITY_DISK.manifestPath ? { ...f, data: Buffer.from(text) } : f,
      );
    const cases: [string, Promise<string>, RegExp][] = [
      [
        'no manifest',
        diskImage(good.filter((f) => f.path !== IDENTITY_DISK.manifestPath)),
        /no valid \/vlab-identity\.json/,
      ],
      ['a repeated version', diskImage(manifest('{"version":1,"version":2}')), /no valid/],
      ['a nested manifest', diskImage(manifest('{"x":{"version":1}}')), /no valid/],
      ['not JSON', diskImage(manifest('version: 1')), /no valid/],
      ['no keys', diskImage(good.filter((f) => !f.path.startsWith('ssh/'))), /holds no host key/],
      [
        'a public key of another pair',
        diskImage(
          good.map((f) =>
            f.path.endsWith('.pub') ? { ...f, data: other[2]?.data ?? Buffer.alloc(0) } : f,
          ),
        ),
        /is not the public key of/,
      ],
      [
        'a missing public key',
        diskImage(good.filter((f) => !f.path.endsWith('.pub'))),
        /lacks \/ssh\/ssh_host_ed25519_key or/,
      ],
      [
        'a damaged private key',
        diskImage(
          good.map((f) => (f.mode === 0o600 ? { ...f, data: Buffer.from('garbage\n') } : f)),
        ),
        /is not an unencrypted private key/,
      ],
      ['not ext4', diskImage(good, { mkfs: 'mkfs.ext2' }), /is not ext4/],
    ];
    for (const [what, image, message] of cases) {
      const dir = await sshDir();
      const before = await snapshot(dir);
      const result = await runScript(await image, dir);
      expect(result.code, what).toBe(1);
      expect(result.stdout, what).toMatch(message);
      expect(result.stdout, what).toContain('the host keys are left as they were');
      expect(await snapshot(dir), what).toEqual(before);
    }
  });

  it('leaves a disk with another label alone', async () => {
    const dir = await sshDir();
    const before = await snapshot(dir);
    const image = await diskImage(identityDiskFiles([generateHostKey('c1')]), { label: 'OTHER' });
    const result = await runScript(image, dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('no identity disk');
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe.each(['/bin/sh', '/bin/bash'])('the identity disk script under %s', (shell) => {
  it('removes its scratch directory though signals keep coming while it cleans up', async () => {
    // A stop or a second Ctrl-C can signal the script again while its trap runs. Here SIGTERM
    // keeps coming, at the whole group, from the point where the disk's keys are copied and
    // checked in the scratch directory until the group is gone. A stand-in for chown, the next
    // step, says so on the script's output and holds it there.
    const chown = join(work, 'hold-chown');
    await writeFile(chown, '#!/bin/sh\necho vlab-test-held\nexec sleep 600\n', { mode: 0o755 });
    const dir = await sshDir();
    const before = await snapshot(dir);
    const loop = await attach(await diskImage(identityDiskFiles([generateHostKey('c1')])));
    try {
      for (let round = 0; round < 20; round += 1) {
        const child = spawn('unshare', await isolated(loop, dir, { shell, chown }), {
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        const exited = once(child, 'exit');
        let output = '';
        const held = new Promise<boolean>((resolve) => {
          for (const stream of [child.stdout, child.stderr])
            stream.on('data', (chunk: Buffer) => {
              output += chunk.toString();
              if (output.includes('vlab-test-held')) resolve(true);
            });
          child.on('exit', () => resolve(false));
        });
        try {
          expect(await held, output).toBe(true);
          expect(await scratchFiles(dir)).toEqual([
            'ssh_host_ed25519_key',
            'ssh_host_ed25519_key.pub',
          ]);
          const burst = spawn(
            'sh',
            ['-c', 'while kill -TERM "-$1" 2>/dev/null; do :; done', 'burst', String(child.pid)],
            { stdio: 'ignore' },
          );
          const burstEnded = once(burst, 'exit');
          const [code, signal] = (await exited) as [number | null, string | null];
          await burstEnded;
          expect({ round, left: (await readdir(dir)).sort(), code, signal }).toEqual({
            round,
            left: Object.keys(before),
            code: 143,
            signal: null,
          });
          expect(await snapshot(dir)).toEqual(before);
        } finally {
          // A failure before the flood: the script may be held still.
          if (child.exitCode === null && child.signalCode === null)
            process.kill(-(child.pid as number), 'SIGKILL');
        }
      }
    } finally {
      await detach(loop);
    }
  });
});
