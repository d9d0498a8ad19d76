import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ImageSource,
  isVlabError,
  type LogRecord,
  type Provisioner,
  type StoredImage,
  type VlabError,
} from '@vlab/core';
import { DISK_FILE, MANIFEST_FILE } from '@vlab/image-store';
import { freeUdpPort } from '@vlab/test-peers';
import { DEPLOY_DISK_PATH } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaremetalProvisioner } from '../src/baremetal-provisioner.js';
import type { BaremetalConfigInput } from '../src/config.js';
import { labConfig, useBaremetalLab } from './baremetal-lab.js';
import {
  killSshSessions,
  LoopStore,
  processes,
  textsOf,
  waitForDeployProcess,
  withComputer,
} from './fault-tools.js';

const IMAGE = 'debian-bookworm';
const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** The store's temporaries and reservation markers among `entries` (hidden names). */
function hidden(entries: readonly string[]): string[] {
  return entries.filter((e) => e.split('/').some((part) => part.startsWith('.')));
}

/** The last `count` log records, one line each: level, phase, message, step, error. */
function lastRecords(records: readonly LogRecord[], count = 25): string {
  return records
    .slice(-count)
    .map((r) => {
      const { phase, step, error } = r.fields as {
        phase?: unknown;
        step?: unknown;
        error?: unknown;
      };
      const why = (error as { message?: unknown } | undefined)?.message;
      return `  ${r.level} ${String(phase)} ${r.message}${step === undefined ? '' : ` [${String(step)}]`}${why === undefined ? '' : `: ${String(why)}`}`;
    })
    .join('\n');
}

/**
 * The error `operation` rejects with; fails the test when it resolves or throws something untyped,
 * and when it has not settled after `boundMs` (a bound for a hang, not a race: the faults end
 * within seconds to a minute), then with the operation's last log records.
 */
