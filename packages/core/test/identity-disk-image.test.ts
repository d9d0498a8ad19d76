import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey } from '../src/host-key.js';
import { IDENTITY_DISK, identityDiskFiles } from '../src/identity-disk.js';
import { buildIdentityDisk } from '../src/identity-disk-image.js';

// The identity disk is built with the real mkfs.ext4 (e2fsprogs) and read back with debugfs.

describe('buildIdentityDisk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vlab-identity-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const debugfs = (image: string, request: string) =>
    execFileSync('debugfs', ['-R', request, image], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });

  it('makes a private ext4 image labelled VLAB-ID holding the files with their modes', async () => {
    const key = generateHostKey('node12');
    const image = join(dir, 'identity.img');
    await buildIdentityDisk(identityDiskFiles([key]), image, { work: join(dir, 'work') });
    expect(statSync(image).mode & 0o777).toBe(0o600);
    expect(
      execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', image], { encoding: 'utf8' }).trim(),
    ).toBe(IDENTITY_DISK.label);
    expect(JSON.parse(debugfs(image, `cat /${IDENTITY_DISK.manifestPath}`))).toEqual({
      version: 1,
    });
    const pub = debugfs(image, 'cat /ssh/ssh_host_ed25519_key.pub');
    expect(pub.trim()).toBe(key.publicKey);
    expect(debugfs(image, 'stat /ssh/ssh_host_ed25519_key')).toMatch(/Mode: +0600/);
    // The private directory the files passed through is gone.
    expect(readdirSync(join(dir, 'work'))).toEqual([]);
  });

  it('refuses a file outside the disk and leaves nothing behind', async () => {
    const image = join(dir, 'bad.img');
    await expect(
      buildIdentityDisk([{ path: '../escape', data: Buffer.from('x'), mode: 0o644 }], image, {
        work: join(dir, 'work'),
      }),
    ).rejects.toMatchObject({ code: 'VLAB_ERR_ARGUMENT_INVALID' });
    expect(existsSync(image) || existsSync(`${image}.tmp`)).toBe(false);
  });

  it('leaves nothing behind when the image cannot be written', async () => {
    const image = join(dir, 'missing-dir', 'identity.img');
    await expect(
      buildIdentityDisk(identityDiskFiles([generateHostKey()]), image, { work: join(dir, 'work') }),
    ).rejects.toBeDefined();
    expect(existsSync(`${image}.tmp`)).toBe(false);
  });
});
