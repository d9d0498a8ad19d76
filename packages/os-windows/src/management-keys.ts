import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { withLines } from './text-lines.js';

/**
 * Makes `administrators_authorized_keys` hold the lab's management keys (lines it lacks are
 * appended; others stay). OpenSSH for Windows reads this file, not the user's own, for every
 * member of Administrators. Returns whether it changed.
 */
export async function syncManagementKeys(guest: Guest, keys: readonly string[]): Promise<boolean> {
  if (keys.length === 0) return false;
  const current = (await guest.readFile(GUEST_PATHS.adminAuthorizedKeys)) ?? '';
  const next = withLines(current, keys);
  if (next === current) return false;
  await guest.writeFile(GUEST_PATHS.adminAuthorizedKeys, next);
  await guest.runChecked('protectFile', [GUEST_PATHS.adminAuthorizedKeys]);
  return true;
}
