// A case-insensitive, case-preserving Windows file system (NTFS semantics as seen by PowerShell's
// FileSystem provider): paths are `C:\dir\file`, `/` is accepted as a separator, names compare
// case-insensitively. Only what the modelled commands need: directories, files holding a Buffer.

export interface FsEntry {
  /** Full path as first created (case preserved), e.g. `C:\Users\Admin`. */
  readonly path: string;
  readonly kind: 'file' | 'directory';
  content: Buffer;
  lastWriteTime: Date;
  hidden: boolean;
}

/** Normalises `c:/Users//x\` to `C:\Users\x`; returns null for a path that is not drive-absolute. */
export function normalizeWindowsPath(path: string): string | null {
  const p = path.replace(/\//g, '\\');
  const m = /^([A-Za-z]):(\\.*)?$/.exec(p);
  if (!m) return null;
  const parts: string[] = [];
  for (const part of (m[2] ?? '').split('\\')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `${m[1]?.toUpperCase()}:\\${parts.join('\\')}`;
}

export function parentPath(path: string): string | null {
  const i = path.lastIndexOf('\\');
  if (i < 0 || path.length <= 3) return null;
  return i === 2 ? path.slice(0, 3) : path.slice(0, i);
}

export function leafName(path: string): string {
  return path.slice(path.lastIndexOf('\\') + 1);
}

/** PowerShell wildcard (`*`, `?`, `[abc]`) to a case-insensitive RegExp. */
export function wildcardToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end > i) {
        re += `[${pattern.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      } else re += '\\[';
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

export function hasWildcard(text: string): boolean {
  return /[*?[]/.test(text);
}

export class WindowsFileSystem {
  readonly #entries = new Map<string, FsEntry>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
    this.#entries.set('c:\\', this.#make('C:\\', 'directory'));
  }

  #make(path: string, kind: FsEntry['kind'], content: Buffer = Buffer.alloc(0)): FsEntry {
    return { path, kind, content, lastWriteTime: this.#now(), hidden: false };
  }

  #key(path: string): string {
    const n = normalizeWindowsPath(path);
    if (n === null) throw new Error(`not a drive-absolute Windows path: ${path}`);
    return n.toLowerCase();
  }

  get(path: string): FsEntry | undefined {
    const n = normalizeWindowsPath(path);
    return n === null ? undefined : this.#entries.get(n.toLowerCase());
  }

  exists(path: string): boolean {
    return this.get(path) !== undefined;
  }

  isDirectory(path: string): boolean {
    return this.get(path)?.kind === 'directory';
  }

  isFile(path: string): boolean {
    return this.get(path)?.kind === 'file';
  }

  /** Creates the directory and any missing parents (like `mkdir -p`). Throws if a file is in the way. */
  mkdirp(path: string): FsEntry {
    const n = normalizeWindowsPath(path);
    if (n === null) throw new Error(`not a drive-absolute Windows path: ${path}`);
    const existing = this.#entries.get(n.toLowerCase());
    if (existing) {
      if (existing.kind !== 'directory') throw new Error(`a file exists at ${n}`);
      return existing;
    }
    const parent = parentPath(n);
    if (parent !== null) this.mkdirp(parent);
    const e = this.#make(n, 'directory');
    this.#entries.set(n.toLowerCase(), e);
    return e;
  }

  /** Writes a file, creating parent directories when `createParents` (tests' seeding) is set. */
  writeFile(path: string, content: Buffer | string, createParents = true): FsEntry {
    const n = normalizeWindowsPath(path);
    if (n === null) throw new Error(`not a drive-absolute Windows path: ${path}`);
    const parent = parentPath(n);
    if (parent !== null) {
      if (createParents) this.mkdirp(parent);
      else if (!this.isDirectory(parent)) throw new Error(`parent directory missing: ${parent}`);
    }
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const existing = this.#entries.get(n.toLowerCase());
    if (existing) {
      if (existing.kind !== 'file') throw new Error(`a directory exists at ${n}`);
      existing.content = buf;
      existing.lastWriteTime = this.#now();
      return existing;
    }
    const e = this.#make(n, 'file', buf);
    this.#entries.set(n.toLowerCase(), e);
    return e;
  }

  appendFile(path: string, content: string): void {
    const old = this.get(path)?.content.toString('utf8') ?? '';
    this.writeFile(path, old + content);
  }

  readFile(path: string): Buffer | undefined {
    const e = this.get(path);
    return e?.kind === 'file' ? e.content : undefined;
  }

  readText(path: string): string | undefined {
    return this.readFile(path)?.toString('utf8');
  }

  /** Direct children of a directory, sorted by name (NTFS enumeration order is by name). */
  children(path: string): FsEntry[] {
    const dir = this.#key(path);
    const prefix = dir.endsWith('\\') ? dir : `${dir}\\`;
    const out: FsEntry[] = [];
    for (const [k, e] of this.#entries) {
      if (
        k.startsWith(prefix) &&
        k.length > prefix.length &&
        !k.slice(prefix.length).includes('\\')
      )
        out.push(e);
    }
    return out.sort((a, b) =>
      leafName(a.path).localeCompare(leafName(b.path), 'en', { sensitivity: 'base' }),
    );
  }

  /** Removes an entry and, for a directory, everything below it. Returns false if absent. */
  remove(path: string): boolean {
    const k = this.#key(path);
    if (!this.#entries.has(k)) return false;
    const prefix = `${k}\\`;
    for (const key of [...this.#entries.keys()])
      if (key === k || key.startsWith(prefix)) this.#entries.delete(key);
    return true;
  }

  /** Every path currently present (tests' inspection). */
  list(): string[] {
    return [...this.#entries.values()].map((e) => e.path).sort();
  }
}
