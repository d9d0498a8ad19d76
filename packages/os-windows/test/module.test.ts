import {
  createLogger,
  createSecretResolver,
  instantiateOsModule,
  isVlabError,
  type LogRecord,
  type ReservationUser,
  Secret,
} from '@vlab/core';
import { describe, expect, it } from 'vitest';
import windowsOsModule, { createWindowsOsModule, windowsOsConfig } from '../src/index.js';
import { GUEST_PATHS } from '../src/paths.js';
import { contextOf, FakeWindows } from './fake-windows.js';

const deps = { log: createLogger(() => {}), secrets: createSecretResolver({ env: {} }) };
const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu alice@lab';

async function codeOf(work: () => unknown): Promise<string | undefined> {
  try {
    await work();
  } catch (error) {
    return isVlabError(error) ? error.code : String(error);
  }
  return undefined;
}

function users(): ReservationUser[] {
  return [
    {
      login: 'alice',
      fullName: 'Alice A.',
      sshKeys: [KEY],
      password: new Secret('Pa55-word-alice', 'alice'),
      admin: false,
      allowFrom: ['198.51.100.7'],
    },
    { login: 'bob', sshKeys: [KEY], admin: true, allowFrom: ['203.0.113.0/24'] },
  ];
}

describe('the os-windows module definition', () => {
  it('loads as the manager loads it, declaring family, shell and capabilities', async () => {
    const os = await instantiateOsModule(windowsOsModule, {}, deps);
    expect(os).toMatchObject({ name: 'os-windows', family: 'windows', shell: 'powershell' });
    expect(os.capabilities).toEqual({
      endStates: ['off', 'reboot', 'on'],
      features: ['passwordLogin', 'adminUsers', 'firewall'],
    });
    expect(windowsOsModule).toMatchObject({ kind: 'os', name: 'os-windows', contract: '^1.1.0' });
  });

  it('refuses unknown keys, wrong types and unusable values, naming the key', async () => {
    for (const config of [
      { bogus: 1 },
      { ports: { rdp: 0 } },
      { pageFile: 'wipe' },
      { administrator: { name: 'a/b' } },
      { administrator: { imagePassword: 'plain text' } },
      { administrator: { passwordDirectory: 'relative/dir' } },
      { managementKeys: ['ssh-ed25519 AAAA; Stop-Computer'] },
      { managementNetworks: ['10.0.0.0/8; Stop-Computer'] },
      { domainGroup: "LAB\\x'; Stop-Computer" },
      { unattend: { locale: "en-US'" } },
      { unattend: { timeZone: 'UTC</TimeZone><x>' } },
    ]) {
      const error = await instantiateOsModule(windowsOsModule, config, deps).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), JSON.stringify(config)).toBe(true);
    }
    expect(await codeOf(() => windowsOsConfig({ ports: { ssh: 70000 } }))).toBe(
      'VLAB_ERR_CONFIG_INVALID',
    );
  });

  it('refuses a communicator that does not speak PowerShell before sending anything', async () => {
    const machine = new FakeWindows();
    const posix = Object.assign(Object.create(machine) as FakeWindows, { shell: 'posix' });
    const ctx = contextOf(posix);
    const os = createWindowsOsModule();
    expect(await codeOf(() => os.postLoad(ctx))).toBe('VLAB_ERR_CAPABILITY_MISSING');
    expect(machine.sent).toEqual([]);
  });
});

