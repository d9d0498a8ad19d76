import type { ConformanceHarness, HarnessAccount, HarnessFile } from './harness.js';

/**
 * What the kit compares of a machine.
 * @public
 */
export interface MachineState {
  /** Its accounts with groups, admin rights and password state, or logins when the harness reports no more. */
  readonly accounts: readonly HarnessAccount[] | readonly string[];
  /** Its files, when the harness can snapshot them. */
  readonly files: readonly HarnessFile[] | undefined;
}

/**
 * Paths whose changes the state comparison allows, whatever operation ran: the stamp (its
 * `tainted` flag), logs, caches, the service manager's own state, the account tools' backups and
 * lock file. Listed in docs/writing-a-module.md; anything else that changed is the module's doing.
 * @public
 */
export const STATE_NOISE: {
  /** Every path below these is noise. */
  readonly prefixes: readonly string[];
  /** These exact paths are noise. */
  readonly paths: readonly string[];
} = {
  prefixes: [
    '/var/log/',
    '/var/cache/',
    '/var/lib/systemd/',
    '/var/lib/sudo/',
    '/run/',
    '/tmp/systemd-private-',
    '/var/tmp/systemd-private-',
  ],
  paths: [
    '/etc/passwd-',
    '/etc/group-',
    '/etc/shadow-',
    '/etc/gshadow-',
    '/etc/subuid-',
    '/etc/subgid-',
    '/etc/.pwd.lock',
    '/var/lib/lastlog',
  ],
};

/** Reads the state the harness can observe. */
export async function machineState(harness: ConformanceHarness): Promise<MachineState> {
  const accounts =
    harness.accountDetails === undefined
      ? [...(await harness.accounts())].sort()
      : [...(await harness.accountDetails())].sort((a, b) => a.login.localeCompare(b.login));
  const files = harness.snapshotFiles === undefined ? undefined : await harness.snapshotFiles();
  return { accounts, files };
}

/**
 * How `after` differs from `before`, one short sentence per difference (accounts first), leaving
 * out {@link STATE_NOISE} and the `allowed` paths; empty when they are the same. Harness authors
 * can use it to test their snapshots the way the kit compares them.
 * @public
 */
export function stateDifferences(
  before: MachineState,
  after: MachineState,
  allowed: readonly string[] = [],
): string[] {
  const differences: string[] = [];
  const key = (a: HarnessAccount | string): string => (typeof a === 'string' ? a : a.login);
  const show = (a: HarnessAccount | string): string => JSON.stringify(a);
  const old = new Map(before.accounts.map((a) => [key(a), a]));
  const now = new Map(after.accounts.map((a) => [key(a), a]));
  for (const [login, account] of now) {
    const was = old.get(login);
    if (was === undefined) differences.push(`account ${login} was added`);
    else if (show(was) !== show(account))
      differences.push(`account ${login} changed from ${show(was)} to ${show(account)}`);
  }
  for (const login of old.keys())
    if (!now.has(login)) differences.push(`account ${login} was removed`);
  if (before.files === undefined || after.files === undefined) return differences;
  const noise = (path: string): boolean =>
    allowed.includes(path) ||
    STATE_NOISE.paths.includes(path) ||
    STATE_NOISE.prefixes.some((prefix) => path.startsWith(prefix));
  const oldFiles = new Map(before.files.map((f) => [f.path, f]));
  const newFiles = new Map(after.files.map((f) => [f.path, f]));
  for (const [path, file] of newFiles) {
    if (noise(path)) continue;
    const was = oldFiles.get(path);
    if (was === undefined) {
      differences.push(`file ${path} was added`);
      continue;
    }
    const what = [
      was.sha256 !== file.sha256 ? 'content' : undefined,
      was.mode !== file.mode ? `mode ${octal(was.mode)} → ${octal(file.mode)}` : undefined,
      was.owner !== file.owner || was.group !== file.group
        ? `owner ${was.owner}:${was.group} → ${file.owner}:${file.group}`
        : undefined,
    ].filter((w) => w !== undefined);
    if (what.length > 0) differences.push(`file ${path} changed (${what.join(', ')})`);
  }
  for (const path of oldFiles.keys())
    if (!noise(path) && !newFiles.has(path)) differences.push(`file ${path} was removed`);
  return differences;
}

/** The first few differences as one clause, for a failure message. */
export function describeDifferences(differences: readonly string[]): string {
  const shown = differences.slice(0, 5).join('; ');
  return differences.length > 5 ? `${shown}; and ${differences.length - 5} more` : shown;
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}
