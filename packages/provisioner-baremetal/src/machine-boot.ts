import type { OperationContext, ProvisionerContext, StepOutcome } from '@vlab/core';
import type { ComputerBmc } from './bmc-sessions.js';
import type { BaremetalConfig } from './config.js';
import type { DeployEnvironment } from './deploy-environment.js';

/**
 * Boots the deploy environment: power off (confirmed), PXE for the next boot only, power on,
 * then wait for its SSH with its own pinned key.
 */
export async function bootDeployEnvironment(
  ctx: OperationContext,
  bmc: ComputerBmc,
  env: DeployEnvironment,
  config: BaremetalConfig,
): Promise<void> {
  await bmc.off(ctx.signal);
  await bmc.bootOnce('pxe', ctx.signal);
  await bmc.on(ctx.signal);
  await env.waitUntilUp(ctx, config.timeouts.deployBootMs);
}

/**
 * Leaves the deploy environment (disk flushed, power off confirmed) and boots the computer's
 * disk once, then waits until the installed OS answers through the pinned communicator. The
 * deploy environment is off before the OS boots, so the two never answer at the same address.
 */
export async function bootInstalledOs(
  ctx: ProvisionerContext,
  bmc: ComputerBmc,
  env: DeployEnvironment,
  config: BaremetalConfig,
): Promise<void> {
  await env.run(ctx, 'flushing the disk', 'sync', []);
  await bmc.off(ctx.signal);
  await bmc.bootOnce('disk', ctx.signal);
  await bmc.on(ctx.signal);
  await ctx.communicator.waitUntilReachable({
    signal: ctx.signal,
    timeoutMs: Math.min(config.timeouts.osBootMs, ctx.remainingMs()),
  });
}

/**
 * The cleanup of a load or capture that did not finish: the machine is left off. After a failure
 * the BMC confirms it; after an abort the command is only sent, so that the operation still ends
 * within its caller's abort bound.
 */
export async function leaveOff(
  bmc: ComputerBmc,
  signal: AbortSignal,
  outcome: StepOutcome,
): Promise<void> {
  if (outcome === 'succeeded') return;
  if (outcome === 'cancelled') await bmc.cut(signal);
  else await bmc.off(signal);
}
