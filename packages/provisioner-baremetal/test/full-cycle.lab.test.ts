import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStamp } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { useBaremetalLab } from './baremetal-lab.js';

const IMAGE = 'debian-bookworm';
const MARKER = '/root/vlab-full-cycle-marker';
const FILE = '/root/vlab-checkpoint-marker';

// The capture design end to end on real machines in miniature, in one lab of three computers: load,
// change, capture, load the capture on another computer and find the change there, with the
// captured disk generalized; a checkpoint; three concurrent loads of one revision.
const bm = useBaremetalLab(['c1', 'c2', 'c3']);

describe('load → capture → load on another computer', () => {
  it('carries a file from one computer to another through a captured revision', async () => {
    await bm.seed();
    const loaded = await bm.provisioner.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 });
    expect(loaded).toMatchObject({ image: IMAGE, revision: 1, stamp: { state: 'ready' } });
    expect(await bm.harness('c1').power()).toBe('on');

    const c1 = bm.ctx('c1', 'change');
    const sum = await c1.communicator.run([
      'sh',
      '-c',
      `head -c 65536 /dev/urandom >${MARKER} && sha256sum ${MARKER}`,
    ]);
    expect(sum.code).toBe(0);
    await bm.os.reserve(bm.ctx('c1', 'reserve'), { users: bm.harness('c1').users() });

    const captured = await bm.provisioner.capture(bm.ctx('c1', 'capture'), {
      image: IMAGE,
      newRevision: 2,
      mode: 'image',
    });
    expect(captured).toMatchObject({ image: IMAGE, revision: 2, sizeBytes: 2 * 2 ** 30 });
    expect(captured.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(captured.storedBytes).toBeLessThan(captured.sizeBytes);
    // Image mode leaves the machine off, read from the BMC.
    expect(await bm.harness('c1').power()).toBe('off');

    // The store: the revision published with its manifest, nothing temporary left.
    const listed = await bm.provisioner.listImages(bm.storeCtx());
    expect(listed.find((i) => i.revision === 2)).toMatchObject({
      name: IMAGE,
      sha256: captured.sha256,
      sizeBytes: captured.sizeBytes,
      storedBytes: captured.storedBytes,
      osFamily: 'linux',
      stamp: { image: IMAGE, revision: 2 },
    });
    const manifest = JSON.parse(
      await readFile(join(bm.storeDir, IMAGE, '2', 'manifest.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({ format: 'raw+zstd', sourceComputer: 'c1' });
    const entries = (await bm.harness('c1').storeEntries?.()) ?? ['no storeEntries'];
    expect(entries.filter((e) => e.split('/').some((part) => part.startsWith('.')))).toEqual([]);

    // The captured disk (c1's, off): generalized — no host keys, no reservation users, stamp captured.
    const identity = await bm.harness('c1').identity?.();
    expect(identity?.hostKeys).toEqual([]);
    expect(await bm.harness('c1').accounts()).toEqual([]);
    const stamp = parseStamp(
      ((await bm.harness('c1').readFile(bm.harness('c1').stampPath)) as Buffer).toString('utf8'),
    );
    expect(stamp).toMatchObject({ state: 'captured', image: IMAGE, revision: 2 });

    // Revision 2 on c2: the same file, the same bytes, and SSH with keys of its own.
    const onC2 = await bm.provisioner.load(bm.ctx('c2', 'load'), { image: IMAGE, revision: 2 });
    expect(onC2).toMatchObject({ image: IMAGE, revision: 2, stamp: { state: 'ready' } });
    const there = await bm.ctx('c2', 'check').communicator.run(['sha256sum', MARKER]);
    expect(there.stdout.toString()).toBe(sum.stdout.toString());
    const presented = (await bm.harness('c2').presentedHostKeys?.()) ?? [];
    expect(presented.length).toBeGreaterThan(0);
    expect(presented.some((k) => bm.harness('c1').labComputer.hostKeys.includes(k))).toBe(false);
  });
});

// Checkpoint mode: the disk is saved and the same machine comes back with its files, ready.
describe('capture in checkpoint mode', () => {
  it('saves the disk, boots the machine back and ends with postLoad: same files, ready', async () => {
    await bm.seed();
    await bm.provisioner.load(bm.ctx('c1', 'load'), { image: IMAGE, revision: 1 });
    const written = await bm
      .ctx('c1', 'change')
      .communicator.run([
        'sh',
        '-c',
        'head -c 4096 /dev/urandom >"$1" && sha256sum "$1"',
        'write',
        FILE,
      ]);
    expect(written.code).toBe(0);

    const result = await bm.provisioner.capture(bm.ctx('c1', 'capture'), {
      image: `${IMAGE}-checkpoint`,
      newRevision: 1,
      mode: 'checkpoint',
    });
    expect(result).toMatchObject({ image: `${IMAGE}-checkpoint`, revision: 1 });
    expect(
      await bm.provisioner.imageExists(bm.storeCtx(), { name: `${IMAGE}-checkpoint`, revision: 1 }),
    ).toBe(true);

    // Back on, answering through the pinned communicator, the file unchanged, stamp ready.
    expect(await bm.harness('c1').power()).toBe('on');
    const ctx = bm.ctx('c1', 'check');
    const again = await ctx.communicator.run(['sha256sum', FILE]);
    expect(again.stdout.toString()).toBe(written.stdout.toString());
    expect(await bm.os.readStamp(ctx)).toMatchObject({
      state: 'ready',
      image: `${IMAGE}-checkpoint`,
      revision: 1,
    });
    // nodeStatus against the revision it now holds: ready.
    const status = await bm.provisioner.nodeStatus(
      new Proxy(bm.ctx('c1', 'nodeStatus'), {
        get: (target, key) =>
          key === 'image'
            ? { name: `${IMAGE}-checkpoint`, revision: 1, osFamily: 'linux' }
            : Reflect.get(target, key),
      }),
    );
    expect(status).toMatchObject({ power: 'on', responding: true, verdict: 'ready' });
  });
});

// Three computers load one revision at once: the store serves them concurrently, each machine
// gets its own host key, and all end ready.
describe('three concurrent loads of one revision', () => {
  const computers = ['c1', 'c2', 'c3'];
  it('loads the same revision onto three computers at once', async () => {
    await bm.seed();
    const results = await Promise.all(
      computers.map((name) =>
        bm.provisioner.load(bm.ctx(name, 'load'), { image: IMAGE, revision: 1 }),
      ),
    );
    for (const result of results)
      expect(result.stamp).toMatchObject({ state: 'ready', revision: 1 });
    const names = await Promise.all(
      computers.map(async (name) => {
        const out = await bm.ctx(name, 'check').communicator.run(['hostname']);
        return out.stdout.toString().trim();
      }),
    );
    expect(names).toEqual(computers);
    const keys = await Promise.all(
      computers.map(async (name) => (await bm.harness(name).presentedHostKeys?.()) ?? []),
    );
    // Every machine its own keys: no two computers share one.
    const all = keys.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const name of computers) expect(await bm.harness(name).power()).toBe('on');
  });
});
