import type { Guest } from './guest.js';

/** Where the module's own units live. */
export const UNIT_DIR = '/etc/systemd/system';

/**
 * Writes a unit file of the module and enables it; returns whether anything changed (the file,
 * or the unit was not enabled). Does not start it.
 */
export async function installUnit(guest: Guest, name: string, content: string): Promise<boolean> {
  let changed = await guest.writeFile(`${UNIT_DIR}/${name}`, content);
  if (changed) await guest.runChecked(['systemctl', 'daemon-reload']);
  if ((await guest.run(['systemctl', 'is-enabled', '--quiet', name])).code !== 0) {
    await guest.runChecked(['systemctl', 'enable', '--quiet', name]);
    changed = true;
  }
  return changed;
}
