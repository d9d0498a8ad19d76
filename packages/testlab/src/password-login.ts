import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { redact, type Secret } from '@vlab/core';
import { run } from './exec.js';

/**
 * A real password login over SSH, as a user would make it: OpenSSH's client with password
 * authentication only, the password handed over by an askpass program that reads it from its
 * environment (never in argv, never in a file, never logged), the host key checked against a pin.
 */

/** The askpass program's environment variable that holds the password. */
const PASSWORD_ENV = 'VLAB_HARNESS_LOGIN_PASSWORD';

/**
 * The askpass program: prints the password for ssh's password prompt ("user@host's password: ")
 * and refuses anything else (a password change, a host key question), so the password answers
 * nothing but the login.
 */
const ASKPASS = `#!/bin/sh
case "$1" in
*"'s password: ") printf '%s\\n' "$${PASSWORD_ENV}" ;;
*) exit 1 ;;
esac
`;

/** What {@link passwordLogin} needs. */
export interface PasswordLoginOptions {
  /** The SSH server's address (port 22). */
  readonly address: string;
  readonly login: string;
  readonly password: Secret;
  /** The host keys to accept (`type base64`): the communicator's pins. */
  readonly hostKeys: readonly string[];
  /** The network namespace to run the client in; absent: the host's. */
  readonly netns?: string | undefined;
  /** Where the client came from, for messages (`client1`). */
  readonly from: string;
  /** A directory only root can read, for the askpass program and a known_hosts file. */
  readonly dir: string;
}

/**
 * Whether `login` logs in at `address` with `password` and runs `true` (exit 0). `false` when the
 * server refuses the password ("Permission denied", too many failures); rejects when the login
 * could not be tried at all (no answer, a host key that is not pinned), with ssh's message, from
 * which the password is redacted.
 */
export async function passwordLogin(options: PasswordLoginOptions): Promise<boolean> {
  const askpass = join(options.dir, 'askpass');
  if (!existsSync(askpass)) await writeFile(askpass, ASKPASS, { mode: 0o700 });
  const knownHosts = join(options.dir, `known_hosts-${randomUUID()}`);
  await writeFile(
    knownHosts,
    options.hostKeys.map((key) => `${options.address} ${key}\n`).join(''),
    { mode: 0o600 },
  );
  const ssh = [
    '-F',
    '/dev/null',
    '-T',
    ...[
      'BatchMode=no',
      'PreferredAuthentications=password',
      'PubkeyAuthentication=no',
      'KbdInteractiveAuthentication=no',
      'GSSAPIAuthentication=no',
      'HostbasedAuthentication=no',
      'IdentityAgent=none',
      'IdentityFile=none',
      'NumberOfPasswordPrompts=1',
      `UserKnownHostsFile=${knownHosts}`,
      'GlobalKnownHostsFile=/dev/null',
      'StrictHostKeyChecking=yes',
      'ControlMaster=no',
      'ControlPath=none',
      'ConnectTimeout=5',
      'LogLevel=ERROR',
    ].flatMap((option) => ['-o', option]),
    `${options.login}@${options.address}`,
    'true',
  ];
  try {
    // A bound for a server that accepts the connection and then hangs, not a race: a login
    // (or a refused password, after PAM's delay of about 2 s) takes a few seconds at most here.
    const out = await run(
      options.netns === undefined ? 'ssh' : 'ip',
      options.netns === undefined ? ssh : ['netns', 'exec', options.netns, 'ssh', ...ssh],
      {
        timeoutMs: 60_000,
        env: {
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: 'force',
          [PASSWORD_ENV]: options.password.reveal(),
        },
      },
    );
    if (out.code === 0) return true;
    if (/Permission denied|Too many authentication failures/i.test(out.stderr)) return false;
    const why = redact(out.stderr.trim() || `exit code ${out.code}`, [options.password]);
    throw new Error(
      `password login of ${options.login} at ${options.address} from ${options.from} could not be tried: ${why}`,
    );
  } finally {
    await rm(knownHosts, { force: true });
  }
}
