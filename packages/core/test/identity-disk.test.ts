import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateHostKey } from '../src/host-key.js';
import { IDENTITY_DISK, identityDiskFiles } from '../src/identity-disk.js';
import { Secret } from '../src/secret.js';

const dir = mkdtempSync(join(tmpdir(), 'vlab-core-hostkey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateHostKey', () => {
  it('writes a private key OpenSSH reads, whose public half is the one returned', () => {
    const key = generateHostKey('c1');
    const path = join(dir, 'ssh_host_ed25519_key');
    writeFileSync(path, key.privateKey.reveal(), { mode: 0o600 });
    // OpenSSH's own reader is the judge: ssh-keygen -y derives the public key from the file.
    const derived = execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' }).trim();
    expect(derived).toBe(key.publicKey);
    expect(key.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} c1$/);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', path], { encoding: 'utf8' });
    expect(fingerprint).toMatch(/^256 SHA256:\S+ c1 \(ED25519\)\n$/);
  });

  it('makes a new key each time, and keeps the private key out of logs (a Secret)', () => {
    const [a, b] = [generateHostKey(), generateHostKey()];
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(Secret.isSecret(a.privateKey)).toBe(true);
    expect(JSON.stringify(a)).not.toContain('OPENSSH PRIVATE KEY');
  });

  it('writes an unencrypted key without a comment when none is given', () => {
    const key = generateHostKey();
    expect(key.publicKey.split(' ')).toHaveLength(2);
    const path = join(dir, 'no-comment');
    writeFileSync(path, key.privateKey.reveal(), { mode: 0o600 });
    expect(execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' }).trim()).toBe(
      key.publicKey,
    );
  });
});

describe('identityDiskFiles', () => {
  it('lays out the manifest and each key pair as IDENTITY_DISK says, private keys 0600', () => {
    const key = generateHostKey('c1');
    const files = identityDiskFiles([key]);
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ['vlab-identity.json', 0o644],
      ['ssh/ssh_host_ed25519_key', 0o600],
      ['ssh/ssh_host_ed25519_key.pub', 0o644],
    ]);
    expect(JSON.parse(files[0]?.data.toString('utf8') ?? '')).toEqual({
      version: IDENTITY_DISK.version,
    });
    expect(files[1]?.data.toString('utf8')).toBe(key.privateKey.reveal());
    expect(files[2]?.data.toString('utf8')).toBe(`${key.publicKey}\n`);
  });

  it('builds a disk mkfs.ext4 labels VLAB-ID and debugfs reads without mounting', () => {
    const tree = join(dir, 'tree');
    execFileSync('mkdir', ['-p', join(tree, 'ssh')]);
    for (const file of identityDiskFiles([generateHostKey('c1')]))
      writeFileSync(join(tree, file.path), file.data, { mode: file.mode });
    const image = join(dir, 'identity.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', IDENTITY_DISK.label, '-d', tree, image, '4M']);
    expect(execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', image], { encoding: 'utf8' })).toBe(
      'VLAB-ID\n',
    );
    const manifest = execFileSync('debugfs', ['-R', `cat /${IDENTITY_DISK.manifestPath}`, image], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(JSON.parse(manifest)).toEqual({ version: 1 });
  });
});
