import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChecked } from '../src/exec.js';
import { debianMirror, ensureBaseImage, ensureDeployTree } from '../src/image.js';
import { requireFreeSpace } from '../src/preflight.js';

/** A file of an ext4 image, read with debugfs (no mount, read-only). */
async function imageFile(image: string, path: string): Promise<string> {
  return (await runChecked('debugfs', ['-R', `cat ${path}`, image])).stdout;
}

describe('the base image', () => {
  it('takes the mirror from this machine’s apt sources (not a security mirror)', async () => {
    const mirror = await debianMirror();
    expect(mirror).toMatch(/^https?:\/\//);
    expect(mirror).not.toMatch(/security/);
  });

  it('is built once per machine and then served from the cache', async () => {
    const first = await ensureBaseImage(); // builds it on a fresh machine (a few minutes)
    const again = await ensureBaseImage();
    expect(again.cached).toBe(true);
    // A rebuild takes minutes; a cached lookup (lock, manifest, stat) well under this on any load.
    expect(again.tookMs).toBeLessThan(30_000);
    expect(again.path).toBe(first.path);
    console.log(
      `base image ${first.path}: build took ${(first.buildMs / 1000).toFixed(1)} s (built ${first.builtAt}); cached lookup ${again.tookMs} ms`,
    );
  });

  it('is a sparse plain ext4 image with no host keys and no machine id', async () => {
    const image = await ensureBaseImage();
    const type = await runChecked('blkid', ['-o', 'value', '-s', 'TYPE', image.path]);
    expect(type.stdout.trim()).toBe('ext4');
    const stat = statSync(image.path);
    expect(stat.size).toBe(image.sizeBytes);
    expect(stat.blocks * 512).toBeLessThan(image.sizeBytes / 2);
    const ssh = await runChecked('debugfs', ['-R', 'ls -l /etc/ssh', image.path]);
    expect(ssh.stdout).toContain('sshd_config');
    expect(ssh.stdout).not.toContain('ssh_host_');
    expect(await imageFile(image.path, '/etc/machine-id')).toBe('');
    expect(await imageFile(image.path, '/etc/vlab-testlab/base-image.json')).toContain(
      '"bookworm"',
    );
  });

  it('comes with a deploy environment that has sshd, dd, zstd and sha256sum', async () => {
    const deploy = await ensureDeployTree();
    for (const program of ['usr/sbin/sshd', 'usr/bin/dd', 'usr/bin/zstd', 'usr/bin/sha256sum']) {
      expect(existsSync(join(deploy.path, program)), program).toBe(true);
    }
    expect(existsSync(join(deploy.path, 'etc/vlab-deploy-environment'))).toBe(true);
  });

  it('stops with a clear message when disk space is short', async () => {
    await expect(requireFreeSpace('/var/cache', 2 ** 60, 'a test')).rejects.toThrow(
      /not enough free disk space for a test: \/var\/cache has .* GiB free, .* GiB needed/,
    );
  });
});
