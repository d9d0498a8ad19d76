import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HostKeyStore } from './host-key.js';
import { parsePublicKey } from './host-key.js';

/** Whether a known_hosts pattern list (`name,[name]:port,|1|salt|hash,*.lab`) matches `hostId`. */
function matches(patterns: string, hostId: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt = '', hash = ''] = patterns.split('|');
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(hostId).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (globMatch(pattern, hostId)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, text: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === text;
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(text);
}

/**
 * A {@link HostKeyStore} kept in an OpenSSH known_hosts file: plain and hashed (`|1|…`) host
 * names, comma lists, `*`/`?` wildcards and `!` negation are read; `@cert-authority` and
 * `@revoked` lines are left alone. {@link KnownHostsFile.replace} removes the host's plain and
 * hashed entries and appends one plain line per key, writing the file atomically (temporary
 * name, then rename). Writes from one process are serialised; the file is re-read on every call.
 * @public
 */
export class KnownHostsFile implements HostKeyStore {
  /** The file's path. */
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async #lines(): Promise<string[]> {
    try {
      return (await readFile(this.path, 'utf8')).split('\n');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** The keys of every plain or hashed entry matching `hostId`. */
  async get(hostId: string): Promise<readonly string[]> {
    const keys: string[] = [];
    for (const line of await this.#lines()) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@')) continue;
      const [patterns = '', type = '', base64 = ''] = trimmed.split(/\s+/);
      if (matches(patterns, hostId)) keys.push(`${type} ${base64}`);
    }
    return keys;
  }

  /** Rewrites the file with `hostId`'s entries replaced by one line per key. */
  replace(hostId: string, publicKeys: readonly string[]): Promise<void> {
    let keys: string[];
    try {
      keys = publicKeys.map((key) => {
        const parsed = parsePublicKey(key);
        return `${parsed.type} ${parsed.blob.toString('base64')}`;
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const next = this.#queue.then(async () => {
      const kept: string[] = [];
      for (const line of await this.#lines()) {
        const trimmed = line.trim();
        if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@')) {
          if (trimmed !== '') kept.push(line);
          continue;
        }
        const [patterns = '', ...rest] = trimmed.split(/\s+/);
        if (patterns.startsWith('|1|')) {
          if (!matches(patterns, hostId)) kept.push(line);
          continue;
        }
        const names = patterns.split(',').filter((name) => name !== hostId);
        if (names.length === patterns.split(',').length) kept.push(line);
        else if (names.length > 0) kept.push([names.join(','), ...rest].join(' '));
      }
      for (const key of keys) kept.push(`${hostId} ${key}`);
      await mkdir(dirname(this.path), { recursive: true });
      const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(temp, kept.length === 0 ? '' : `${kept.join('\n')}\n`, { mode: 0o644 });
        await rename(temp, this.path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
