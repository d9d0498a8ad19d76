import type { ImageRef } from './context.js';
import type { NodeVerdict } from './provisioner.js';
import type { ImageStamp } from './stamp.js';

/**
 * The `nodeStatus` verdict every provisioner should give, from what it observed: whether the OS
 * answers, its stamp, and the image the reservation wants.
 * @public
 */
export function nodeVerdict(
  observed: { readonly responding: boolean; readonly stamp: ImageStamp | undefined },
  wanted: Pick<ImageRef, 'name' | 'revision'> | undefined,
): { readonly verdict: NodeVerdict; readonly reason?: string } {
  const { responding, stamp } = observed;
  if (!responding) return { verdict: 'reload', reason: 'the OS does not answer' };
  if (stamp === undefined) return { verdict: 'reload', reason: 'the machine has no image stamp' };
  if (wanted !== undefined && (stamp.image !== wanted.name || stamp.revision !== wanted.revision)) {
    return { verdict: 'reload', reason: `it holds ${stamp.image} revision ${stamp.revision}` };
  }
  if (stamp.tainted) return { verdict: 'reload', reason: 'users had access since it was loaded' };
  if (stamp.state !== 'ready') return { verdict: 'post-load', reason: 'postLoad has not finished' };
  return { verdict: 'ready' };
}
