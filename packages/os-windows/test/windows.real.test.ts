import { readFile } from 'node:fs/promises';
import { createLogger, createOsContext, type LogRecord, type OsContext, Secret } from '@vlab/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createWindowsOsModule, windowsOsConfig } from '../src/index.js';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from './peer-kit.js';

// Against a real Windows machine, configured by environment variables (the `real` project exists
// only when VLAB_WINDOWS_HOST is set; see the README). Only what can be undone runs here: the
// probes, and a reservation that sanitize removes again, observed through a second connection.
// postLoad (renames and reboots), preCapture (sysprep) and shutdown need a disposable machine and
// a power probe, and are not run against a real machine by this suite.
const env = process.env;
const host = env['VLAB_WINDOWS_HOST'] ?? '';
const port = Number(env['VLAB_WINDOWS_PORT'] ?? '22');
const user = env['VLAB_WINDOWS_USER'] ?? 'Administrator';
const hostKeys = new MemoryHostKeyStore({
  [port === 22 ? host : `[${host}]:${port}`]: [env['VLAB_WINDOWS_HOST_KEY'] ?? ''],
});
const privateKey = new Secret(
  await readFile(env['VLAB_WINDOWS_KEY_FILE'] ?? '', 'utf8'),
  'management key',
);
const pool = new SshPool({ hostKeys });
const target = {
  host,
  port,
  user,
  auth: { kind: 'key' as const, privateKey },
  computer: 'real-windows',
  shell: 'powershell' as const,
};
const communicator = new SshCommunicator(pool.client(target));
// A second client for observing: the module under test never sees it.
const observer = new SshCommunicator(new SshPool({ hostKeys }).client(target));
afterAll(() => pool.close());

const records: LogRecord[] = [];
const ctx = (): OsContext =>
  createOsContext({
    log: createLogger((record) => records.push(record)),
    deadline: Date.now() + 300_000,
    phase: 'real',
    computer: {
      name: 'real-windows',
      hostname: env['VLAB_WINDOWS_HOSTNAME'] ?? 'vlab-real',
      addresses: { management: host },
      credentials: {},
      attributes: {},
    },
    communicator,
    power: { status: async () => 'unknown' as const },
  });

async function observe(code: string, ...args: string[]): Promise<string> {
  return (await observer.runChecked([code, ...args], { timeoutMs: 60_000 })).stdout
    .toString('utf8')
    .trim();
}

describe(`os-windows against the real Windows at ${host}`, () => {
  const os = createWindowsOsModule(
    windowsOsConfig({
      managementNetworks: (env['VLAB_WINDOWS_MANAGEMENT'] ?? '').split(',').filter(Boolean),
    }),
  );

  it('answers and reads its stamp', async () => {
    expect(await os.isResponding(ctx())).toBe(true);
    await os.readStamp(ctx());
  });

  it('reserve creates a Remote Desktop user that sanitize removes with its profile and rules', async () => {
    const password = new Secret(`Vl4b-${Date.now()}-x!`, 'test user password');
    await os.reserve(ctx(), {
      users: [
        {
          login: 'vlabtest',
          fullName: "O'Brien $(whoami) `n",
          sshKeys: [],
          password,
          admin: false,
          allowFrom: ['198.51.100.7'],
        },
      ],
    });
    expect(await observe('param($N) (Get-LocalUser -Name $N).FullName', 'vlabtest')).toBe(
      "O'Brien $(whoami) `n",
    );
    expect(
      await observe(
        "param($N) @(Get-LocalGroupMember -SID 'S-1-5-32-555' -Member $N).Count",
        'vlabtest',
      ),
    ).toBe('1');
    expect(
      await observe(
        "(Get-NetFirewallRule -Name 'vlab-users-rdp' | Get-NetFirewallAddressFilter).RemoteAddress",
      ),
    ).toContain('198.51.100.7');
    await os.sanitize(ctx());
    expect(
      await observe(
        'param($N) @(Get-LocalUser -Name $N -ErrorAction SilentlyContinue).Count',
        'vlabtest',
      ),
    ).toBe('0');
    expect(
      await observe(
        "@(Get-NetFirewallRule -Name 'vlab-users-*' -ErrorAction SilentlyContinue).Count",
      ),
    ).toBe('0');
    expect(
      await observe(
        "@(Get-CimInstance -ClassName Win32_UserProfile | Where-Object { $_.LocalPath -like '*\\vlabtest*' }).Count",
      ),
    ).toBe('0');
    expect(JSON.stringify(records)).not.toContain(password.reveal());
  });
});
