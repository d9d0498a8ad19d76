import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

/** Where the client finds the manager and its token. */
export interface ClientSettings {
  readonly server: string;
  readonly token: string | undefined;
  /** The private key the printed `ssh` lines name (`-i`), if one is set. */
  readonly sshKey: string | undefined;
  /** Where `vlab connect` keeps the host keys the manager pinned: next to the configuration file. */
  readonly knownHosts: string;
}

/** Default manager address: the one `vlab serve` listens on by default. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** The client's configuration file: `$VLAB_CLI_CONFIG`, else `~/.config/vlab/cli.json`. */
export function settingsFile(env: NodeJS.ProcessEnv): string {
  return env['VLAB_CLI_CONFIG'] ?? join(homedir(), '.config', 'vlab', 'cli.json');
}

/**
 * The server and token, each from the first that gives it: the flags, the environment
 * (`VLAB_SERVER`, `VLAB_TOKEN`), the configuration file (`{ "server": …, "token": … }`), which must
 * be readable by its owner only since it may hold a token. The SSH key of the printed `ssh` lines
 * comes from `VLAB_SSH_KEY` or the file's `sshKey`.
 */
export async function clientSettings(
  flags: { readonly server?: string | undefined; readonly token?: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<ClientSettings> {
  const file = settingsFile(env);
  let saved: { server?: unknown; token?: unknown; sshKey?: unknown } = {};
  const info = await stat(file).catch(() => undefined);
  if (info !== undefined) {
    if ((info.mode & 0o077) !== 0) {
      throw new CliError(EXIT.usage, `${file} may be read by others, and it may hold a token`, {
        hint: `Run chmod 600 ${file}.`,
      });
    }
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as typeof saved;
    } catch (error) {
      throw new CliError(EXIT.usage, `${file} is not JSON: ${(error as Error).message}`);
    }
  }
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const server = flags.server ?? text(env['VLAB_SERVER']) ?? text(saved.server) ?? DEFAULT_SERVER;
  const token = flags.token ?? text(env['VLAB_TOKEN']) ?? text(saved.token);
  return {
    server: server.replace(/\/+$/, ''),
    token,
    sshKey: text(env['VLAB_SSH_KEY']) ?? text(saved.sshKey),
    knownHosts: join(dirname(file), 'known_hosts'),
  };
}
