import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { type PostLoadResult, readyStamp, stampToPrepare } from '@vlab/core';
import type { LinuxOsConfig } from './config.js';
import type { Guest } from './guest.js';
import { installIdentityDisk } from './identity-disk.js';
import { GUEST_PATHS } from './paths.js';
import { type GuestFacts, probeGuest } from './probe.js';
import { readReservationState } from './reservation-state.js';
import { firewallTool, setSshAccess } from './ssh-access.js';
import { readStampFile, writeStampFile } from './stamp-file.js';
import { installUnit } from './systemd-unit.js';
import { hostsWithName, withLines } from './text-files.js';
import { assertHostname } from './validate.js';

const NEW_HOST_KEYS = `set -e
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -A >/dev/null
cat /etc/ssh/ssh_host_*_key.pub`;

const HOST_KEYS = 'cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null; exit 0';

const SSHD_DROP_IN = `# Written by vlab os-linux. Reservation users' keys are root-owned files, one per login.
AuthorizedKeysFile .ssh/authorized_keys ${GUEST_PATHS.authorizedKeysDir}/%u
`;

/**
 * A generalized image has no host keys, and sshd does not start without them (Debian makes none
 * at boot): this unit makes them on a boot that finds none, so a captured image stays reachable
 * even where the provisioner puts no keys of its own into it.
 */
const HOST_KEYS_UNIT = `# Written by vlab os-linux: SSH host keys for a generalized image's first boot.
[Unit]
Description=vlab: SSH host keys for a generalized image
Before=ssh.service sshd.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

/** What a preCapture that was interrupted, or an image captured by hand, may have left. */
const LEFTOVERS = `n=0
for f in ${GUEST_PATHS.reservation} ${GUEST_PATHS.sudoersDir}/vlab-*; do
  [ -e "$f" ] && rm -f -- "$f" && n=$((n+1))
