import { join } from 'node:path';
import type {
  OperationContext,
  OsModule,
  Provisioner,
  ProvisionerContext,
  StoredImage,
} from '@vlab/core';
import { createLinuxOsModule, linuxOsConfig } from '@vlab/os-linux';
import {
  createLabHarness,
  DEPLOY_DISK_PATH,
  type Lab,
  type LabHarness,
  labLeftovers,
  startLab,
} from '@vlab/testlab';
import { afterAll, beforeAll, expect } from 'vitest';
import { createBaremetalProvisioner } from '../src/baremetal-provisioner.js';
import { type BaremetalConfigInput, baremetalConfig } from '../src/config.js';

/** A lab of bare-metal computers, a provisioner over a store in the lab's directory, os-linux. */
export interface BaremetalLab {
  readonly lab: Lab;
  /** The harness of each computer, by name. */
  readonly harnesses: ReadonlyMap<string, LabHarness>;
  readonly provisioner: Provisioner;
  readonly os: OsModule;
  readonly storeDir: string;
  /** The harness of `name`. */
  harness(name: string): LabHarness;
  /** A provisioner context for `name` (10 minutes unless said otherwise). */
  ctx(
    name: string,
    phase: string,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): ProvisionerContext;
  /** A store context. */
  storeCtx(): OperationContext;
  /** Imports the lab's generic base image as `debian-bookworm` revision 1 unless it is stored. */
  seed(): Promise<void>;
}

/** The provisioner's config on a lab: the store, the lab's disk path, short polls. */
export function labConfig(storeDir: string, more: Partial<BaremetalConfigInput> = {}) {
  return baremetalConfig({
    store: { path: storeDir },
    deployDisk: DEPLOY_DISK_PATH,
    // The lab's BMCs (ipmi_sim) speak suite 3; the operator allows it here.
    cipherSuites: [17, 3],
    pollIntervalMs: 200,
    ...more,
  });
}

/**
 * Starts a lab of `computers` with a harness each before the file's tests, and after them
 * closes everything, takes the lab down and expects nothing left behind. Fails loudly, never
 * skips, when the lab cannot start.
 */
export function useBaremetalLab(
  computers: readonly string[],
  config: Partial<BaremetalConfigInput> = {},
): BaremetalLab {
  let lab: Lab | undefined;
  let provisioner: Provisioner | undefined;
  const harnesses = new Map<string, LabHarness>();
  const os = createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 200 }));
  beforeAll(async () => {
    lab = await startLab({ computers, clients: 2 });
    const storeDir = join(lab.dir, 'store');
    for (const name of computers)
      harnesses.set(name, await createLabHarness(lab, name, { storeDir }));
    provisioner = createBaremetalProvisioner(labConfig(storeDir, config));
  });
  afterAll(async () => {
    await provisioner?.close?.();
    for (const harness of harnesses.values()) await harness.close();
    if (lab === undefined) return;
    const { id, record } = lab;
    await lab.down();
    expect(Object.values(await labLeftovers(id, record.blackhole)).flat()).toEqual([]);
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the ${what} is not started (beforeAll failed?)`);
    return value;
  };
  const harness = (name: string): LabHarness => started(harnesses.get(name), `harness of ${name}`);
  const self: BaremetalLab = {
    get lab() {
      return started(lab, 'lab');
    },
    harnesses,
    get provisioner() {
      return started(provisioner, 'provisioner');
    },
    os,
    get storeDir() {
      return join(started(lab, 'lab').dir, 'store');
    },
    harness,
    ctx: (name, phase, options = {}) =>
      harness(name).provisionerContext(os, {
        phase,
        timeoutMs: options.timeoutMs ?? 600_000,
        signal: options.signal,
      }),
    storeCtx: () =>
      harness(computers[0] as string).operationContext({ phase: 'store', timeoutMs: 600_000 }),
    async seed() {
      const first = harness(computers[0] as string);
      const { name, revision } = first.image;
      const p = self.provisioner;
      if (await p.imageExists(self.storeCtx(), { name, revision })) return;
      const source = await first.imageSource?.();
      if (source === undefined) throw new Error('the lab harness has no imageSource');
      const stored: StoredImage | undefined = await p.importImage?.(self.storeCtx(), {
        image: name,
        revision,
        source,
      });
      expect(stored?.sha256).toBe(source.sha256);
    },
  };
  return self;
}
