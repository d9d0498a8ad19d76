import { type ImageStamp, parseStamp, serializeStamp } from '@vlab/core';
import { asciiJson, type Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';

/** The stamp on the guest; `undefined` when it has none. Throws `VLAB_ERR_STAMP_INVALID`. */
export async function readStampFile(guest: Guest): Promise<ImageStamp | undefined> {
  const text = await guest.readFile(GUEST_PATHS.stamp);
  return text === undefined ? undefined : parseStamp(text, guest.computer);
}

/**
 * The stamp's file text: core's serialization, with anything outside ASCII escaped (`\uXXXX`,
 * still the same JSON), since the module writes ASCII files only.
 */
export function stampText(stamp: ImageStamp): string {
  return serializeStamp(stamp).replace(/[^\x20-\x7e\n]/g, (char) => asciiJson(char).slice(1, -1));
}

/** Writes the stamp; returns false when it already was exactly this. */
export function writeStampFile(guest: Guest, stamp: ImageStamp): Promise<boolean> {
  return guest.writeFile(GUEST_PATHS.stamp, stampText(stamp));
}
