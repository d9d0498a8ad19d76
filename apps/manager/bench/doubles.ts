/**
 * The bench's module doubles: a provisioner whose `load` only records when it was called and
 * waits, and an OS module whose operations return at once. Machines are not the point here: the
 * manager's own cost is. The manager imports them natively from a temporary install directory
 * (bench/bench.ts writes packages that re-export these), so what `load` records goes into a
 * process-wide slot on `globalThis`, which the bench reads.
 */
import {
  type Communicator,
  type ComputerRef,
  coreError,
  defineOsModule,
  defineProvisioner,
  type ImageStamp,
  noConfig,
  type OsModule,
  type Provisioner,
  type StoredImage,
  sleep,
} from '@vlab/core';
import { z } from 'zod';

/** The one image the double's store holds. */
export const BENCH_IMAGE = { name: 'base', revision: 1, osFamily: 'linux' } as const;

/** A provisioner call the double saw, at `performance.now()` of this process. */
export interface BenchCall {
  readonly op: 'load' | 'nodeStatus';
  readonly computer: string;
  readonly reservationId: string | undefined;
  readonly at: number;
}

/** What the doubles share with the bench. */
export interface BenchSlot {
  /** Every `load` and `nodeStatus`, in call order. */
  readonly calls: BenchCall[];
}

/** The process-wide slot the doubles record into (one, even if this file is loaded twice). */
export function benchSlot(): BenchSlot {
  const store = globalThis as Record<symbol, unknown>;
  const key = Symbol.for('vlab.manager-bench');
  store[key] ??= { calls: [] } satisfies BenchSlot;
  return store[key] as BenchSlot;
}

/** SHA-256 of nothing in particular: 64 hex digits, what a 1.1 store reports. */
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CAPTURED_AT = '2026-01-01T00:00:00.000Z';

function stamp(computer: string): ImageStamp {
  return {
    schema: 1,
    image: BENCH_IMAGE.name,
    revision: BENCH_IMAGE.revision,
    state: 'ready',
    capturedAt: CAPTURED_AT,
    computer,
    readyAt: new Date().toISOString(),
    tainted: false,
  };
}

const storedImage: StoredImage = {
  name: BENCH_IMAGE.name,
  revision: BENCH_IMAGE.revision,
  sizeBytes: 8 * 1024 ** 3,
  storedBytes: 2 * 1024 ** 3,
  createdAt: CAPTURED_AT,
  sha256: SHA256,
  osFamily: BENCH_IMAGE.osFamily,
  stamp: { image: BENCH_IMAGE.name, revision: BENCH_IMAGE.revision },
};

/** Settings of the provisioner double: how long a load waits, in ms. */
const provisionerSettings = z.strictObject({ loadMs: z.number().int().min(0).default(200) });

/** The provisioner double: `load` records the time it was called, waits `loadMs`, succeeds. */
export const benchProvisioner = defineProvisioner({
  name: 'provisioner-bench',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: provisionerSettings,
  create(config): Provisioner {
    const slot = benchSlot();
    const refuse = (op: string) => {
      throw coreError('VLAB_ERR_CAPABILITY_MISSING', `the bench provisioner does not ${op}`);
    };
    return {
      name: 'provisioner-bench',
      capabilities: { features: [], captureEndState: 'off', osFamilies: ['linux'] },
      async load(ctx, { image, revision }) {
        slot.calls.push({
          op: 'load',
          computer: ctx.computer.name,
          reservationId: ctx.reservation?.id,
          at: performance.now(),
        });
        if (image !== BENCH_IMAGE.name || revision !== BENCH_IMAGE.revision) {
          throw coreError(
            'VLAB_ERR_IMAGE_NOT_FOUND',
            `image ${image} revision ${revision} is not in the store`,
            { computer: ctx.computer.name },
          );
        }
        await sleep(config.loadMs, ctx.signal, ctx.computer.name);
        return { image, revision, stamp: stamp(ctx.computer.name) };
      },
      capture: async () => refuse('capture'),
      powerOn: async () => {},
      powerOff: async () => {},
      powerCycle: async () => {},
      powerStatus: async () => 'on',
      async nodeStatus(ctx) {
        slot.calls.push({
          op: 'nodeStatus',
          computer: ctx.computer.name,
          reservationId: ctx.reservation?.id,
          at: performance.now(),
        });
        return { power: 'on', responding: true, stamp: stamp(ctx.computer.name), verdict: 'ready' };
      },
      imageExists: async (_ctx, query) =>
        query.name === BENCH_IMAGE.name &&
        (query.revision === undefined || query.revision === BENCH_IMAGE.revision),
      imageSize: async () => storedImage.sizeBytes,
      listImages: async () => [storedImage],
      deleteImage: async () => refuse('delete images'),
    };
  },
});

/** The OS module double: every operation returns at once, as if the guest answered instantly. */
export const benchOsModule = defineOsModule({
  name: 'os-bench',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: noConfig,
  create(): OsModule {
    return {
      name: 'os-bench',
      family: 'linux',
      shell: 'posix',
      capabilities: { endStates: ['off'], features: ['passwordLogin', 'adminUsers'] },
      postLoad: async (ctx) => ({ changed: false, stamp: stamp(ctx.computer.name) }),
      reserve: async (ctx, { users }) => ({
        access: users.map((u) => ({
          login: u.login,
          protocol: 'ssh' as const,
          host: ctx.computer.addresses.management,
          port: 22,
        })),
      }),
      sanitize: async () => {},
      postReservation: async () => {},
      preCapture: async () => ({ endState: 'off' }),
      isResponding: async () => true,
      waitForResponse: async () => {},
      shutdown: async () => {},
      reboot: async () => {},
      readStamp: async (ctx) => stamp(ctx.computer.name),
    };
  },
});

/** A communicator no double ever uses: any call is a bug of the bench. */
export async function unusedCommunicator(computer: ComputerRef): Promise<Communicator> {
  const never = (): never => {
    throw new Error(`the bench's modules never reach a computer (${computer.name})`);
  };
  return {
    computer: computer.name,
    shell: 'posix',
    run: async () => never(),
    runChecked: async () => never(),
    put: async () => never(),
    get: async () => never(),
    getStream: () => never(),
    waitUntilReachable: async () => never(),
    trustHostKeys: async () => never(),
  };
}
