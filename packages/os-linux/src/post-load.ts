import { randomBytes } from 'node:crypto';
import {
  capturedStamp,
  coreError,
  type ImageStamp,
  type PostLoadResult,
  readyStamp,
} from '@vlab/core';
import type { LinuxOsConfig } from './config.js';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { type GuestFacts, probeGuest } from './probe.js';
import { readReservationState } from './reservation-state.js';
import { firewallTool, setSshAccess } from './ssh-access.js';
import { readStampFile, writeStampFile } from './stamp-file.js';
import { installUnit } from './systemd-unit.js';
import { assertHostname } from './validate.js';

const SET_HOSTNAME = `set -e
name=$1
changed=0
[ "$(cat /etc/hostname 2>/dev/null)" = "$name" ] || { printf '%s\\n' "$name" > /etc/hostname; changed=1; }
[ "$(hostname)" = "$name" ] || { hostname "$name"; changed=1; }
line=$(printf '127.0.1.1\\t%s' "$name")
if ! grep -qxF -- "$line" /etc/hosts; then
  { grep -v '^127\\.0\\.1\\.1[[:space:]]' /etc/hosts || true; printf '%s\\n' "$line"; } > /etc/hosts.vlab
  cat /etc/hosts.vlab > /etc/hosts
  rm -f /etc/hosts.vlab
  changed=1
fi
echo "$changed"`;

const NEW_HOST_KEYS = `set -e
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -A >/dev/null
cat /etc/ssh/ssh_host_*_key.pub`;

const HOST_KEYS = 'cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null; exit 0';

const ADD_ROOT_KEYS = `set -e
f=${GUEST_PATHS.rootAuthorizedKeys}
mkdir -p /root/.ssh
chmod 700 /root/.ssh
[ -f "$f" ] || { : > "$f"; chmod 600 "$f"; }
n=0
for key in "$@"; do
  grep -qxF -- "$key" "$f" || { printf '%s\\n' "$key" >> "$f"; n=$((n+1)); }
done
echo "$n"`;

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
  return (await guest.scriptChecked('set-hostname', SET_HOSTNAME, [name])).trim() === '1';
}

/** A new machine id for a fresh image (systemd's format: 32 lower-case hex digits). */
async function setMachineId(guest: Guest, fresh: boolean): Promise<boolean> {
  const current = ((await guest.readFile('/etc/machine-id')) ?? '').trim();
  if (!fresh && /^[0-9a-f]{32}$/.test(current)) return false;
  const id = `${randomBytes(16).toString('hex')}\n`;
  await guest.writeFile('/etc/machine-id', id, 0o444);
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

/** The stamp to start from: the machine's, or for an image without one, the context's image. */
async function loadedStamp(guest: Guest): Promise<ImageStamp> {
  const stamp = await readStampFile(guest);
  if (stamp !== undefined) return stamp;
  const image = guest.ctx.image;
  if (image === undefined) {
    throw coreError(
      'VLAB_ERR_STAMP_INVALID',
      'the machine has no image stamp and the context names no image',
      {
        computer: guest.computer,
      },
    );
  }
  guest.ctx.log.warn('the image has no stamp: taking it as a fresh image', {
    image: image.name,
    revision: image.revision,
  });
  return capturedStamp({ image: image.name, revision: image.revision });
}

/**
 * `postLoad`: makes a freshly loaded image this machine. Each step compares before it writes, so
 * a second call changes nothing; only a fresh image (a stamp not `ready` for this computer) gets
 * new host keys and a new machine id.
 */
export async function postLoad(guest: Guest, config: LinuxOsConfig): Promise<PostLoadResult> {
  const { ctx } = guest;
  const facts: GuestFacts = await probeGuest(guest);
  const stamp = await loadedStamp(guest);
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
  await step(
    'management-keys',
    async () =>
      config.managementKeys.length > 0 &&
      (await guest.scriptChecked('add-root-keys', ADD_ROOT_KEYS, config.managementKeys)).trim() !==
        '0',
  );
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