describe('preCapture', () => {
  it('refuses an unknown end state before anything changes', async () => {
    const machine = new FakeWindows();
    const os = createWindowsOsModule();
    const code = await codeOf(() =>
      os.preCapture(contextOf(machine), {
        endState: 'sideways' as never,
        stamp: { image: 'w', revision: 2 },
      }),
    );
    expect(code).toBe('VLAB_ERR_CAPABILITY_MISSING');
    expect(machine.sent).toEqual([]);
  });

  it.each([
    ['off', '/shutdown'],
    ['reboot', '/reboot'],
    ['on', '/quit'],
  ] as const)(
    'end state %s runs sysprep %s after generalizing, and confirms it',
    async (endState, flag) => {
      const machine = new FakeWindows();
      const os = createWindowsOsModule(
        windowsOsConfig({ managementKeys: [KEY], pollIntervalMs: 10 }),
      );
      const result = await os.preCapture(contextOf(machine), {
        endState,
        stamp: { image: 'w', revision: 2 },
      });
      expect(result).toEqual({ endState });
      const names = machine.sent.map((c) => c.name);
      const sysprep = machine.sent.find((c) => c.name === 'sysprep');
      expect(sysprep?.argv.slice(1)).toEqual([flag, GUEST_PATHS.unattend]);
      for (const before of ['clearEventLogs', 'clearTemp', 'removeHostKeys'])
        expect(names.indexOf(before as never)).toBeLessThan(names.indexOf('sysprep'));
      expect(JSON.parse(machine.files.get(GUEST_PATHS.stamp) ?? '{}')).toMatchObject({
        image: 'w',
        revision: 2,
        state: 'captured',
      });
      expect(machine.files.get(GUEST_PATHS.unattend)).toMatch(/<ComputerName>\*<\/ComputerName>/);
      expect(machine.files.get(GUEST_PATHS.setupComplete)).toMatch(/first-boot\.ps1/);
      expect(machine.files.get(GUEST_PATHS.adminAuthorizedKeys)).toBe(`${KEY}\r\n`);
      if (endState === 'off') expect(machine.power).toBe('off');
    },
  );

  it('turns a failing sysprep into VLAB_ERR_WINDOWS_SYSPREP_FAILED with the log lines', async () => {
    const machine = new FakeWindows();
    machine.sysprepExit = 1;
    const os = createWindowsOsModule();
    const error = await os
      .preCapture(contextOf(machine), { endState: 'off', stamp: { image: 'w', revision: 2 } })
      .catch((e: unknown) => e);
    expect(isVlabError(error, 'VLAB_ERR_WINDOWS_SYSPREP_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/not provisioned for all users/);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({
      setuperr: [expect.stringMatching(/Error SYSPRP/)],
      setupact: ['Error SYSPRP failed 0x80073cf2'],
      exitCode: 1,
    });
  });

  it('puts the image password into the answer file from its secret reference, hidden', async () => {
    const machine = new FakeWindows();
    const os = createWindowsOsModule(
      windowsOsConfig({ administrator: { imagePassword: { env: 'IMG_PW' } } }),
    );
    const secrets = createSecretResolver({ env: { IMG_PW: 'Image-Pa55word' } });
    await os.preCapture(contextOf(machine, [], { secrets }), {
      endState: 'on',
      stamp: { image: 'w', revision: 2 },
    });
    const xml = machine.files.get(GUEST_PATHS.unattend) ?? '';
    expect(xml).not.toContain('Image-Pa55word');
    expect(xml).toContain(
      Buffer.from('Image-Pa55wordAdministratorPassword', 'utf16le').toString('base64'),
    );
  });
});

