import type { ComputerRef } from '@vlab/core';
import { type HostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { managerError } from '../errors.js';
import type { CommunicatorFactory } from './computer-access.js';

/** The credential (a key of a computer's `credentials`) holding the manager's SSH private key. */
export const SSH_KEY_CREDENTIAL = 'ssh';

/**
 * The manager's default communicators: SSH (`@vlab/ssh`) to each computer's management address,
 * speaking the shell the OS module declares (PowerShell for Windows' OpenSSH),
 * as the user of its attribute `sshUser` (default `root`) on port `sshPort` (default 22), with
 * the private key of its credential `ssh`. Host keys are checked against `hostKeys` (the
 * database's pins): an unknown host is refused, a provisioner pins the keys of each image it
 * loads.
 */
export function sshCommunicators(hostKeys: HostKeyStore): {
  readonly factory: CommunicatorFactory;
  /** Closes every SSH connection. */
  close(): Promise<void>;
} {
  const pool = new SshPool({ hostKeys, unknownHostKey: 'refuse' });
  const factory: CommunicatorFactory = async (computer: ComputerRef, secrets, shell) => {
    const ref = computer.credentials[SSH_KEY_CREDENTIAL];
    if (ref === undefined) {
      throw managerError(
        'VLAB_ERR_COMPUTER_UNAVAILABLE',
        `computer ${computer.name} has no credentials.${SSH_KEY_CREDENTIAL}: the manager has no SSH key to reach it`,
        {
          hint: `Add credentials: { ${SSH_KEY_CREDENTIAL}: { file: … } } (the private key of the management user) to the computer or its pool.`,
        },
      );
    }
    const client = pool.client({
      ...sshAddress(computer),
      user: computer.attributes['sshUser'] ?? 'root',
      auth: { kind: 'key', privateKey: await secrets.resolve(ref) },
      computer: computer.name,
      shell,
    });
    return new SshCommunicator(client, { computer: computer.name });
  };
  return { factory, close: async () => pool.close() };
}

/** Where the manager reaches `computer` over SSH: its management address, port `sshPort` or 22. */
export function sshAddress(computer: ComputerRef): {
  readonly host: string;
  readonly port: number;
} {
  return {
    host: computer.addresses.management,
    port: Number(computer.attributes['sshPort'] ?? 22),
  };
}
