import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createOperationContext,
  createSecretResolver,
  type ImportImageArgs,
  instantiateOsModule,
  instantiateProvisioner,
  isVlabError,
  type Provisioner,
  silentLogger,
} from '@vlab/core';
import {
  createMemoryLab,
  MEMORY_BASE_IMAGE,
  type MemoryLab,
  type MemoryLabOptions,
  osModuleChecks,
  provisionerChecks,
} from '@vlab/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import memoryOsModule from '../src/memory-os-module.js';
import memoryProvisioner from '../src/memory-provisioner.js';

const labs: MemoryLab[] = [];
afterEach(() => {
  for (const lab of labs.splice(0)) lab.dispose();
});

async function setUp(options: MemoryLabOptions = {}): Promise<{
  lab: MemoryLab;
  provisioner: Provisioner;
  importImage: (args: ImportImageArgs) => Promise<unknown>;
}> {
  const lab = createMemoryLab(options);
  labs.push(lab);
  const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
  const provisioner = await instantiateProvisioner(memoryProvisioner, { lab: lab.id }, deps);
  const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() + 10_000 });
  const importImage = (args: ImportImageArgs) => {
    if (provisioner.importImage === undefined) throw new Error('no importImage');
    return provisioner.importImage(ctx, args);
  };
  return { lab, provisioner, importImage };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const codeOf = (error: unknown) => (isVlabError(error) ? error.code : String(error));

describe('importImage of the memory provisioner', () => {
  it('imports a raw disk image from a file path, with sha256, osFamily and both sizes', async () => {
    const { lab, importImage } = await setUp({ storeBaseImage: false });
    const dir = await mkdtemp(join(tmpdir(), 'vlab-import-'));
    try {
      const path = join(dir, 'disk.raw');
      await writeFile(path, lab.baseImage);
      const stored = await importImage({
        image: 'demo',
        revision: 3,
        source: { path, sha256: sha256(lab.baseImage), osFamily: 'linux' },
      });
      expect(stored).toMatchObject({
        name: 'demo',
        revision: 3,
        sizeBytes: lab.baseImage.length,
        storedBytes: lab.baseImage.length,
        sha256: sha256(lab.baseImage),
        osFamily: 'linux',
      });
      expect((stored as { stamp?: unknown }).stamp).toBeUndefined();
      expect([...lab.images.keys()]).toEqual(['demo@3']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a sha256 mismatch with VLAB_ERR_IMAGE_CORRUPT and leaves nothing behind', async () => {
    const { lab, importImage } = await setUp({ storeBaseImage: false });
    const error = await importImage({
      image: 'demo',
      revision: 1,
      source: { ...lab.baseImageSource(), sha256: 'f'.repeat(64) },
    }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('VLAB_ERR_IMAGE_CORRUPT');
    expect(lab.images.size).toBe(0);
  });

  it('refuses an existing revision with VLAB_ERR_IMAGE_EXISTS', async () => {
    const { lab, importImage } = await setUp();
    const error = await importImage({
      image: MEMORY_BASE_IMAGE.name,
      revision: MEMORY_BASE_IMAGE.revision,
      source: lab.baseImageSource(),
    }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('VLAB_ERR_IMAGE_EXISTS');
  });

  it('refuses an image the store has no room for with VLAB_ERR_STORE_FULL, leaving nothing behind', async () => {
    const { lab, importImage } = await setUp({ storeCapacityBytes: 100 });
    // The base image is stored already (the lab's store is over its capacity from the start).
    const before = [...lab.images.keys()];
    const error = await importImage({
      image: 'demo',
      revision: 1,
      source: lab.baseImageSource(),
    }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('VLAB_ERR_STORE_FULL');
    expect([...lab.images.keys()]).toEqual(before);
  });
});

describe('the kit and the image store', () => {
  it('seeds the store with the base image through importImage and removes what it wrote at the end', async () => {
    const { lab, provisioner } = await setUp({ storeBaseImage: false });
    const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
    const os = await instantiateOsModule(memoryOsModule, {}, deps);
    const imported: string[] = [];
    const deleted: string[] = [];
    const watched: Provisioner = {
      ...provisioner,
      importImage: async (ctx, args) => {
        imported.push(`${args.image}@${args.revision}`);
        return (provisioner.importImage as NonNullable<Provisioner['importImage']>)(ctx, args);
      },
      deleteImage: async (ctx, ref) => {
        deleted.push(`${ref.name}@${ref.revision}`);
        return provisioner.deleteImage(ctx, ref);
      },
    };
    const checks = provisionerChecks({ provisioner: watched, os, harness: lab.harness('node1') });
    expect(checks.at(-1)?.id).toBe('provisioner/close');
    for (const check of checks) await check.run();
    expect(imported[0]).toBe('base@1');
    expect(deleted).toContain('base@1');
    // Everything the kit captured or imported is gone again.
    expect([...lab.images.keys()]).toEqual([]);
  });

  it('without importImage, needs the base image in the store and leaves it there', async () => {
    const lab = createMemoryLab();
    labs.push(lab);
    const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
    const os = await instantiateOsModule(memoryOsModule, {}, deps);
    const full = await instantiateProvisioner(memoryProvisioner, { lab: lab.id }, deps);
    // Without the feature and without the operation: the kit fails a provisioner that has one
    // but not the other (provisioner/declares-features).
    const { importImage: _dropped, ...withoutImport } = full;
    const provisioner: Provisioner = {
      ...withoutImport,
      capabilities: {
        ...full.capabilities,
        features: full.capabilities.features.filter((f) => f !== 'importImage'),
      },
    };
    for (const check of provisionerChecks({ provisioner, os, harness: lab.harness('node1') }))
      await check.run();
    expect([...lab.images.keys()]).toEqual(['base@1']);
    expect(osModuleChecks({ os, harness: lab.harness('node1') }).at(-1)?.id).toBe('os/close');
  });
});