done
echo "$n"`;

/** Sets the host name (file, kernel, /etc/hosts); returns whether anything changed. */
async function setHostname(guest: Guest, name: string): Promise<boolean> {
  assertHostname(name, guest.computer);
  let changed = await guest.writeFile('/etc/hostname', `${name}\n`);
  if ((await guest.runChecked(['hostname'])).trim() !== name) {
    await guest.runChecked(['hostname', name]);
    changed = true;
  }
  // latin1: the bytes of lines the module does not touch go back exactly as they were.
  const hosts = (await guest.readBytes('/etc/hosts'))?.toString('latin1') ?? '';
  const named = hostsWithName(hosts, name);
  if (named !== hosts) {
    await guest.writeFile('/etc/hosts', Buffer.from(named, 'latin1'));
    changed = true;
  }
  return changed;
}

/** Adds the management keys root's `authorized_keys` lacks; returns whether it added any. */
async function addRootKeys(guest: Guest, keys: readonly string[]): Promise<boolean> {
  if (keys.length === 0) return false;
  const path = GUEST_PATHS.rootAuthorizedKeys;
  const current = (await guest.readBytes(path))?.toString('latin1') ?? '';
  const next = withLines(current, keys);
  if (next === current) return false;
  await guest.runChecked(['mkdir', '-p', '-m', '700', '--', posix.dirname(path)]);
  await guest.writeFile(path, Buffer.from(next, 'latin1'), { mode: 0o600 });
  return true;
}

/** A new machine id for a fresh image (systemd's format: 32 lower-case hex digits). */
async function setMachineId(guest: Guest, fresh: boolean): Promise<boolean> {
  const current = ((await guest.readFile('/etc/machine-id')) ?? '').trim();
  if (!fresh && /^[0-9a-f]{32}$/.test(current)) return false;
  const id = `${randomBytes(16).toString('hex')}\n`;
  await guest.writeFile('/etc/machine-id', id, { mode: 0o444 });
  // D-Bus keeps a copy on older images; a symlink to /etc/machine-id needs nothing.
  await guest.script(
    'dbus-machine-id',
    '[ -f "$1" ] && [ ! -L "$1" ] && ln -sf /etc/machine-id "$1"; exit 0',
    ['/var/lib/dbus/machine-id'],
  );
  return true;
}

/**
 * New host keys for a fresh image, pinned over the still-trusted connection before sshd uses
 * them; otherwise keys only where none exist.
 */
async function setHostKeys(guest: Guest, fresh: boolean): Promise<boolean> {
  const existing = (await guest.scriptChecked('host-keys', HOST_KEYS)).trim();
  if (!fresh && existing !== '') return false;
  const keys = (
    await guest.scriptChecked('new-host-keys', NEW_HOST_KEYS, [], { timeoutMs: 120_000 })
  )
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  await guest.ctx.communicator.trustHostKeys(keys, { signal: guest.ctx.signal });
  guest.ctx.log.info('new SSH host keys pinned', { types: keys.map((k) => k.split(' ')[0]) });
  return true;
}

/** Points systemd-timesyncd or chrony (whichever the image has) at the configured servers. */
async function setTimeServers(guest: Guest, servers: readonly string[]): Promise<boolean> {
  if (servers.length === 0) return false;
  const has = await guest.scriptChecked(
    'time-daemons',
    '[ -d /etc/chrony ] && echo chrony; systemctl cat systemd-timesyncd.service >/dev/null 2>&1 && echo timesyncd; exit 0',
  );
  let changed = false;
  if (has.includes('timesyncd')) {
    if (await guest.writeFile(GUEST_PATHS.timesyncdDropIn, `[Time]\nNTP=${servers.join(' ')}\n`)) {
      await guest.run(['systemctl', 'try-restart', 'systemd-timesyncd.service']);
      changed = true;
    }
  }
  if (has.includes('chrony')) {
    const sources = servers.map((s) => `server ${s} iburst\n`).join('');
    if (await guest.writeFile(GUEST_PATHS.chronySources, sources)) {
      await guest.run(['chronyc', 'reload', 'sources']);
      changed = true;
    }
  }
  if (!has.includes('chrony') && !has.includes('timesyncd'))
    guest.ctx.log.warn(
      'the image has neither systemd-timesyncd nor chrony: time is not synchronized',
    );
  return changed;
}

/**
 * `postLoad`: makes a freshly loaded image this machine. Each step compares before it writes, so
 * a second call changes nothing; only a fresh image (a stamp not `ready` for this computer) gets
 * new host keys and a new machine id.
 */
export async function postLoad(guest: Guest, config: LinuxOsConfig): Promise<PostLoadResult> {
  const { ctx } = guest;
  const facts: GuestFacts = await probeGuest(guest);
  const stamp = stampToPrepare(guest.ctx, await readStampFile(guest));
  const fresh = !(stamp.state === 'ready' && stamp.computer === ctx.computer.name);
  const changes: string[] = [];
  const step = async (name: string, work: () => Promise<boolean>): Promise<void> => {
    if (await work()) changes.push(name);
  };
  if (fresh)
    await step(
      'leftovers',
      async () => (await guest.scriptChecked('leftovers', LEFTOVERS)).trim() !== '0',
    );
  await step('hostname', () => setHostname(guest, ctx.computer.hostname));
  await step('machine-id', () => setMachineId(guest, fresh));
  await step('host-keys', () => setHostKeys(guest, fresh));
  await step('host-keys-unit', () =>
    installUnit(guest, 'vlab-ssh-host-keys.service', HOST_KEYS_UNIT),
  );
  // preCapture installs it into every image; kept (and repaired) here, harmless without a disk.
  await step('identity-disk-unit', () => installIdentityDisk(guest));
  await step('management-keys', () => addRootKeys(guest, config.managementKeys));
  await step('sshd-config', async () => {
    await guest.runChecked(['mkdir', '-p', '-m', '755', GUEST_PATHS.authorizedKeysDir]);
    return guest.writeFile(GUEST_PATHS.sshdDropIn, SSHD_DROP_IN);
  });
  if (changes.includes('host-keys') || changes.includes('sshd-config')) {
    // A reload makes sshd re-read its config and keys; open sessions (ours) stay.
    await guest.runChecked(['systemctl', 'reload-or-restart', facts.distro.sshService]);
  }
  const state = fresh ? { allowFrom: [] } : await readReservationState(guest);
  const tool = firewallTool(config, facts, guest.computer, false);
  await step('firewall', () => setSshAccess(guest, config, facts, tool, state.allowFrom));
  await step('time', () => setTimeServers(guest, config.timeServers));
  let result = stamp;
  if (fresh) {
    result = readyStamp(stamp, ctx.computer.name);
    await writeStampFile(guest, result);
    changes.push('stamp');
  }
  ctx.log.info(changes.length > 0 ? 'postLoad done' : 'postLoad found nothing to change', {
    changes,
    distro: facts.distro.id,
    image: result.image,
    revision: result.revision,
  });
  return { changed: changes.length > 0, stamp: result };
}
