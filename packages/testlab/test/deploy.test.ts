import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecked } from '../src/exec.js';
import { DEPLOY_DISK_PATH, DEPLOY_HOSTNAME } from '../src/image.js';
import { type Lab, labLeftovers, startLab } from '../src/lab.js';

// The bare-metal cycle: power off through the BMC, PXE-boot the deploy environment, read the
// disk and write a different one with dd over the deploy environment's sshd, boot from disk
// (the one-time PXE flag has reverted) and find the new content.
describe('the deploy environment', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ computers: 1, clients: 0 });
  });
  afterAll(async () => {
    if (lab === undefined) return;
    const { id, record } = lab;
    await lab.down();
    expect(Object.values(await labLeftovers(id, record.blackhole)).flat()).toEqual([]);
  });

  it('PXE-boots, writes a different disk with dd, and the computer boots the new disk', async () => {
    const c1 = lab.computer('c1');
    const scratch = join(lab.dir, 'scratch');
    await mkdir(scratch, { recursive: true });
    expect((await c1.sshChecked('hostname')).trim()).toBe('c1');

    // Power off through the BMC; the next boot is PXE, once.
    await c1.powerOff();
    await c1.waitForPower('off');
    await c1.setBootDevice('pxe');
    expect(c1.nextBootDevice()).toBe('pxe');
    await c1.powerOn();
    await c1.waitForSsh({ deploy: true });
    expect(c1.nextBootDevice()).toBe('disk'); // consumed by this boot
    const env = await c1.sshChecked(
      `hostname; blockdev --getsize64 ${DEPLOY_DISK_PATH}; command -v dd zstd sha256sum | wc -l`,
      { deploy: true },
    );
    expect(env.trim().split('\n')).toEqual([DEPLOY_HOSTNAME, String(2 * 2 ** 30), '3']);

    // Read the disk through the deploy environment, change it on this host, write it back.
    const image = join(scratch, 'disk.img');
    const read = await c1.ssh(`dd if=${DEPLOY_DISK_PATH} bs=4M status=none | zstd -1 -T0 -c`, {
      deploy: true,
      stdoutPath: `${image}.zst`,
    });
    expect(read.code, read.stderr).toBe(0);
    await runChecked('zstd', ['-d', '-q', '-f', '--sparse', `${image}.zst`, '-o', image]);
    const mnt = join(scratch, 'mnt');
    await mkdir(mnt, { recursive: true });
    const marker = randomBytes(8).toString('hex');
    await runChecked('mount', ['-o', 'loop', image, mnt]);
    try {
      await writeFile(join(mnt, 'etc/vlab-test-marker'), `${marker}\n`);
    } finally {
      await runChecked('umount', [mnt]);
    }
    await runChecked('zstd', ['-1', '-T0', '-q', '-f', image, '-o', `${image}.new.zst`]);
    const [sha] = (await runChecked('sha256sum', [image])).stdout.split(' ');
    const write = await c1.ssh(
      `zstd -dc | dd of=${DEPLOY_DISK_PATH} bs=4M conv=fsync status=none && sha256sum ${DEPLOY_DISK_PATH}`,
      { deploy: true, stdinPath: `${image}.new.zst`, stdoutPath: `${image}.sha` },
    );
    expect(write.code, write.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(`${image}.sha`, 'utf8')).split(' ')[0]).toBe(sha);

    // A reboot from the deploy environment boots the disk: the PXE flag was one-time.
    await c1.ssh('systemctl reboot', { deploy: true });
    await c1.waitForSsh();
    expect(c1.booted()).toBe('disk');
    const out = await c1.sshChecked(
      'hostname; cat /etc/vlab-test-marker; systemctl is-system-running --wait',
    );
    expect(out.trim().split('\n')).toEqual(['c1', marker, 'running']);
    expect(await c1.power()).toBe('on');
  });
});
