import {
  type CaptureArgs,
  type CaptureResult,
  isVlabError,
  namedStep,
  type ProvisionerContext,
  runSteps,
} from '@vlab/core';
import type { ComputerBmc } from './bmc-sessions.js';
import { computerFacts } from './computer-facts.js';
import { DeployEnvironment } from './deploy-environment.js';
import { type DiskRead, readDisk } from './disk-transfer.js';
import { baremetalError } from './errors.js';
import { putHostKey } from './host-key.js';
import { bootDeployEnvironment, bootInstalledOs, leaveOff } from './machine-boot.js';
import type { ProvisionerDeps } from './provisioner-deps.js';

/**
 * `preCapture` with the BMC as its power probe, then the BMC's own word that the machine is off.
 * A guest still on at the deadline is powered off hard and the capture fails: a disk that was not
 * shut down cleanly is not an image.
 */
async function preCaptureOff(
  ctx: ProvisionerContext,
  bmc: ComputerBmc,
  args: CaptureArgs,
  timeoutMs: number,
  powerMs: number,
): Promise<void> {
  const osCtx = ctx.child({
    phase: 'preCapture',
    power: bmc.probe,
    deadline: Date.now() + Math.min(timeoutMs, ctx.remainingMs()),
  });
  const forced = async (cause: unknown): Promise<never> => {
    await bmc.off(ctx.signal);
    throw baremetalError(
      'VLAB_ERR_BAREMETAL_SHUTDOWN_FORCED',
      `${ctx.computer.name} was still on after preCapture; it was powered off hard and nothing was captured`,
      {
        computer: ctx.computer.name,
        cause,
        details: { image: args.image, revision: args.newRevision },
      },
    );
  };
  try {
    await ctx.os.preCapture(osCtx, {
      endState: 'off',
      stamp: { image: args.image, revision: args.newRevision },
    });
  } catch (error) {
    // A guest that did not go down (the OS module's power wait or its deadline ran out); any
    // other failure stands as it is, and the step's cleanup powers the machine off.
    const notDown =
      isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED') || isVlabError(error, 'VLAB_ERR_OP_TIMEOUT');
    if (ctx.signal.aborted || !notDown) throw error;
    if ((await bmc.status(ctx.signal)) === 'on') await forced(error);
    throw error;
  }
  try {
    await bmc.waitFor('off', powerMs, ctx.signal);
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    await forced(error);
  }
}

/**
 * `capture`: reserve the revision in the store at once (a second capture of it fails with
 * `VLAB_ERR_IMAGE_EXISTS` before its preCapture); preCapture to off, confirmed by the BMC; PXE
 * boot; read the disk into the reservation's temporary file, verified; `image` powers off,
 * `checkpoint` puts a fresh host key on and boots the disk; then, last, publish it atomically with
 * its manifest (a checkpoint ends with `postLoad` after that). On failure or abort before the
 * publish the reservation is abandoned (nothing is listed) and the machine left off.
 */
export async function capture(
  deps: ProvisionerDeps,
  ctx: ProvisionerContext,
  args: CaptureArgs,
): Promise<CaptureResult> {
  const { config, store } = deps;
  const facts = computerFacts(ctx.computer, config);
  const reservation = await store.reserve(
    { name: args.image, revision: args.newRevision },
    { signal: ctx.signal },
  );
  const state: { read?: DiskRead } = {};
  let env: DeployEnvironment | undefined;
  try {
    const bmc = await deps.bmcs.forComputer(ctx, facts);
    const deploy = await DeployEnvironment.open(ctx, facts);
    env = deploy;
    const target = { computer: facts.name, env: deploy, disk: facts.deploy.disk, config };
    await runSteps(
      ctx,
      [
        namedStep<ProvisionerContext, typeof state>(
          'preCapture',
          (c) => preCaptureOff(c, bmc, args, config.timeouts.preCaptureMs, config.timeouts.powerMs),
          (c, _s, outcome) => leaveOff(bmc, c.signal, outcome),
        ),
        namedStep<ProvisionerContext, typeof state>('boot-deploy', (c) =>
          bootDeployEnvironment(c, bmc, deploy, config),
        ),
        namedStep<ProvisionerContext, typeof state>('read-disk', async (c, s) => {
          s.read = await readDisk(c, target, reservation);
        }),
        ...(args.mode === 'image'
          ? [
              namedStep<ProvisionerContext, typeof state>('power-off', async (c) => {
                await deploy.run(c, 'flushing the disk', 'sync', []);
                await bmc.off(c.signal);
              }),
            ]
          : [
              namedStep<ProvisionerContext, typeof state>('host-key', (c) =>
                putHostKey(c, deploy, facts.deploy.rootFileSystem),
              ),
              namedStep<ProvisionerContext, typeof state>('boot-disk', (c) =>
                bootInstalledOs(c, bmc, deploy, config),
              ),
            ]),
        // Last: a capture stopped at any earlier point publishes nothing.
        namedStep<ProvisionerContext, typeof state>('publish', async (c, s) => {
          const read = s.read as DiskRead;
          await reservation.publish(
            {
              format: 'raw+zstd',
              sizeBytes: read.sizeBytes,
              sha256: read.sha256,
              storedBytes: read.storedBytes,
              osFamily: ctx.os.family,
              sourceComputer: facts.name,
              stamp: { image: args.image, revision: args.newRevision },
            },
            { signal: c.signal },
          );
        }),
      ],
      state,
    );
  } catch (error) {
    if (reservation.state !== 'published') await reservation.abandon().catch(() => undefined);
    throw error;
  } finally {
    await env?.[Symbol.asyncDispose]();
  }
  if (args.mode === 'checkpoint') await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
  const read = state.read as DiskRead;
  return {
    image: args.image,
    revision: args.newRevision,
    sizeBytes: read.sizeBytes,
    sha256: read.sha256,
    storedBytes: read.storedBytes,
  };
}
