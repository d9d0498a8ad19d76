import {
  capturedStamp,
  type EndState,
  type PreCaptureArgs,
  type PreCaptureResult,
  requestedEndState,
} from '@vlab/core';
import type { LinuxOsConfig } from './config.js';
import { FIREWALL_UNIT } from './firewall.js';
import type { Guest } from './guest.js';
import { installIdentityDisk } from './identity-disk.js';
import { GUEST_PATHS } from './paths.js';
import { rebootStarted, shutdownConfirmed } from './power.js';
import { probeGuest } from './probe.js';
import { sanitize } from './reservation.js';
import { writeStampFile } from './stamp-file.js';
import { UNIT_DIR } from './systemd-unit.js';
import { withoutLines } from './text-files.js';

/**
 * Everything of this machine and its users that must not travel in an image. Arguments are the
 * family's DHCP lease globs (constants of the module, expanded here on purpose).
 */
const GENERALIZE = `set -u
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then rm -f /var/lib/dbus/machine-id; fi
rm -f /etc/udev/rules.d/70-persistent-net.rules /etc/udev/rules.d/75-persistent-net-generator.rules
for glob in "$@"; do for f in $glob; do [ -e "$f" ] && rm -f -- "$f"; done; done
find /var/log -type f \\( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' -o -name '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' \\) -delete 2>/dev/null
find /var/log -type f ! -path '/var/log/journal/*' -exec truncate -s 0 {} + 2>/dev/null
if command -v journalctl >/dev/null 2>&1; then journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s >/dev/null 2>&1; fi
rm -f /root/.bash_history /root/.lesshst /root/.viminfo /root/.python_history /root/.wget-hsts
rm -f /root/.ssh/id_* /root/.ssh/known_hosts /root/.ssh/known_hosts.old
find /home -mindepth 2 -maxdepth 2 -type f \\( -name .bash_history -o -name .lesshst -o -name .viminfo -o -name .python_history \\) -delete 2>/dev/null
find /tmp /var/tmp -mindepth 1 -maxdepth 1 ! -name 'systemd-private-*' -exec rm -rf -- {} + 2>/dev/null
systemctl disable --quiet ${FIREWALL_UNIT} >/dev/null 2>&1
rm -rf ${GUEST_PATHS.reservation} ${GUEST_PATHS.authorizedKeysDir} ${GUEST_PATHS.sshdDropIn} ${UNIT_DIR}/${FIREWALL_UNIT} /etc/vlab/firewall*
exit 0`;

/** Removes exactly the configured management keys from root's `authorized_keys`. */
async function removeRootKeys(guest: Guest, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const current = (await guest.readBytes(GUEST_PATHS.rootAuthorizedKeys))?.toString('latin1');
  if (current === undefined) return;
  const next = withoutLines(current, keys);
  if (next !== current)
    await guest.writeFile(GUEST_PATHS.rootAuthorizedKeys, Buffer.from(next, 'latin1'), {
      mode: 0o600,
    });
}

/**
 * `preCapture`: refuses an undeclared end state before anything changes; ends the reservation
 * (sanitize), generalizes, installs the identity disk unit, writes the `captured` stamp, flushes,
 * then reaches the end state.
 */
export async function preCapture(
  guest: Guest,
  config: LinuxOsConfig,
  endStates: readonly EndState[],
  args: PreCaptureArgs,
): Promise<PreCaptureResult> {
  const { ctx } = guest;
  const endState = requestedEndState(args.endState, endStates, 'os-linux', guest.computer);
  const facts = await probeGuest(guest);
  await sanitize(guest, config, facts);
  await guest.script('generalize', GENERALIZE, facts.distro.leaseGlobs, { timeoutMs: 120_000 });
  // Emptied, not removed: systemd makes a new id at the next boot.
  await guest.writeFile('/etc/machine-id', '', { mode: 0o444 });
  await guest.writeFile('/etc/hostname', 'localhost\n');
  if (!config.keepManagementKeysInImage) await removeRootKeys(guest, config.managementKeys);
  // Every image this module captures takes its identity from an identity disk at boot.
  await installIdentityDisk(guest);
  await writeStampFile(guest, capturedStamp(args.stamp));
  await guest.runChecked(['sync'], { timeoutMs: 120_000 });
  ctx.log.info('generalized for capture', {
    image: args.stamp.image,
    revision: args.stamp.revision,
    endState,
  });
  if (endState === 'off') await shutdownConfirmed(guest, config.pollIntervalMs);
  if (endState === 'reboot') await rebootStarted(guest, config.pollIntervalMs);
  return { endState };
}
