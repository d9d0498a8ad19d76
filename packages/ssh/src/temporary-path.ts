import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

/**
 * The name an atomic write fills before renaming it over `path`: in the same directory, so the
 * rename is atomic (same file system); hidden; random, so that nobody can guess and prepare it.
 * @internal
 */
export function temporaryPath(path: string): string {
  const name = `.${posix.basename(path)}.vlab-${randomBytes(6).toString('hex')}.tmp`;
  return posix.join(posix.dirname(path), name);
}
