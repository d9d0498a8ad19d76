import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { coreError, type Secret } from '@vlab/core';
import type { WindowsOsConfig } from './config.js';
import type { Guest } from './guest.js';
import { generatePassword } from './password.js';

/**
 * Keeps the administrator password of `computer` in `directory` (file `<computer>`, mode 0600,
 * written to a temporary name and renamed, so it is whole or absent): readable afterwards as the
 * secret reference `{ file: '<directory>/<computer>' }`.
 */
export async function keepPassword(
  directory: string,
  computer: string,
  password: Secret,
): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(computer)) {
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `the computer name "${computer}" cannot name a password file`,
      {
        computer,
        hint: 'Use computer names of letters, digits, ".", "_" and "-", or unset administrator.passwordDirectory.',
      },
    );
  }
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, computer);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${password.reveal()}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
  return path;
}

/**
 * Gives the administrator a new generated password, on stdin: kept first (when the config names
 * a directory), so the machine never has a password nobody can find, then set and the account
 * enabled. The value is never logged.
 */
export async function rotateAdministratorPassword(
  guest: Guest,
  config: WindowsOsConfig,
): Promise<void> {
  const { name, passwordDirectory } = config.administrator;
  const password = generatePassword(`administrator password of ${guest.computer}`);
  const kept =
    passwordDirectory === undefined
      ? undefined
      : await keepPassword(passwordDirectory, guest.computer, password);
  await guest.runChecked('setAdministratorPassword', [name], {
    stdin: { password: password.reveal() },
  });
  guest.ctx.log.info('administrator password rotated', {
    account: name,
    keptIn: kept ?? 'nowhere (the management logs in with its key)',
  });
}

/**
 * The password a captured image's administrator gets at its first boot: the configured secret
 * reference, resolved through the context, or a new one kept nowhere.
 */
export async function imageAdministratorPassword(
  guest: Guest,
  config: WindowsOsConfig,
): Promise<Secret> {
  const ref = config.administrator.imagePassword;
  if (ref === undefined)
    return generatePassword(`image administrator password (${guest.computer})`);
  return guest.ctx.secrets.resolve(ref);
}
