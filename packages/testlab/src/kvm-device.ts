import { existsSync } from 'node:fs';
import { chmod, chown, readFile, stat } from 'node:fs/promises';

const KVM = '/dev/kvm';
/** Debian's udev rule for the device: group `kvm`, which libvirt-daemon-system puts QEMU's user in. */
const KVM_GROUP = 'kvm';
const KVM_MODE = 0o660;

/** What {@link grantKvmToQemu} did, and how to undo it. */
export interface KvmDevice {
  /** For the test log. */
  readonly note: string;
  /** Puts back the owner and mode it found, unless someone changed the device since. */
  restore(): Promise<void>;
}

/**
 * Gives `/dev/kvm` the group and mode Debian's udev gives it (`root:kvm` 0660), when it is there
 * and stricter. Without udev (no systemd runs here) it stays `root:root` 0600: QEMU's user cannot
 * open it, while libvirt's capability probe of QEMU saw KVM — so libvirt 9 finds its capability
 * cache outdated at every lookup ("KVM was enabled when probing … but it is not available now")
 * and probes QEMU again, about 4 s each time, twice per `virsh define`. Whether KVM then really
 * boots a guest is the accelerator probe's question, not this one's.
 */
export async function grantKvmToQemu(): Promise<KvmDevice> {
  const none: KvmDevice = { note: '', restore: async () => undefined };
  if (!existsSync(KVM)) return { ...none, note: `no ${KVM}` };
  const gid = groupId(await readFile('/etc/group', 'utf8'), KVM_GROUP);
  if (gid === undefined) return { ...none, note: `no group ${KVM_GROUP}: ${KVM} left as it is` };
  const before = await stat(KVM);
  const mode = before.mode & 0o777;
  if (before.gid === gid && (mode & KVM_MODE) === KVM_MODE)
    return { ...none, note: `${KVM} is group ${KVM_GROUP} already` };
  await chown(KVM, before.uid, gid);
  await chmod(KVM, mode | KVM_MODE);
  const set = await stat(KVM);
  return {
    note: `${KVM} given to group ${KVM_GROUP} (mode ${(mode | KVM_MODE).toString(8)}, was ${before.uid}:${before.gid} ${mode.toString(8)})`,
    async restore() {
      const now = await stat(KVM).catch(() => undefined);
      if (now === undefined || now.gid !== set.gid || now.mode !== set.mode) return;
      await chown(KVM, before.uid, before.gid);
      await chmod(KVM, mode);
    },
  };
}

/** The id of `name` in `/etc/group`'s text, `undefined` when there is no such group. */
export function groupId(etcGroup: string, name: string): number | undefined {
  for (const line of etcGroup.split('\n')) {
    const [group, , id] = line.split(':');
    if (group === name && id !== undefined && /^[0-9]+$/.test(id)) return Number(id);
  }
  return undefined;
}
