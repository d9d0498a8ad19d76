import { type ImageStamp, parseStamp, serializeStamp } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';

/** The stamp on the guest; `undefined` when it has none. Throws `VLAB_ERR_STAMP_INVALID`. */
export async function readStampFile(guest: Guest): Promise<ImageStamp | undefined> {
  const text = await guest.readFile(GUEST_PATHS.stamp);
  return text === undefined ? undefined : parseStamp(text, guest.computer);
}

/** Writes the stamp (atomically); returns false when it already was exactly this. */
export function writeStampFile(guest: Guest, stamp: ImageStamp): Promise<boolean> {
  return guest.writeFile(GUEST_PATHS.stamp, serializeStamp(stamp));
}
