// The registry as seen through PowerShell's Registry provider (HKLM:\...): case-insensitive key
// paths and value names; value kinds as RegistryValueKind names (String, ExpandString, DWord, QWord,
// MultiString, Binary). Only HKLM is modelled.

export type RegistryValueKind =
  | 'String'
  | 'ExpandString'
  | 'DWord'
  | 'QWord'
  | 'MultiString'
  | 'Binary';
export type RegistryData = string | number | string[] | Buffer;

export interface RegistryValue {
  readonly name: string;
  kind: RegistryValueKind;
  data: RegistryData;
}

export interface RegistryKey {
  /** Canonical path `HKLM:\SOFTWARE\...` with its first-created casing. */
  readonly path: string;
  readonly values: Map<string, RegistryValue>;
}

/** `HKLM:\x`, `HKEY_LOCAL_MACHINE\x`, `Registry::HKEY_LOCAL_MACHINE\x`, `Microsoft.PowerShell.Core\Registry::HKLM\x` → `HKLM:\x`. */
export function normalizeRegistryPath(path: string): string | null {
  let p = path.replace(/\//g, '\\').replace(/^Microsoft\.PowerShell\.Core\\/i, '');
  p = p.replace(/^Registry::/i, '');
  const m = /^(HKLM:|HKEY_LOCAL_MACHINE|HKLM)(\\.*)?$/i.exec(p);
  if (!m) return null;
  const parts = (m[2] ?? '').split('\\').filter((s) => s !== '' && s !== '.');
  return parts.length === 0 ? 'HKLM:\\' : `HKLM:\\${parts.join('\\')}`;
}

export class WindowsRegistry {
  readonly #keys = new Map<string, RegistryKey>();

  constructor() {
    this.#keys.set('hklm:\\', { path: 'HKLM:\\', values: new Map() });
  }

  getKey(path: string): RegistryKey | undefined {
    const n = normalizeRegistryPath(path);
    return n === null ? undefined : this.#keys.get(n.toLowerCase());
  }

  /** Creates the key and missing parents. */
  ensureKey(path: string): RegistryKey {
    const n = normalizeRegistryPath(path);
    if (n === null) throw new Error(`not an HKLM registry path: ${path}`);
    const existing = this.#keys.get(n.toLowerCase());
    if (existing) return existing;
    const i = n.lastIndexOf('\\');
    if (i > 5) this.ensureKey(n.slice(0, i));
    const key: RegistryKey = { path: n, values: new Map() };
    this.#keys.set(n.toLowerCase(), key);
    return key;
  }

  getValue(path: string, name: string): RegistryValue | undefined {
    return this.getKey(path)?.values.get(name.toLowerCase());
  }

  setValue(
    path: string,
    name: string,
    data: RegistryData,
    kind?: RegistryValueKind,
  ): RegistryValue {
    const key = this.ensureKey(path);
    const existing = key.values.get(name.toLowerCase());
    const k: RegistryValueKind =
      kind ??
      existing?.kind ??
      (typeof data === 'number'
        ? 'DWord'
        : Array.isArray(data)
          ? 'MultiString'
          : Buffer.isBuffer(data)
            ? 'Binary'
            : 'String');
    const v: RegistryValue = { name: existing?.name ?? name, kind: k, data };
    key.values.set(name.toLowerCase(), v);
    return v;
  }

  removeValue(path: string, name: string): boolean {
    return this.getKey(path)?.values.delete(name.toLowerCase()) ?? false;
  }

  subkeys(path: string): RegistryKey[] {
    const n = normalizeRegistryPath(path);
    if (n === null) return [];
    const prefix = n.endsWith('\\') ? n.toLowerCase() : `${n.toLowerCase()}\\`;
    return [...this.#keys.entries()]
      .filter(
        ([k]) =>
          k.startsWith(prefix) &&
          k.length > prefix.length &&
          !k.slice(prefix.length).includes('\\'),
      )
      .map(([, v]) => v);
  }

  removeKey(path: string): boolean {
    const n = normalizeRegistryPath(path);
    if (n === null) return false;
    const k = n.toLowerCase();
    if (!this.#keys.has(k)) return false;
    for (const key of [...this.#keys.keys()])
      if (key === k || key.startsWith(`${k}\\`)) this.#keys.delete(key);
    return true;
  }
}
