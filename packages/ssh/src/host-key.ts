import { createHash } from 'node:crypto';
import { sshError } from './errors.js';

/**
 * Where pinned host keys live. The caller owns it (the manager's store, or a known_hosts file
 * through {@link KnownHostsFile}); `@vlab/ssh` only reads pins on connect and replaces them when
 * told to ({@link SshClient.trustHostKeys}).
 * @public
 */
export interface HostKeyStore {
  /**
   * The public keys pinned for `hostId`, OpenSSH one-line format (`ssh-ed25519 AAAA…`, a comment
   * allowed); empty when the host has no pin.
   */
  get(hostId: string): Promise<readonly string[]>;
  /** Replaces every pin of `hostId` with `publicKeys` (same format). */
  replace(hostId: string, publicKeys: readonly string[]): Promise<void>;
}

/** A host key pin held in memory: for tests and for callers with their own persistence. @public */
export class MemoryHostKeyStore implements HostKeyStore {
  readonly #pins = new Map<string, readonly string[]>();

  /** @param initial - pins to start with, by host id */
  constructor(initial: Readonly<Record<string, readonly string[]>> = {}) {
    for (const [hostId, keys] of Object.entries(initial)) this.#pins.set(hostId, [...keys]);
  }

  /** The keys pinned for `hostId`. */
  async get(hostId: string): Promise<readonly string[]> {
    return this.#pins.get(hostId) ?? [];
  }

  /** Replaces the pins of `hostId`, after checking every key parses. */
  async replace(hostId: string, publicKeys: readonly string[]): Promise<void> {
    for (const key of publicKeys) parsePublicKey(key);
    this.#pins.set(hostId, [...publicKeys]);
  }
}

/**
 * The id a host's pins are stored under, as in known_hosts: `host` for port 22, `[host]:port`
 * otherwise. A target's `hostKeyAlias` replaces it (a deploy environment has its own identity).
 * @public
 */
export function hostKeyId(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A parsed public key. @public */
export interface PublicKey {
  /** The key type, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  readonly type: string;
  /** The key blob in SSH wire format (what the base64 part encodes). */
  readonly blob: Buffer;
}

/**
 * Parses an OpenSSH one-line public key (`type base64 [comment]`). Throws
 * `VLAB_ERR_SSH_KEY_INVALID` when it is not one, or when the type inside the blob differs.
 * @public
 */
export function parsePublicKey(line: string): PublicKey {
  const [type = '', base64 = ''] = line.trim().split(/\s+/);
  const blob = Buffer.from(base64, 'base64');
  const innerLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const innerType =
    innerLength >= 0 && innerLength + 4 <= blob.length
      ? blob.subarray(4, 4 + innerLength).toString('latin1')
      : undefined;
  if (!/^[a-z0-9@.-]+$/.test(type) || !/^[A-Za-z0-9+/]+=*$/.test(base64) || innerType !== type) {
    throw sshError('VLAB_ERR_SSH_KEY_INVALID', 'a host key is not an OpenSSH "type base64" line', {
      details: { type: type.slice(0, 40) },
    });
  }
  return { type, blob };
}

/** The key type inside an SSH wire-format key blob. @internal */
export function blobType(blob: Buffer): string {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/**
 * The SHA256 fingerprint of a key as OpenSSH prints it (`SHA256:` and unpadded base64), from a
 * one-line public key or a key blob.
 * @public
 */
export function fingerprint(key: string | Uint8Array): string {
  const blob = typeof key === 'string' ? parsePublicKey(key).blob : key;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The OpenSSH one-line form (`type base64`) of a key blob. @internal */
export function blobToLine(blob: Buffer): string {
  return `${blobType(blob)} ${blob.toString('base64')}`;
}

/**
 * The host key algorithms to offer for a set of pinned keys, so that the server presents a
 * pinned key type (as OpenSSH orders them by known_hosts): an RSA pin allows the SHA-2 signature
 * algorithms too. Undefined when nothing is pinned.
 * @internal
 */
export function hostKeyAlgorithmsFor(pins: readonly PublicKey[]): string[] | undefined {
  const out: string[] = [];
  for (const pin of pins) {
    const names = pin.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [pin.type];
    for (const name of names) if (!out.includes(name)) out.push(name);
  }
  return out.length === 0 ? undefined : out;
}
