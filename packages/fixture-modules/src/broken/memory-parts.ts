import { createHash } from 'node:crypto';
import {
  type CaptureArgs,
  type CaptureResult,
  coreError,
  type LoadArgs,
  type LoadResult,
  type ProvisionerContext,
  runSteps,
  type Step,
} from '@vlab/core';
import { imageKey, MemoryLab, type MemoryMachine } from '@vlab/core/testing';

// Parts of the good memory provisioner's load and capture, so that a broken module can change one
// step and keep the rest as the good one does it. Not a module itself.

/** The lab and the machine of a context — without the BMC login the good provisioner does. */
export function machineOf(
  labId: string,
  ctx: { readonly computer: { readonly name: string } },
): { readonly lab: MemoryLab; readonly machine: MemoryMachine } {
  const lab = MemoryLab.find(labId);
  return { lab, machine: lab.machine(ctx.computer.name) };
}

/** What the capture steps pass on. */
export interface CaptureState {
  data?: Buffer;
  temporary?: string;
}

export type CaptureStep = Step<ProvisionerContext, CaptureState>;
export type LoadStep = Step<ProvisionerContext, Record<string, never>>;

/** A step as it is, minus its cleanup. */
export function withoutCleanup<S extends Step<ProvisionerContext, never>>(step: S): S {
  return { name: step.name, run: step.run } as S;
}

/**
 * The good capture in mode `image` — steps `preCapture`, `save-disk` (its cleanup removes the
 * temporary image) and `publish` — with its steps passed through `edit` and run by `run`
 * (`runSteps` unless told otherwise).
 */
export async function captureWithSteps(
  labId: string,
  ctx: ProvisionerContext,
  args: CaptureArgs,
  edit: (steps: CaptureStep[]) => CaptureStep[] = (steps) => steps,
  run: (
    ctx: ProvisionerContext,
    steps: readonly CaptureStep[],
    state: CaptureState,
  ) => Promise<unknown> = runSteps,
): Promise<CaptureResult> {
  const { lab, machine } = machineOf(labId, ctx);
  const { image, newRevision } = args;
  if (lab.images.has(imageKey(image, newRevision)))
    throw coreError('VLAB_ERR_IMAGE_EXISTS', `image ${image} revision ${newRevision} exists`, {
      computer: ctx.computer.name,
    });
  const state: CaptureState = {};
  const steps: CaptureStep[] = [
    {
      name: 'preCapture',
      run: async (c) => {
        await ctx.os.preCapture(c, { endState: 'off', stamp: { image, revision: newRevision } });
      },
    },
    {
      name: 'save-disk',
      run: async (c, s) => {
        s.data = machine.readDisk();
        s.temporary = imageKey(`.partial-${image}`, newRevision);
        lab.images.set(s.temporary, { data: s.data, createdAt: new Date().toISOString() });
        c.progress.report({ done: s.data.length, total: s.data.length });
      },
      cleanup: async (_c, s) => {
        if (s.temporary !== undefined) lab.images.delete(s.temporary);
      },
    },
    {
      name: 'publish',
      run: async (_c, s) => {
        const saved = s.temporary === undefined ? undefined : lab.images.get(s.temporary);
        if (saved === undefined || s.data === undefined)
          throw coreError('VLAB_ERR_COMMAND_FAILED', 'nothing was saved', {
            computer: ctx.computer.name,
          });
        lab.images.set(imageKey(image, newRevision), {
          ...saved,
          sha256: sha256(saved.data),
          osFamily: ctx.os.family,
          stamp: { image, revision: newRevision },
        });
      },
    },
  ];
  await run(ctx, edit(steps), state);
  const data = state.data ?? Buffer.alloc(0);
  return {
    image,
    revision: newRevision,
    sizeBytes: data.length,
    storedBytes: data.length,
    sha256: sha256(data),
  };
}

/**
 * The good load — steps `power-off`, `deploy` and `boot` (pin the disk's host key, power on, wait
 * until the OS answers), then `postLoad` — with its steps passed through `edit`.
 */
export async function loadWithSteps(
  labId: string,
  ctx: ProvisionerContext,
  args: LoadArgs,
  edit: (steps: LoadStep[]) => LoadStep[] = (steps) => steps,
): Promise<LoadResult> {
  const { lab, machine } = machineOf(labId, ctx);
  const stored = lab.images.get(imageKey(args.image, args.revision));
  if (stored === undefined)
    throw coreError('VLAB_ERR_IMAGE_NOT_FOUND', `no image ${args.image}@${args.revision}`, {
      computer: ctx.computer.name,
    });
  const steps: LoadStep[] = [
    { name: 'power-off', run: async () => machine.powerOff() },
    {
      name: 'deploy',
      run: async (c) => {
        machine.writeDisk(stored.data);
        c.progress.report({ done: stored.data.length, total: stored.data.length });
      },
    },
    {
      name: 'boot',
      run: async (c) => {
        await c.communicator.trustHostKeys([machine.ensureHostKey()], { signal: c.signal });
        machine.powerOn();
        await c.communicator.waitUntilReachable({ signal: c.signal, timeoutMs: c.remainingMs() });
      },
    },
  ];
  await runSteps(ctx, edit(steps), {});
  const { stamp } = await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
  return { image: args.image, revision: args.revision, stamp };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
