import { issueFirstAdminToken } from '../http/first-admin-token.js';
import { createHttpApi } from '../http/http-api.js';
import { createManager } from '../manager.js';
import { CliError, EXIT } from './exit-codes.js';

/** Where `vlab serve` listens by default: this host only. */
export const DEFAULT_LISTEN = '127.0.0.1:8080';

/**
 * Runs a manager and its HTTP API until SIGINT or SIGTERM, then closes both. At the lab's first
 * start it prints the first admin token once (it is also in the file it names).
 */
export async function serve(
  options: { readonly config: string; readonly listen: string },
  print: (line: string) => void,
): Promise<void> {
  const at = /^(.*):(\d{1,5})$/.exec(options.listen);
  if (at === null) {
    throw new CliError(EXIT.usage, `--listen "${options.listen}" is not host:port`);
  }
  const host = (at[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  const manager = await createManager({ configPath: options.config });
  try {
    const api = await createHttpApi(manager);
    const url = await api.listen({ host, port: Number(at[2]) });
    const first = await issueFirstAdminToken(manager);
    if (first !== undefined) {
      print(`The lab's first admin token, for ${first.login}, shown this once:`);
      print(`  ${first.token.reveal()}`);
      print(`It is also in ${first.file} (mode 0600).`);
    }
    print(`vlab manager of lab ${manager.config.lab} listening on ${url}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    print('stopping');
    await api.close();
  } finally {
    await manager.close();
  }
}