async function failure(
  operation: Promise<unknown>,
  boundMs: number,
  records: () => readonly LogRecord[],
  diagnose: () => Promise<string> = async () => '',
): Promise<VlabError> {
  operation.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), boundMs);
  });
  try {
    if ((await Promise.race([operation, hung])) === 'hung')
      throw new Error(
        `the operation did not settle within ${boundMs / 1000} s; its last log records:\n${lastRecords(records())}\n${await diagnose()}`,
      );
  } catch (error) {
    if (isVlabError(error)) return error;
    if (error instanceof Error && error.message.startsWith('the operation did not settle'))
      throw error;
    throw new Error(`expected a typed VLAB_ERR_* error, got: ${String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected the operation to fail, it succeeded');
}

/**
 * The error's shape: one of `codes`, naming c1 and, for a failure inside a step, the step in
 * `details.step` and as `step <name>:` in the message (docs/errors.md). Soft: the machine's and the
 * store's state are checked after it whatever it says.
 */
function expectFault(
  fault: string,
  error: VlabError,
  codes: readonly string[],
  step: string | undefined,
): void {
  console.info(
    `${fault}: ${error.code} details.step=${String(error.details['step'])}\n  ${error.message}`,
  );
  expect.soft(codes, `${fault}: the code`).toContain(error.code);
  expect.soft(error.computer, `${fault}: the computer`).toBe('c1');
  if (step !== undefined) {
    expect.soft(error.details['step'], `${fault}: details.step`).toBe(step);
    expect.soft(error.message, `${fault}: the message names the step`).toContain(`step ${step}:`);
  }
}

describe('faults of load and capture end typed, with nothing published and the machine in a known state', () => {
  // The store that fills up (fault 8): registered before the lab's hooks, so removed after the
  // lab is down (after-hooks run in reverse order).
  const loop = new LoopStore();
  afterAll(() => loop.dispose(), 120_000);
  const bm = useBaremetalLab(['c1']);

  const c1 = () => bm.harness('c1');
  const logs = () => c1().logs();
  const storeEntries = () => (c1().storeEntries as () => Promise<readonly string[]>)();
  const imageSource = () => (c1().imageSource as () => Promise<ImageSource>)();
  /** The published images and every entry of the store directory, temporaries included. */
  const storeState = async () => ({
    images: await bm.provisioner.listImages(bm.storeCtx()),
    entries: await storeEntries(),
  });
  const provisionerWith = (more: Partial<BaremetalConfigInput>): Provisioner =>
    createBaremetalProvisioner(labConfig(bm.storeDir, more));
  const loadBase = async (): Promise<void> => {
    const loaded = await bm.provisioner.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 });
    expect(loaded).toMatchObject({ image: IMAGE, revision: 1, stamp: { state: 'ready' } });
    expect(await c1().power()).toBe('on');
  };

  beforeAll(async () => {
    await bm.seed();
  }, 600_000);

  it('1. a BMC that does not answer: an @vlab/ipmi error, the power unchanged', async () => {
    const before = await storeState();
    const power = await c1().power();
    expect(power).not.toBe('unknown');
    const port = await freeUdpPort();
    const p = provisionerWith({ timeouts: { bmcCommandMs: 3000 } });
    try {
      const ctx = withComputer(bm.ctx('c1', 'load'), (c) => ({
        ...c,
        attributes: { ...c.attributes, bmcPort: String(port) },
      }));
      const error = await failure(p.load(ctx, { image: IMAGE, revision: 1 }), 60_000, logs);
      expectFault('BMC not answering', error, ['VLAB_ERR_IPMI_NO_RESPONSE'], 'boot-deploy');
      expect.soft(error.message).toContain(`127.0.0.1:${port}`);
    } finally {
      await p.close?.();
    }
    expect(await c1().power()).toBe(power);
    expect(await storeState()).toEqual(before);
  }, 120_000);

  it('2. a wrong BMC password: the authentication error, the power unchanged, the password nowhere', async () => {
    const before = await storeState();
    const power = await c1().power();
    expect(power).not.toBe('unknown');
    const dir = await mkdtemp(join(tmpdir(), 'vlab-faults-bmc-'));
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(join(dir, 'password'), wrong, { mode: 0o600 });
      const ctx = withComputer(bm.ctx('c1', 'load'), (c) => ({
        ...c,
        credentials: { ...c.credentials, bmc: { file: join(dir, 'password') } },
      }));
      const error = await failure(
        bm.provisioner.load(ctx, { image: IMAGE, revision: 1 }),
        60_000,
        logs,
      );
      expectFault('wrong BMC password', error, ['VLAB_ERR_IPMI_PASSWORD_WRONG'], 'boot-deploy');
      expect(textsOf(error).filter((t) => t.includes(wrong))).toEqual([]);
      expect(JSON.stringify(c1().logs())).not.toContain(wrong);
      expect(textsOf(c1().logs()).filter((t) => t.includes(wrong))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await c1().power()).toBe(power);
    expect(await storeState()).toEqual(before);
  }, 120_000);

  it('3. a deploy environment that never becomes usable: DEPLOY_UNREACHABLE, the machine off', async () => {
    const before = await storeState();
    const keys = join(c1().labComputer.dir, 'deploy-etc', 'authorized_keys');
    const authorized = await readFile(keys);
    const p = provisionerWith({ timeouts: { deployBootMs: 30_000 } });
    const started = performance.now();
    try {
      // Truncated in place: the deploy environment sees the file through a bind mount.
      await writeFile(keys, '');
      const error = await failure(
        p.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 }),
        150_000,
        logs,
      );
      expectFault(
        'deploy environment unusable',
        error,
        ['VLAB_ERR_BAREMETAL_DEPLOY_UNREACHABLE'],
        'boot-deploy',
      );
    } finally {
      await writeFile(keys, authorized);
      await p.close?.();
    }
    // It waited for the deadline (30 s), not for the default 10 minutes.
    expect(performance.now() - started).toBeLessThan(150_000);
    expect(await c1().power()).toBe('off');
    expect(await storeState()).toEqual(before);
  }, 240_000);

  it('4. SSH dropped while the image is written: a typed error in write-image, the machine off', async () => {
    const before = await storeState();
    const loading = bm.provisioner.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 });
    loading.catch(() => undefined);
    await waitForDeployProcess(
      c1().labComputer,
      (argv) => argv[0] === 'dd' && argv.includes(`of=${DEPLOY_DISK_PATH}`),
      loading,
      `dd of=${DEPLOY_DISK_PATH}`,
    );
    const killed = killSshSessions(c1().labComputer);
    console.info(`write-image: killed ${killed.join('; ')}`);
    expect(killed.length).toBeGreaterThan(0);
    const error = await failure(loading, 120_000, logs);
    expectFault(
      'SSH dropped (load)',
      error,
      ['VLAB_ERR_CONNECTION_LOST', 'VLAB_ERR_BAREMETAL_DISK_FAILED'],
      'write-image',
    );
    expect(await c1().power()).toBe('off');
    expect(await storeState()).toEqual(before);
  }, 300_000);

  it('5. SSH dropped while the disk is read: a typed error in read-disk, nothing published, no temporary', async () => {
    await loadBase();
    const before = await storeState();
    const capturing = bm.provisioner.capture(bm.ctx('c1', 'capture'), {
      image: IMAGE,
      newRevision: 2,
      mode: 'image',
    });
    capturing.catch(() => undefined);
    await waitForDeployProcess(
      c1().labComputer,
      (argv) => argv[0] === 'dd' && argv.includes(`if=${DEPLOY_DISK_PATH}`),
      capturing,
      `dd if=${DEPLOY_DISK_PATH}`,
    );
    const killed = killSshSessions(c1().labComputer);
    console.info(`read-disk: killed ${killed.join('; ')}`);
    expect(killed.length).toBeGreaterThan(0);
    const error = await failure(capturing, 120_000, logs);
    expectFault(
      'SSH dropped (capture)',
      error,
      ['VLAB_ERR_CONNECTION_LOST', 'VLAB_ERR_BAREMETAL_DISK_FAILED'],
      'read-disk',
    );
    expect(await c1().power()).toBe('off');
    const after = await storeState();
    expect(after).toEqual(before);
    expect(hidden(after.entries)).toEqual([]);
    expect(await bm.provisioner.imageExists(bm.storeCtx(), { name: IMAGE, revision: 2 })).toBe(
      false,
    );
  }, 600_000);

  it('6. a stored revision whose bytes do not match its sha256: IMAGE_CORRUPT naming both sums, the machine off', async () => {
    const name = 'faults-corrupt';
    const importImage = bm.provisioner.importImage;
    if (importImage === undefined) throw new Error('the provisioner has no importImage');
    const stored: StoredImage = await importImage(bm.storeCtx(), {
      image: name,
      revision: 1,
      source: await imageSource(),
    });
    try {
      // Some bytes in the middle of the stored disk (format raw), changed on purpose.
      const file = join(bm.storeDir, name, '1', DISK_FILE);
      const manifest = JSON.parse(
        await readFile(join(bm.storeDir, name, '1', MANIFEST_FILE), 'utf8'),
      );
      expect(manifest).toMatchObject({ format: 'raw', sha256: stored.sha256 });
      const handle = await open(file, 'r+');
      try {
        const offset = Math.floor(stored.sizeBytes / 2 / 4096) * 4096;
        await handle.write(Buffer.alloc(4096, 0xa5), 0, 4096, offset);
      } finally {
        await handle.close();
      }
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      const corrupted = hash.digest('hex');
      expect(corrupted).not.toBe(stored.sha256);

      const before = await storeState();
      const error = await failure(
        bm.provisioner.load(bm.ctx('c1', 'load'), { image: name, revision: 1 }),
        300_000,
        logs,
      );
      expectFault('sha256 mismatch', error, ['VLAB_ERR_IMAGE_CORRUPT'], 'write-image');
      expect.soft(error.message).toContain(stored.sha256);
      expect.soft(error.message).toContain(corrupted);
      expect(await c1().power()).toBe('off');
      expect(await storeState()).toEqual(before);
    } finally {
      await bm.provisioner.deleteImage?.(bm.storeCtx(), { name, revision: 1 });
    }
  }, 600_000);

  it('7. a guest that ignores the shutdown: SHUTDOWN_FORCED, nothing published, the machine off', async () => {
    await loadBase();
    // os-linux shuts down with `systemctl --no-block poweroff`: this systemctl accepts it and
    // does nothing (everything else goes to the real one).
    const ignore = await bm.ctx('c1', 'break').communicator.run([
      'sh',
      '-c',
      `set -e
mv /usr/bin/systemctl /usr/bin/systemctl.real
cat >/usr/bin/systemctl <<'EOF'
#!/bin/sh
# vlab faults test: ignores power actions
for arg in "$@"; do case $arg in poweroff|halt|shutdown|reboot) exit 0 ;; esac; done
exec /usr/bin/systemctl.real "$@"
EOF
chmod 0755 /usr/bin/systemctl
systemctl --no-block poweroff
systemctl is-system-running || true`,
    ]);
    expect(ignore.code, ignore.stderr.toString()).toBe(0);
    expect(await c1().power()).toBe('on');

    const before = await storeState();
    const preCaptureMs = 60_000;
    const p = provisionerWith({ timeouts: { preCaptureMs } });
    const started = performance.now();
    try {
      const error = await failure(
        p.capture(bm.ctx('c1', 'capture'), { image: IMAGE, newRevision: 2, mode: 'image' }),
        preCaptureMs + 120_000,
        logs,
      );
      expectFault('shutdown ignored', error, ['VLAB_ERR_BAREMETAL_SHUTDOWN_FORCED'], 'preCapture');
    } finally {
      await p.close?.();
    }
    // Forced off at preCapture's deadline, not after os-linux's own 300 s.
    expect(performance.now() - started).toBeLessThan(preCaptureMs + 60_000);
    expect(await c1().power()).toBe('off');
    expect(await storeState()).toEqual(before);
    expect(await bm.provisioner.imageExists(bm.storeCtx(), { name: IMAGE, revision: 2 })).toBe(
      false,
    );
  }, 600_000);

  it('8. a store that fills up during a capture: STORE_FULL, the imported revision intact, no temporary', async () => {
    const source = await imageSource();
    const imageBytes = (await stat(source.path as string)).size;
    expect(imageBytes).toBe(2 * GiB);
    // Room for the raw import and 24 MiB: a captured disk compresses to ~60 MB (zstd -3).
    const available = await loop.create(imageBytes, 24 * MiB);
    expect(available).toBeGreaterThanOrEqual(imageBytes + 20 * MiB);
    expect(available).toBeLessThanOrEqual(imageBytes + 32 * MiB);
    const p = createBaremetalProvisioner(labConfig(loop.storeDir));
    try {
      const imported = await p.importImage?.(bm.storeCtx(), {
        image: IMAGE,
        revision: 1,
        source,
      });
      expect(imported).toMatchObject({ name: IMAGE, revision: 1, sha256: source.sha256 });
      expect(await loop.freeBytes()).toBeLessThan(32 * MiB);
      const manifestPath = join(loop.storeDir, IMAGE, '1', MANIFEST_FILE);
      const manifest = await readFile(manifestPath, 'utf8');

      const loaded = await p.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 });
      expect(loaded).toMatchObject({ image: IMAGE, revision: 1, stamp: { state: 'ready' } });
      const images = await p.listImages(bm.storeCtx());
      const entries = await loop.entries();

      const error = await failure(
        p.capture(bm.ctx('c1', 'capture'), { image: IMAGE, newRevision: 2, mode: 'image' }),
        180_000,
        logs,
        async () =>
          `the store: ${(await loop.entries()).join(', ')}; ${await loop.freeBytes()} bytes free\nc1's processes:\n${processes(c1().labComputer)}`,
      );
      expectFault('store full', error, ['VLAB_ERR_STORE_FULL'], 'read-disk');
      expect(await c1().power()).toBe('off');
      // Nothing of revision 2, no temporary; revision 1 as imported.
      expect(await loop.entries()).toEqual(entries);
      expect(hidden(entries)).toEqual([]);
      expect(await p.listImages(bm.storeCtx())).toEqual(images);
      expect(await p.imageExists(bm.storeCtx(), { name: IMAGE, revision: 1 })).toBe(true);
      expect(await p.imageExists(bm.storeCtx(), { name: IMAGE, revision: 2 })).toBe(false);
      expect(await readFile(manifestPath, 'utf8')).toBe(manifest);
      expect((await stat(join(loop.storeDir, IMAGE, '1', DISK_FILE))).size).toBe(
        imported?.storedBytes,
      );
    } finally {
      await p.close?.();
    }
  }, 900_000);
});
