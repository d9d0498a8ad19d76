import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { quoteCommand } from '@vlab/ssh';
import { type ApiClient, apiPath } from './api-client.js';

interface AccessWire {
  readonly login: string;
  readonly protocol: 'ssh' | 'rdp';
  readonly host: string;
  readonly port: number;
  readonly hostKeys: readonly string[];
}

/**
 * How the user connects to a ready reservation: an `ssh` command line (its arguments quoted for
 * a POSIX shell) naming the user's key when one is set, and a known-hosts file holding the host
 * keys the manager pinned, so the first connection is checked too, never trusted blindly. An
 * RDP reservation gets its address and login.
 */
export async function connectLine(api: ApiClient, id: string): Promise<string> {
  const access = await api.call<AccessWire>('GET', apiPath('reservations', id, 'access'));
  if (access.protocol !== 'ssh') return `rdp ${access.host}:${access.port} as ${access.login}`;
  const { sshKey, knownHosts } = api.settings;
  const argv = ['ssh'];
  if (sshKey !== undefined) argv.push('-i', sshKey);
  if (access.hostKeys.length > 0) {
    await pinHost(knownHosts, knownHostsName(access.host, access.port), access.hostKeys);
    argv.push('-o', `UserKnownHostsFile=${knownHosts}`);
  }
  if (access.port !== 22) argv.push('-p', String(access.port));
  argv.push(`${access.login}@${access.host}`);
  return quoteCommand(argv);
}

/** The host's name in a known-hosts file, as OpenSSH writes it. */
function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Replaces the lines of `name` in the known-hosts file `file` with `keys` (`type base64`, their
 * comments dropped): a reloaded computer has new keys under the same address. Written to a new
 * file and renamed into place, mode 0600.
 */
async function pinHost(file: string, name: string, keys: readonly string[]): Promise<void> {
  const before = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const kept = before.split('\n').filter((line) => line !== '' && line.split(' ')[0] !== name);
  const pinned = keys.map((key) => `${name} ${key.trim().split(/\s+/).slice(0, 2).join(' ')}`);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${[...kept, ...pinned].join('\n')}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
