import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

const SUDO = '/usr/bin/sudo';
const VISUDO = '/usr/sbin/visudo';

/** Passwordless sudo for the test account while a test holds it. */
export interface SudoGrant extends AsyncDisposable {
  /** Takes the grant back (idempotent): `sudo -n` then asks for a password and fails. */
  revoke(): void;
}

/**
 * Lets `user` run anything through `sudo -n`, as on a managed computer, until revoked: a drop-in
 * in /etc/sudoers.d (checked with visudo), removed again on revoke, dispose or process exit.
 * Fails — never skips — when sudo is not installed (scripts/test.sh installs it). Root needed,
 * as for the lab's sshd.
 */
export function grantSudo(user: string): SudoGrant {
  if (!existsSync(SUDO) || !existsSync(VISUDO)) {
    throw new Error(
      `sudo is not installed (${SUDO}, ${VISUDO}): install sudo (scripts/test.sh does)`,
    );
  }
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) throw new Error(`bad test account name "${user}"`);
  // No dot in the name: sudo skips drop-ins whose name holds one.
  const file = `/etc/sudoers.d/vlab-ssh-test-${process.pid}`;
  writeFileSync(file, `${user} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
  const revoke = (): void => {
    rmSync(file, { force: true });
    process.off('exit', revoke);
  };
  process.on('exit', revoke);
  try {
    execFileSync(VISUDO, ['-c', '-q', '-f', file], { stdio: 'pipe' });
  } catch (error) {
    revoke();
    throw error;
  }
  return {
    revoke,
    async [Symbol.asyncDispose]() {
      revoke();
    },
  };
}
