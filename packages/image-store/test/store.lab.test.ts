import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISK_FILE, type ImageStore, MANIFEST_FILE } from '../src/index.js';
import {
  chunks,
  collect,
  disk,
  gate,
  type Harness,
  localHarness,
  sha256,
  sshHarness,
  tree,
} from './harness.js';

// One table of behaviours, run for both backends: a directory of this machine (node:fs) and a
// directory reached over SSH (a real OpenSSH sshd on loopback, @vlab/ssh). Nothing races a timer:
// "mid-write" is a source that waits on a gate the test opens, an abort comes from the progress
// callback, and "store full" is a real 4 MiB tmpfs.

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error = await rejection(promise);
  expect(isVlabError(error), String(error)).toBe(true);
  expect((error as { code: string }).code, String(error)).toBe(code);
  return error;
}

const ZERO_SHA = '0'.repeat(64);

const backends: readonly [string, () => Promise<Harness>][] = [
  ['local directory', localHarness],
  ['directory over SSH', sshHarness],
];

describe.each(backends)('image store on a %s', (_label, start) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await start();
  });
  afterAll(async () => {
    await harness?.close();
  });

  async function publishRaw(store: ImageStore, name: string, revision: number, data: Buffer) {
    const reservation = await store.reserve({ name, revision });
    await reservation.write(chunks(data));
    return reservation.publish({
      format: 'raw',
      sizeBytes: data.length,
      sha256: sha256(data),
      osFamily: 'linux',
    });
  }

  it('refuses a second reservation of one revision, and allows it again after abandon', async () => {
    const { store, root } = await harness.fresh();
    const first = await store.reserve({ name: 'debian-12', revision: 2 });
    const error = await expectCode(
      store.reserve({ name: 'debian-12', revision: 2 }),
      'VLAB_ERR_IMAGE_EXISTS',
    );
    expect(String(error)).toContain(store.location);
    expect(String(error)).toContain('"debian-12" revision 2');
    await first.abandon();
    await first.abandon(); // idempotent
    expect(await tree(root)).toEqual([]);
    const again = await store.reserve({ name: 'debian-12', revision: 2 });
    await again.abandon();
  });

  it('of concurrent reservations of one revision, exactly one wins', async () => {
    const { store } = await harness.fresh();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => store.reserve({ name: 'race', revision: 1 })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    for (const r of lost) expect((r.reason as { code: string }).code).toBe('VLAB_ERR_IMAGE_EXISTS');
    await (
      won[0] as PromiseFulfilledResult<Awaited<ReturnType<ImageStore['reserve']>>>
    ).value.abandon();
  });

  it('publishes a revision: list, exists, size, get, read, and the files on disk', async () => {
    const { store, root } = await harness.fresh();
    const compressed = disk(100_000);
    const logicalSha = sha256(Buffer.from('the logical disk'));
    const reservation = await store.reserve({ name: 'debian-12', revision: 3 });
    const progress: number[] = [];
    const written = await reservation.write(chunks(compressed, 30_000), {
      onProgress: (bytes) => progress.push(bytes),
    });
    expect(written).toEqual({ storedBytes: 100_000, storedSha256: sha256(compressed) });
    expect(progress.at(-1)).toBe(100_000);
    const manifest = await reservation.publish({
      format: 'raw+zstd',
      sizeBytes: 2 * 1024 ** 3,
      sha256: logicalSha,
      osFamily: 'linux',
      storedBytes: 100_000,
      sourceComputer: 'node7',
      stamp: { image: 'debian-12', revision: 3 },
    });
    expect(manifest).toMatchObject({
      name: 'debian-12',
      revision: 3,
      format: 'raw+zstd',
      sizeBytes: 2 * 1024 ** 3,
      storedBytes: 100_000,
      sha256: logicalSha,
      osFamily: 'linux',
      sourceComputer: 'node7',
      stamp: { image: 'debian-12', revision: 3 },
    });
    expect(Date.parse(manifest.createdAt)).not.toBeNaN();
    expect(await store.list()).toEqual([manifest]);
    expect(await store.exists({ name: 'debian-12' })).toBe(true);
    expect(await store.exists({ name: 'debian-12', revision: 3 })).toBe(true);
    expect(await store.exists({ name: 'debian-12', revision: 4 })).toBe(false);
    expect(await store.exists({ name: 'other' })).toBe(false);
    expect(await store.size({ name: 'debian-12', revision: 3 })).toBe(2 * 1024 ** 3);
    await expectCode(store.size({ name: 'debian-12', revision: 4 }), 'VLAB_ERR_IMAGE_NOT_FOUND');
    expect(await store.get({ name: 'debian-12', revision: 3 })).toEqual(manifest);
    const { stream } = await store.read({ name: 'debian-12', revision: 3 });
    expect((await collect(stream)).equals(compressed)).toBe(true);
    expect(await tree(root)).toEqual([
      'debian-12',
      'debian-12/3',
      `debian-12/3/${DISK_FILE}`,
      `debian-12/3/${MANIFEST_FILE}`,
    ]);
    const onDisk = JSON.parse(await readFile(join(root, 'debian-12/3', MANIFEST_FILE), 'utf8'));
    expect(onDisk).toEqual(manifest);
    await expectCode(store.reserve({ name: 'debian-12', revision: 3 }), 'VLAB_ERR_IMAGE_EXISTS');
  });

  it('abandon leaves nothing behind, and publish is refused after it', async () => {
    const { store, root } = await harness.fresh();
    const reservation = await store.reserve({ name: 'img', revision: 1 });
    await reservation.write(chunks(disk(50_000)));
    await reservation.abandon();
    // Not even the image's directory: a first revision never published leaves no trace.
    expect(await tree(root)).toEqual([]);
    expect(await store.list()).toEqual([]);
    await expectCode(
      reservation.publish({ format: 'raw', sizeBytes: 1, sha256: ZERO_SHA, osFamily: 'linux' }),
      'VLAB_ERR_ARGUMENT_INVALID',
    );
  });

  it('never lists a reserved or half-written revision', async () => {
    const { store, root } = await harness.fresh();
    const published = await publishRaw(store, 'img', 1, disk(10_000));
    const reservation = await store.reserve({ name: 'img', revision: 2 });
    const halfway = gate();
    const resume = gate();
    async function* source(): AsyncGenerator<Uint8Array> {
      yield disk(64 * 1024);
      halfway.open();
      await resume.promise;
      yield disk(64 * 1024);
    }
    const writing = reservation.write(source());
    await halfway.promise;
    expect(await store.list()).toEqual([published]);
    expect(await store.exists({ name: 'img', revision: 2 })).toBe(false);
    expect((await tree(root)).filter((p) => p.startsWith('img/.2.'))).not.toEqual([]);
    resume.open();
    await writing;
    expect(await store.list()).toEqual([published]);
    await reservation.abandon();
    expect(await tree(root)).toEqual([
      'img',
      'img/1',
      `img/1/${DISK_FILE}`,
      `img/1/${MANIFEST_FILE}`,
    ]);
  });

  it('deletes a revision atomically and idempotently', async () => {
    const { store, root } = await harness.fresh();
    const one = await publishRaw(store, 'img', 1, disk(1000));
    await publishRaw(store, 'img', 2, disk(1000));
    await store.delete({ name: 'img', revision: 2 });
    await store.delete({ name: 'img', revision: 2 });
    await store.delete({ name: 'never', revision: 9 });
    expect(await store.list()).toEqual([one]);
    expect(await tree(root)).toEqual([
      'img',
      'img/1',
      `img/1/${DISK_FILE}`,
      `img/1/${MANIFEST_FILE}`,
    ]);
    // The revision may be created again.
    await publishRaw(store, 'img', 2, disk(10));
    expect((await store.list()).map((m) => m.revision)).toEqual([1, 2]);
    // Deleting the last revisions leaves no empty image directory, and the name is free again.
    await store.delete({ name: 'img', revision: 1 });
    await store.delete({ name: 'img', revision: 2 });
    expect(await tree(root)).toEqual([]);
    await publishRaw(store, 'img', 1, disk(10));
    expect((await store.list()).map((m) => m.revision)).toEqual([1]);
  });

  it('deletes what a writer that died left: its temporary data and reservation', async () => {
    const { store, root } = await harness.fresh();
    await publishRaw(store, 'img', 1, disk(1000));
    // A capture whose process died while writing: reserved, half written, never abandoned.
    const dead = await store.reserve({ name: 'img', revision: 2 });
    const half = disk(2000);
    await dead.write(chunks(half));
    expect(await tree(root)).toContain('img/.2.reserved');
    await store.delete({ name: 'img', revision: 2 });
    expect(await tree(root)).toEqual([
      'img',
      'img/1',
      `img/1/${DISK_FILE}`,
      `img/1/${MANIFEST_FILE}`,
    ]);
    // The revision is free again; the dead writer's handle can no longer publish.
    await expect(
      dead.publish({ format: 'raw', sizeBytes: 2000, sha256: sha256(half), osFamily: 'linux' }),
    ).rejects.toThrow();
    await publishRaw(store, 'img', 2, disk(10));
    expect((await store.list()).map((m) => m.revision)).toEqual([1, 2]);
    // The only revision of an image, reserved and never written: no empty directory is left.
    await store.reserve({ name: 'lone', revision: 1 });
    await store.delete({ name: 'lone', revision: 1 });
    expect(await tree(root)).not.toContain('lone');
  });

  it('reserves while another revision of the image is abandoned and its directory pruned', async () => {
    const { store, root } = await harness.fresh();
    // Many rounds of abandon (which removes the emptied directory) racing a reserve (which
    // needs it): the reserve always wins its revision, and nothing is left over.
    for (let round = 0; round < 20; round += 1) {
      const first = await store.reserve({ name: 'img', revision: 1 });
      const [reserved] = await Promise.all([
        store.reserve({ name: 'img', revision: 2 }),
        first.abandon(),
      ]);
      await reserved.abandon();
    }
    expect(await tree(root)).toEqual([]);
  });

  it('refuses a raw publish whose bytes do not match its sha256 or size', async () => {
    const { store } = await harness.fresh();
    const data = disk(5000);
    const reservation = await store.reserve({ name: 'img', revision: 1 });
    await reservation.write(chunks(data));
    const error = await expectCode(
      reservation.publish({ format: 'raw', sizeBytes: 5000, sha256: ZERO_SHA, osFamily: 'linux' }),
      'VLAB_ERR_IMAGE_CORRUPT',
    );
    expect(String(error)).toContain(sha256(data));
    await expectCode(
      reservation.publish({
        format: 'raw+zstd',
        sizeBytes: 9,
        sha256: ZERO_SHA,
        osFamily: 'linux',
        storedBytes: 4999,
      }),
      'VLAB_ERR_IMAGE_CORRUPT',
    );
    await reservation.abandon();
    expect(await store.list()).toEqual([]);
  });

  it('imports a raw image from a file and from a stream, checking its sha256', async () => {
    const { store, root } = await harness.fresh();
    const data = disk(300_000);
    const file = join(root, '..', `import-${harness.kind}-${process.pid}.raw`);
    await writeFile(file, data);
    const fromFile = await store.importRaw({
      image: 'demo',
      revision: 1,
      source: { path: file, sha256: sha256(data), osFamily: 'linux' },
    });
    expect(fromFile).toMatchObject({
      name: 'demo',
      revision: 1,
      format: 'raw',
      sizeBytes: 300_000,
      storedBytes: 300_000,
      sha256: sha256(data),
      osFamily: 'linux',
    });
    expect(fromFile.stamp).toBeUndefined();
    const progress: number[] = [];
    const fromStream = await store.importRaw(
      {
        image: 'demo',
        revision: 2,
        source: { stream: Readable.from(chunks(data)), sha256: sha256(data), osFamily: 'linux' },
      },
      { onProgress: (bytes) => progress.push(bytes) },
    );
    expect(progress.at(-1)).toBe(300_000);
    expect(fromStream.sizeBytes).toBe(300_000);
    expect(
      (await collect((await store.read({ name: 'demo', revision: 2 })).stream)).equals(data),
    ).toBe(true);

    const before = await tree(root);
    const wrongFile = await expectCode(
      store.importRaw({
        image: 'demo',
        revision: 3,
        source: { path: file, sha256: ZERO_SHA, osFamily: 'linux' },
      }),
      'VLAB_ERR_IMAGE_CORRUPT',
    );
    expect(String(wrongFile)).toContain(ZERO_SHA);
    expect(String(wrongFile)).toContain(sha256(data));
    await expectCode(
      store.importRaw({
        image: 'demo',
        revision: 3,
        source: { stream: chunks(data), sha256: ZERO_SHA, osFamily: 'linux' },
      }),
      'VLAB_ERR_IMAGE_CORRUPT',
    );
    expect(await tree(root)).toEqual(before);
    // An existing revision is refused before the source is read.
    let read = false;
    async function* untouched(): AsyncGenerator<Uint8Array> {
      read = true;
      yield data;
    }
    await expectCode(
      store.importRaw({
        image: 'demo',
        revision: 1,
        source: { stream: untouched(), sha256: sha256(data), osFamily: 'linux' },
      }),
      'VLAB_ERR_IMAGE_EXISTS',
    );
    expect(read).toBe(false);
    expect((await store.list()).map((m) => m.revision)).toEqual([1, 2]);
  });

  it('stops a write on abort and an import leaves nothing behind', async () => {
    const { store, root } = await harness.fresh();
    const data = disk(1024 * 1024);
    const controller = new AbortController();
    const error = await expectCode(
      store.importRaw(
        {
          image: 'img',
          revision: 1,
          source: { stream: chunks(data), sha256: sha256(data), osFamily: 'linux' },
        },
        {
          signal: controller.signal,
          onProgress: (bytes) => bytes >= 256 * 1024 && controller.abort('stop'),
        },
      ),
      'VLAB_ERR_OP_CANCELLED',
    );
    expect(String(error)).toContain('"img" revision 1');
    expect(await tree(root)).toEqual([]);
    await expectCode(store.list({ signal: AbortSignal.abort('no') }), 'VLAB_ERR_OP_CANCELLED');
  });

  it('ends a write whose source stalls, on abort and at its deadline', async () => {
    const { store, root } = await harness.fresh();
    const started = gate();
    const never = gate();
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield disk(64 * 1024);
      started.open();
      await never.promise;
    }
    const controller = new AbortController();
    const reservation = await store.reserve({ name: 'img', revision: 1 });
    const writing = reservation.write(stalled(), { signal: controller.signal });
    await started.promise;
    controller.abort('operator');
    await expectCode(writing, 'VLAB_ERR_OP_CANCELLED');
    // The deadline alone ends it too: the source never sends again, so nothing races the timer.
    const timedOut = await expectCode(
      reservation.write(
        (async function* () {
          await never.promise;
          yield new Uint8Array(1);
        })(),
        { timeoutMs: 200 },
      ),
      'VLAB_ERR_OP_TIMEOUT',
    );
    expect(String(timedOut)).toContain('"img" revision 1');
    await reservation.abandon();
    expect(await tree(root)).toEqual([]);
  });

  it('names the store and the image when a file operation fails', async () => {
    const { root } = await harness.fresh();
    const file = `${root}-not-a-directory`;
    await writeFile(file, 'x');
    const onFile = harness.storeAt(`${file}/store`);
    const error = await rejection(onFile.reserve({ name: 'img', revision: 4 }));
    expect(isVlabError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(
      harness.kind === 'local' ? 'VLAB_ERR_STORE_IO_FAILED' : 'VLAB_ERR_SSH_SFTP_FAILED',
    );
    expect(String(error)).toContain(onFile.location);
    expect(String(error)).toContain('"img" revision 4');
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({
      store: onFile.location,
      image: 'img',
      revision: 4,
    });
  });

  it('reports a full store as VLAB_ERR_STORE_FULL, removes what it wrote, keeps older revisions', async () => {
    const small = await harness.small(4);
    try {
      const { store, root } = small;
      const base = disk(1024 * 1024);
      await publishRaw(store, 'img', 1, base);
      const big = disk(8 * 1024 * 1024);
      const reservation = await store.reserve({ name: 'img', revision: 2 });
      const error = await expectCode(reservation.write(chunks(big)), 'VLAB_ERR_STORE_FULL');
      expect(String(error)).toContain(store.location);
      expect(String(error)).toContain('"img" revision 2');
      await reservation.abandon();
      await expectCode(
        store.importRaw({
          image: 'img',
          revision: 3,
          source: { stream: chunks(big), sha256: sha256(big), osFamily: 'linux' },
        }),
        'VLAB_ERR_STORE_FULL',
      );
      expect(await tree(root)).toEqual([
        'img',
        'img/1',
        `img/1/${DISK_FILE}`,
        `img/1/${MANIFEST_FILE}`,
      ]);
      const [only] = await store.list();
      expect(only).toMatchObject({ revision: 1, sha256: sha256(base) });
      expect(sha256(await collect((await store.read({ name: 'img', revision: 1 })).stream))).toBe(
        sha256(base),
      );
      // The room is back: a revision that fits is stored.
      await publishRaw(store, 'img', 2, disk(1024 * 1024));
    } finally {
      await small.unmount();
    }
  });

  it('leaves no process behind on the store host', async () => {
    const deadline = Date.now() + 10_000;
    while (harness.leftovers().length > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(harness.leftovers()).toEqual([]);
  });
});
