import type { HostKeyPair } from './host-key.js';

/**
 * The identity disk protocol (contract 1.1): how a provisioner that cannot write a guest's disk
 * before its first boot (a copy-on-write overlay) still makes the first contact trusted.
 *
 * @remarks
 * The provisioner generates the machine's host keys ({@link generateHostKey}), pins them
 * (`trustHostKeys`), and attaches a small extra disk: a whole-disk `ext4` file system (no
 * partition table) labelled `VLAB-ID`, built without mounting (`mkfs.ext4 -L VLAB-ID -d DIR`),
 * holding the files of {@link identityDiskFiles}. An image that supports the protocol (its OS
 * module declares the `identityDisk` feature, and its `preCapture` installed the boot unit) finds
 * the disk by its label at boot, checks the manifest's `version`, replaces every SSH host key with
 * the disk's and only then lets the SSH server start. A boot without the disk changes nothing. The
 * disk holds private keys: the provisioner removes it once the machine answered with those keys.
 * @public
 */
export const IDENTITY_DISK = {
  /** The file system label the image looks for. */
  label: 'VLAB-ID',
  /** The file system: whole-disk ext4, readable without mounting (`debugfs`). */
  fileSystem: 'ext4',
  /** The protocol version in the manifest; an image ignores a disk of a version it does not know. */
  version: 1,
  /** The manifest's path on the disk: JSON `{ "version": 1 }`. */
  manifestPath: 'vlab-identity.json',
  /** The directory of the host keys on the disk: `ssh/ssh_host_<type>_key` and `.pub`. */
  hostKeyDirectory: 'ssh',
} as const;

/** One file of an identity disk: its path relative to the disk's root, its bytes and mode. @public */
export interface IdentityDiskFile {
  /** Relative path on the disk (`ssh/ssh_host_ed25519_key`). */
  readonly path: string;
  /** The file's content. */
  readonly data: Buffer;
  /** The file's mode: `0o600` for private keys, `0o644` otherwise. */
  readonly mode: number;
}

/**
 * The files of an identity disk for `hostKeys`, as {@link IDENTITY_DISK} lays them out; write them
 * into a directory and build the disk from it. The private keys' bytes are in the result: never
 * log it.
 * @public
 */
export function identityDiskFiles(hostKeys: readonly HostKeyPair[]): readonly IdentityDiskFile[] {
  const files: IdentityDiskFile[] = [
    {
      path: IDENTITY_DISK.manifestPath,
      data: Buffer.from(`${JSON.stringify({ version: IDENTITY_DISK.version })}\n`),
      mode: 0o644,
    },
  ];
  for (const key of hostKeys) {
    const base = `${IDENTITY_DISK.hostKeyDirectory}/ssh_host_${key.type}_key`;
    files.push(
      { path: base, data: Buffer.from(key.privateKey.reveal()), mode: 0o600 },
      { path: `${base}.pub`, data: Buffer.from(`${key.publicKey}\n`), mode: 0o644 },
    );
  }
  return files;
}
