import type { ImageRef, ProvisionerContext } from './context.js';
import type { PowerState } from './power.js';
import type { NodeStatus, NodeVerdict } from './provisioner.js';
import type { ImageStamp } from './stamp.js';

/**
 * The `nodeStatus` verdict every provisioner should give, from what it observed: whether the OS
 * answers, its stamp, and the image the reservation wants. `nodeStatus`'s verdicts stay
 * `ready | post-load | reload` with `power` and `responding` beside them; a tainted computer is
 * always reloaded before reuse, so a tainted stamp gives `reload` whatever its state (see
 * {@link ImageStamp}).
 * @param observed - Whether the OS answered, and the stamp it holds (`undefined` when none).
 * @param wanted - The image revision the machine should hold; `undefined` checks no revision.
 * @param computer - The computer asked about; a `ready` stamp made for another computer (a cloned
 *   disk) means `postLoad` has not run here.
 * @returns The verdict, with a `reason` for the operator whenever it is not `ready`.
 * @public
 */
export function nodeVerdict(
  observed: { readonly responding: boolean; readonly stamp: ImageStamp | undefined },
  wanted: Pick<ImageRef, 'name' | 'revision'> | undefined,
  computer?: string,
): { readonly verdict: NodeVerdict; readonly reason?: string } {
  const { responding, stamp } = observed;
  if (!responding) return { verdict: 'reload', reason: 'the OS does not answer' };
  if (stamp === undefined) return { verdict: 'reload', reason: 'the machine has no image stamp' };
  if (wanted !== undefined && (stamp.image !== wanted.name || stamp.revision !== wanted.revision)) {
    return { verdict: 'reload', reason: `it holds ${stamp.image} revision ${stamp.revision}` };
  }
  if (stamp.tainted) return { verdict: 'reload', reason: 'users had access since it was loaded' };
  if (stamp.state !== 'ready') return { verdict: 'post-load', reason: 'postLoad has not finished' };
  if (computer !== undefined && stamp.computer !== computer) {
    return {
      verdict: 'post-load',
      reason: `postLoad ran for ${stamp.computer ?? 'another computer'}`,
    };
  }
  return { verdict: 'ready' };
}

/**
 * `nodeStatus` from the power the provisioner read: a machine that is off is `reload` with
 * `offReason`; otherwise the OS module is asked whether it answers and for its stamp, and the
 * verdict is {@link nodeVerdict}'s against `ctx.image` for `ctx.computer`.
 * @public
 */
export async function nodeStatusFromPower(
  ctx: ProvisionerContext,
  power: PowerState,
  offReason = 'the machine is off',
): Promise<NodeStatus> {
  if (power === 'off')
    return { power, responding: false, stamp: undefined, verdict: 'reload', reason: offReason };
  const responding = await ctx.os.isResponding(ctx.child({ phase: 'isResponding' }));
  const stamp = responding ? await ctx.os.readStamp(ctx.child({ phase: 'readStamp' })) : undefined;
  return {
    power,
    responding,
    stamp,
    ...nodeVerdict({ responding, stamp }, ctx.image, ctx.computer.name),
  };
}