describe('postLoad, reserve and sanitize', () => {
  it('prepares the machine once, renaming it with a reboot, and changes nothing the second time', async () => {
    const machine = new FakeWindows();
    machine.files.set(
      GUEST_PATHS.stamp,
      '{"schema":1,"image":"w","revision":2,"state":"captured","capturedAt":"2026-11-29T10:00:00.000Z","tainted":false}',
    );
    machine.files.set(
      GUEST_PATHS.sshdConfig,
      'Port 22\r\nMatch Group administrators\r\n       AuthorizedKeysFile __PROGRAMDATA__/ssh/administrators_authorized_keys\r\n',
    );
    const os = createWindowsOsModule(windowsOsConfig({ pollIntervalMs: 10 }));
    const first = await os.postLoad(contextOf(machine));
    expect(first.changed).toBe(true);
    expect(first.stamp).toMatchObject({ state: 'ready', computer: 'win1' });
    expect(machine.activeName).toBe('win1');
    expect(machine.trusted).toEqual([expect.stringMatching(/^ssh-ed25519 /)]);
    expect(machine.registry.get('fDenyTSConnections')).toBe('0');
    expect(machine.files.get(GUEST_PATHS.sshdConfig)).toContain('vlab-authorized-keys/%u');
    const stampBytes = machine.files.get(GUEST_PATHS.stamp);
    const sentBefore = machine.sent.length;
    const second = await os.postLoad(contextOf(machine));
    expect(second.changed).toBe(false);
    expect(machine.files.get(GUEST_PATHS.stamp)).toBe(stampBytes);
    const writes = machine.sent
      .slice(sentBefore)
      .filter((c) =>
        [
          'writeFile',
          'renameComputer',
          'reboot',
          'newHostKeys',
          'setAdministratorPassword',
        ].includes(c.name ?? ''),
      );
    expect(writes).toEqual([]);
  });

  it('waits for Windows Setup to finish before changing anything', async () => {
    const machine = new FakeWindows();
    machine.registry.set('ImageState', 'IMAGE_STATE_UNDEPLOYABLE');
    const os = createWindowsOsModule(windowsOsConfig({ pollIntervalMs: 10, setupTimeoutMs: 100 }));
    expect(await codeOf(() => os.postLoad(contextOf(machine)))).toBe(
      'VLAB_ERR_WINDOWS_SETUP_INCOMPLETE',
    );
    expect(machine.sent.every((c) => c.name === 'facts')).toBe(true);
  });

  it('records the reservation before creating accounts, opens the rules to allowFrom, and sanitize undoes it all', async () => {
    const machine = new FakeWindows();
    const records: LogRecord[] = [];
    const os = createWindowsOsModule();
    const result = await os.reserve(contextOf(machine, records), { users: users() });
    expect(result.access).toEqual([
      { login: 'alice', protocol: 'rdp', host: '192.0.2.10', port: 3389 },
      { login: 'alice', protocol: 'ssh', host: '192.0.2.10', port: 22 },
      { login: 'bob', protocol: 'ssh', host: '192.0.2.10', port: 22 },
    ]);
    const names = machine.sent.map((c) => c.name);
    const firstWrite = machine.sent.findIndex(
      (c) => c.name === 'writeFile' && c.argv[1] === GUEST_PATHS.reservation,
    );
    expect(firstWrite).toBeGreaterThanOrEqual(0);
    expect(firstWrite).toBeLessThan(names.indexOf('applyUser'));
    expect([...machine.users.keys()]).toEqual(['alice', 'bob']);
    expect(machine.users.get('bob')?.admin).toBe(true);
    expect(machine.rules.get('vlab-users-rdp')).toEqual(['198.51.100.7', '203.0.113.0/24']);
    expect(machine.rules.get('vlab-management-ssh')).toEqual(['192.0.2.1']);
    await os.sanitize(contextOf(machine, records));
    expect(machine.users.size).toBe(0);
    expect(machine.rules.has('vlab-users-rdp')).toBe(false);
    expect(machine.rules.has('vlab-users-ssh')).toBe(false);
    expect(machine.files.has(GUEST_PATHS.reservation)).toBe(false);
    await os.sanitize(contextOf(machine, records));
  });

  it('sanitize undoes an interrupted reserve from the record alone', async () => {
    const machine = new FakeWindows();
    machine.files.set(
      GUEST_PATHS.reservation,
      JSON.stringify({ logins: ['alice', 'Administrator', 'x;y'], sids: {}, allowFrom: [] }),
    );
    machine.users.set('alice', { sid: 'S-1-5-21-1-2-3-1001', admin: false });
    machine.users.set('Administrator', { sid: 'S-1-5-21-1-2-3-500', admin: true });
    await createWindowsOsModule().sanitize(contextOf(machine));
    expect([...machine.users.keys()]).toEqual(['Administrator']);
  });

  it('never puts a password into an argument vector or a log line', async () => {
    const machine = new FakeWindows();
    machine.files.set(
      GUEST_PATHS.stamp,
      '{"schema":1,"image":"w","revision":2,"state":"captured","capturedAt":"2026-11-29T10:00:00.000Z","tainted":false}',
    );
    const records: LogRecord[] = [];
    const os = createWindowsOsModule(windowsOsConfig({ pollIntervalMs: 10 }));
    const all = users();
    await os.postLoad(contextOf(machine, records));
    await os.reserve(contextOf(machine, records), { users: all });
    await os.sanitize(contextOf(machine, records));
    await os.preCapture(contextOf(machine, records), {
      endState: 'on',
      stamp: { image: 'w', revision: 3 },
    });
    const passwords = machine.sent
      .filter((c) => c.name === 'applyUser' || c.name === 'setAdministratorPassword')
      .map((c) => JSON.parse(c.stdin ?? '{}').password as string);
    expect(passwords).toHaveLength(3);
    expect(passwords).toContain('Pa55-word-alice');
    for (const password of passwords) {
      for (const command of machine.sent)
        for (const arg of command.argv) expect(arg).not.toContain(password);
      expect(JSON.stringify(records)).not.toContain(password);
    }
  });

  it('refuses users Windows cannot hold, before sending anything', async () => {
    for (const bad of [
      { login: 'a'.repeat(21) },
      { login: 'guest' },
      { login: 'administrator' },
      { uid: 1001 },
      { fullName: 'two\nlines' },
      { password: new Secret('', 'empty') },
      { allowFrom: ['any'] },
    ]) {
      const machine = new FakeWindows();
      const user = { ...users()[0], ...bad } as ReservationUser;
      const code = await codeOf(() =>
        createWindowsOsModule().reserve(contextOf(machine), { users: [user] }),
      );
      expect(code, JSON.stringify(bad)).toBe('VLAB_ERR_CONFIG_INVALID');
      expect(machine.sent).toEqual([]);
    }
  });
});
