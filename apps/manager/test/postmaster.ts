import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The postmaster pid in `<dataDir>/postgres/postmaster.pid`, when the file is there. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postgres/postmaster.pid'), 'utf8').catch(
    () => undefined,
  );
  return text === undefined ? undefined : Number(text.split('\n')[0]);
}

/** Whether a PostgreSQL started in `dataDir` still runs (its lock file names a live process). */
export async function postmasterRunning(dataDir: string): Promise<boolean> {
  const pid = await postmasterPid(dataDir);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
