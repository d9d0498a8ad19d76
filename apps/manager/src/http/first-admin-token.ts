import { randomUUID } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Secret } from '@vlab/core';
import type { Manager } from '../manager.js';

/** The lab's first admin token, issued at the first start. @public */
export interface FirstAdminToken {
  /** The admin it acts for. */
  readonly login: string;
  /** The file (mode 0600) it was written to: `<dataDir>/admin-token`. */
  readonly file: string;
  /** The token: show it once, never log it. */
  readonly token: Secret;
}

/** Login of the admin the first start registers when the lab has none. @public */
export const FIRST_ADMIN_LOGIN = 'admin';

/**
 * At the lab's first start (no API token yet), issues a token for its first admin — registering
 * `admin` when the lab has no admin — and writes it to `<dataDir>/admin-token` (mode 0600). Later
 * starts issue nothing and return `undefined`.
 * @public
 */
export async function issueFirstAdminToken(manager: Manager): Promise<FirstAdminToken | undefined> {
  const users = await manager.users.list();
  const admin =
    users.filter((u) => u.role === 'admin').sort((a, b) => a.login.localeCompare(b.login))[0] ??
    (await manager.users
      .add({ login: FIRST_ADMIN_LOGIN, role: 'admin', displayName: 'Lab administrator' })
      .catch(async (error: unknown) => {
        // Another manager starting together registered it first.
        const added = await manager.users.get(FIRST_ADMIN_LOGIN);
        if (added === undefined) throw error;
        return added;
      }));
  const issued = await manager.apiTokens.issueFirst(admin.login, 'first admin token');
  if (issued === undefined) return undefined;
  const file = join(manager.config.dataDir, 'admin-token');
  // A new file, created 0600, then renamed over any old one: the token is never readable by others.
  const fresh = `${file}.${randomUUID()}.tmp`;
  await writeFile(fresh, `${issued.token.reveal()}\n`, { mode: 0o600, flag: 'wx' });
  await rename(fresh, file);
  return { login: admin.login, file, token: issued.token };
}
