import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { type ImageFileSource, parseStamp, Secret, serializeStamp } from '@vlab/core';
import { MemoryHostKeyStore, SshPool } from '@vlab/ssh';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecked } from '../src/exec.js';
import { filesOnDisk } from '../src/guest-root.js';
import { createLabHarness, type LabHarness } from '../src/harness.js';
import { DEPLOY_DISK_PATH, DEPLOY_HOSTNAME } from '../src/image.js';
import { sshBannerSeen } from '../src/ssh-banner.js';
import { useHarnessLab } from './fixtures/harness-lab.js';

const CONTEXT = { phase: 'harness-provisioner-test', timeoutMs: 60_000 };

/** A harness's image source, which must be a file. */
async function fileSource(harness: LabHarness): Promise<ImageFileSource> {
  const source = await harness.imageSource?.();
  if (source?.path === undefined) throw new Error('imageSource gave no file');
  return source;
}

/** The provisioner's image store directory the harness lists (created by the tests). */
const storeDir = join(tmpdir(), `vlab-harness-store-${randomUUID()}`);

// What a bare-metal provisioner's checks need of the lab harness: an image to import, the facts
// that reach the BMC and the deploy environment, disk reads with the power and environment they
// happened in, the provisioner's store as files, and whether the machine's own OS answers.
describe('the lab harness (for a bare-metal provisioner)', () => {
  // Nothing may be left after down: loop devices and mounts of the image build included.
  const setup = useHarnessLab({ storeDir });
  afterAll(() => rm(storeDir, { recursive: true, force: true }));

  /** Boots c1's deploy environment (power off if on, PXE, on) and waits for its SSH. */
  async function bootDeploy(): Promise<void> {
    const c1 = setup.harness.labComputer;
    if ((await c1.power()) === 'on') {
      await c1.powerOff();
      await c1.waitForPower('off');
    }
    await c1.setBootDevice('pxe');
    await c1.powerOn();
    await c1.waitForSsh({ deploy: true });
  }

  it('gives a lab-generic, generalized raw image, built once per lab and shared by its harnesses', async () => {
    const other = await createLabHarness(setup.lab, 'c1');
    const started = performance.now();
    // Two harnesses at once: one builds, the other waits for it and takes the same image (a second
    // build would differ: its stamp and the file system's mount time are its own).
    const [source, shared] = await Promise.all([
      fileSource(setup.harness),
      fileSource(other),
    ]).finally(() => other.close());
    console.log(`imageSource, built: ${Math.round(performance.now() - started)} ms`);
    expect(shared).toEqual(source);
    expect(shared).not.toBe(source);
    expect(source.osFamily).toBe('linux');
    expect(dirname(dirname(source.path))).toBe(setup.lab.dir);
    // The image, its checksum and the lock; no temporaries of either builder.
    expect((await readdir(dirname(source.path))).sort()).toEqual(
      [basename(source.path), `${basename(source.path)}.sha256`, 'build.lock'].sort(),
    );
    const built = await stat(source.path);
    expect(built.blocks * 512).toBeLessThan(built.size / 2); // sparse: ~250 MB of 2 GiB in use
    const sum = await runChecked('sha256sum', [source.path], { timeoutMs: 600_000 });
    expect(sum.stdout.split(' ')[0]).toBe(source.sha256);

    // A fresh object each call, the same file, never written again.
    const cachedStart = performance.now();
    const again = await fileSource(setup.harness);
    console.log(`imageSource, cached: ${Math.round(performance.now() - cachedStart)} ms`);
    expect(again).toEqual(source);
    expect(again).not.toBe(source);
    const after = await stat(source.path);
    expect([after.ino, after.mtimeMs, after.ctimeMs]).toEqual([
      built.ino,
      built.mtimeMs,
      built.ctimeMs,
    ]);

    // Its content, read with debugfs from a copy (so nothing can touch the original).
    const scratch = await mkdtemp(join(tmpdir(), 'vlab-image-source-'));
    try {
      const copy = join(scratch, 'copy.img');
      await runChecked('cp', ['--sparse=always', source.path, copy], { timeoutMs: 600_000 });
      const files = filesOnDisk(copy, join(scratch, 'dump'));
      const text = async (path: string) => (await files.read(path))?.toString('utf8');
      const ssh = (await files.list('/etc/ssh')) ?? [];
      expect(ssh).toContain('sshd_config');
      expect(ssh.filter((n) => n.startsWith('ssh_host_'))).toEqual([]);
      expect(await text('/root/.ssh/authorized_keys')).toBe(
        `${setup.lab.managementKey.publicKey}\n`,
      );
      const mode = await runChecked('debugfs', ['-R', 'stat /root/.ssh/authorized_keys', copy]);
      expect(mode.stdout).toMatch(/Mode:\s+0600/);
      const stampText = (await text(setup.harness.stampPath)) ?? '';
      const stamp = parseStamp(stampText, 'c1');
      expect(stamp).toMatchObject({
        state: 'captured',
        image: setup.harness.image.name,
        revision: setup.harness.image.revision,
        tainted: false,
      });
      expect(serializeStamp(stamp)).toBe(stampText);
      expect(await text('/etc/machine-id')).toBe('');
      expect(await text('/etc/hostname')).toBe('localhost\n');
      expect(await text('/etc/hosts')).not.toMatch(/\bc1\b/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('names the deploy environment in the computer ref: a provisioner reaches it with that alone', async () => {
    const c1 = setup.harness.labComputer;
    const ref = setup.harness.computer;
    expect(ref.attributes).toMatchObject({
      bmcHost: c1.bmc.host,
      bmcPort: String(c1.bmc.port),
      bmcUser: c1.bmc.user,
      bmcCipherSuite: '3',
      deployDisk: DEPLOY_DISK_PATH,
      deployHostKey: c1.deployHostKeys[0],
    });
    expect(ref.attributes['deployHostKey']).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    expect(ref.credentials['bmc']).toEqual({ env: expect.stringMatching(/^VLAB_TESTLAB_BMC_/) });
    expect(ref.credentials['deployKey']).toEqual({ file: setup.lab.managementKey.path });

    await bootDeploy();
    // What a provisioner does: resolve the key through its context, pin the host key, log in.
    const ctx = setup.harness.operationContext(CONTEXT);
    const key = await ctx.secrets.resolve(ref.credentials['deployKey'] ?? { env: 'UNSET' });
    const hostKey = ref.attributes['deployHostKey'] ?? '';
    const pool = new SshPool({ hostKeys: new MemoryHostKeyStore({ [c1.ip]: [hostKey] }) });
    try {
      const client = pool.client({
        host: ref.addresses.management,
        user: 'root',
        auth: { kind: 'key', privateKey: key },
        computer: ref.name,
      });
      const out = await client.exec([
        'sh',
        '-c',
        `hostname; test -b ${ref.attributes['deployDisk']} && echo block`,
      ]);
      expect(out.stdout.toString('utf8').split('\n')).toEqual([DEPLOY_HOSTNAME, 'block', '']);
    } finally {
      await pool[Symbol.asyncDispose]();
    }
    // The key it was handed out is among the secrets in play.
    expect(setup.harness.secrets().map((s) => s.reveal())).toContain(key.reveal());
    expect(key).toBeInstanceOf(Secret);
  });

  it('records a read in the deploy environment with power on and environment deploy', async () => {
    await setup.harness.reset();
    const c1 = setup.harness.labComputer;
    await bootDeploy();
    const before = performance.now();
    await c1.sshChecked(`dd if=${DEPLOY_DISK_PATH} of=/dev/null bs=1M count=16 status=none`, {
      deploy: true,
    });
    const reads = setup.harness.diskReads().filter((r) => r.at >= before);
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read).toMatchObject({ power: 'on', environment: 'deploy' });
    // What was seen then stays: powering off changes nothing recorded.
    const all = setup.harness.diskReads();
    await c1.powerOff();
    await c1.waitForPower('off');
    expect(await setup.harness.power()).toBe('off');
    expect(setup.harness.diskReads()).toEqual(all);
  });

  it('lists the store directory recursively, hidden temporaries too; no member without one', async () => {
    const other = await createLabHarness(setup.lab, 'c1');
    try {
      expect('storeEntries' in other).toBe(false);
      expect(other.storeEntries).toBeUndefined();
    } finally {
      await other.close();
    }
    expect(await setup.harness.storeEntries?.()).toEqual([]); // not created yet
    await mkdir(join(storeDir, 'debian-bookworm/.incoming'), { recursive: true });
    await writeFile(join(storeDir, 'debian-bookworm/r1.img'), 'image');
    await writeFile(join(storeDir, 'debian-bookworm/.r2.img.tmp-4711'), 'half an image');
    await writeFile(join(storeDir, '.lock'), '');
    await symlink('/', join(storeDir, 'root-link')); // listed, not followed
    expect(await setup.harness.storeEntries?.()).toEqual([
      '.lock',
      'debian-bookworm',
      'debian-bookworm/.incoming',
      'debian-bookworm/.r2.img.tmp-4711',
      'debian-bookworm/r1.img',
      'root-link',
    ]);
    await rm(join(storeDir, 'debian-bookworm/.r2.img.tmp-4711'));
    expect(await setup.harness.storeEntries?.()).not.toContain('debian-bookworm/.r2.img.tmp-4711');
  });

  it('answers only while the machine’s own OS sends an SSH banner, not the deploy environment', async () => {
    const c1 = setup.harness.labComputer;
    await setup.harness.reset();
    const answerStart = performance.now();
    expect(await setup.harness.answering?.()).toBe(true);
    console.log(`answering (true): ${Math.round(performance.now() - answerStart)} ms`);

    // The deploy environment answers SSH on the same address and port: not the machine's OS.
    await bootDeploy();
    expect(await sshBannerSeen(c1.ip)).toBe(true);
    expect(await setup.harness.answering?.()).toBe(false);

    // Rebooted from the deploy environment into the disk: the OS answers again.
    await c1.ssh('systemctl reboot', { deploy: true });
    await c1.waitForSsh();
    expect(c1.booted()).toBe('disk');
    expect(await setup.harness.answering?.()).toBe(true);

    // Stalled, the kernel still accepts the connect, but no banner comes within the 5 s.
    const resume = await setup.harness.stall();
    try {
      expect(await setup.harness.answering?.()).toBe(false);
    } finally {
      await resume();
    }
    expect(await setup.harness.answering?.()).toBe(true);

    await c1.powerOff();
    await c1.waitForPower('off');
    expect(await setup.harness.answering?.()).toBe(false);
    expect(await sshBannerSeen(c1.ip)).toBe(false); // and nothing else answers there either
  });
});
