import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every file and directory below `dir`, hidden ones too, as sorted paths relative to it (`a`,
 * `a/.part-1`); symbolic links are listed, not followed. `[]` when `dir` does not exist. A
 * directory that disappears during the walk is skipped: a store removes its temporaries while the
 * harness looks, and what is gone was not left behind.
 */
export async function listStoreEntries(dir: string): Promise<string[]> {
  const entries: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    let children: Dirent[];
    try {
      children = await readdir(join(dir, relative), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw error;
    }
    for (const child of children) {
      const path = relative === '' ? child.name : `${relative}/${child.name}`;
      entries.push(path);
      if (child.isDirectory()) await walk(path);
    }
  };
  await walk('');
  return entries.sort();
}
