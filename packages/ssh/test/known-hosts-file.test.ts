import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprint, hostKeyId, MemoryHostKeyStore, parsePublicKey } from '../src/host-key.js';
import { KnownHostsFile } from '../src/known-hosts-file.js';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const ED2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBYvXgzzNbFlmFRe6UMc2q6X2MnMmc4PP5Hk5KDT1B6q';

function hashed(host: string): string {
  const salt = Buffer.from('0123456789abcdefghij');
  const hash = createHmac('sha1', salt).update(host).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

describe('host keys', () => {
  it('parses one-line keys and prints OpenSSH SHA256 fingerprints', () => {
    expect(parsePublicKey(`${ED} comment here`).type).toBe('ssh-ed25519');
    expect(fingerprint(ED)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprint(ED)).toBe(fingerprint(parsePublicKey(ED).blob));
    expect(() =>
      parsePublicKey(
        'ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
      ),
    ).toThrow(/VLAB_ERR_SSH_KEY_INVALID/);
    expect(() => parsePublicKey('garbage')).toThrow(/VLAB_ERR_SSH_KEY_INVALID/);
  });

  it('names hosts as known_hosts does', () => {
    expect(hostKeyId('node1')).toBe('node1');
    expect(hostKeyId('10.0.0.5', 2222)).toBe('[10.0.0.5]:2222');
  });

  it('keeps pins in memory', async () => {
    const store = new MemoryHostKeyStore({ a: [ED] });
    expect(await store.get('a')).toEqual([ED]);
    expect(await store.get('b')).toEqual([]);
    await store.replace('a', [ED2]);
    expect(await store.get('a')).toEqual([ED2]);
  });
});

describe('KnownHostsFile', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vlab-known-hosts-'));
    path = join(dir, 'known_hosts');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads plain, listed, wildcard and hashed entries, skipping markers and negations', async () => {
    await writeFile(
      path,
      [
        '# comment',
        `node1,10.0.0.1 ${ED}`,
        `[10.0.0.2]:2222 ${ED2} c`,
        `${hashed('hashed-host')} ${ED}`,
        `*.lab,!bad.lab ${ED2}`,
        `@cert-authority node1 ${ED2}`,
        '',
      ].join('\n'),
    );
    const file = new KnownHostsFile(path);
    expect(await file.get('node1')).toEqual([ED]);
    expect(await file.get('10.0.0.1')).toEqual([ED]);
    expect(await file.get('[10.0.0.2]:2222')).toEqual([ED2]);
    expect(await file.get('10.0.0.2')).toEqual([]);
    expect(await file.get('hashed-host')).toEqual([ED]);
    expect(await file.get('x.lab')).toEqual([ED2]);
    expect(await file.get('bad.lab')).toEqual([]);
    expect(await new KnownHostsFile(join(dir, 'missing')).get('node1')).toEqual([]);
  });

  it('replaces a host’s plain and hashed entries and leaves the others alone', async () => {
    await writeFile(
      path,
      [`node1,10.0.0.1 ${ED}`, `${hashed('node1')} ${ED}`, `other ${ED}`, `@revoked * ${ED2}`].join(
        '\n',
      ),
    );
    const file = new KnownHostsFile(path);
    await Promise.all([file.replace('node1', [ED2]), file.replace('new', [ED])]);
    expect(await file.get('node1')).toEqual([ED2]);
    expect(await file.get('10.0.0.1')).toEqual([ED]);
    expect(await file.get('other')).toEqual([ED]);
    expect(await file.get('new')).toEqual([ED]);
    const text = await readFile(path, 'utf8');
    expect(text).toContain(`@revoked * ${ED2}`);
    expect(text).not.toContain('|1|');
    await expect(file.replace('node1', ['nonsense'])).rejects.toThrow(/VLAB_ERR_SSH_KEY_INVALID/);
  });
});
