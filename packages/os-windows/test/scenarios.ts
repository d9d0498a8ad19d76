// The module's behaviour on a modelled Windows, written once and run twice: over the peer's
// interpreter directly (model.test.ts, unit suite) and over real SSH to the scripted Windows
// peer (windows.peer.test.ts). Each scenario observes the machine through the model's state, never
// through the module.
import {
  isVlabError,
  type LogRecord,
  type OsContext,
  type ReservationUser,
  Secret,
} from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { createWindowsOsModule, windowsOsConfig } from '../src/index.js';
import { GUEST_PATHS } from '../src/paths.js';
import type { WindowsMachine } from './peer-kit.js';

/** One modelled Windows and the way the module reaches it. */
export interface WindowsTarget {
  readonly machine: WindowsMachine;
  /** A context whose communicator reaches the machine. */
  ctx(): OsContext;
  /** The host keys the module last asked the communicator to trust. */
  trusted(): readonly string[];
  /** Every command line Windows received so far. */
  commandLines(): readonly string[];
  /** The address Windows' sshd reports the management connecting from (SSH_CONNECTION). */
  readonly managementSource: string;
  /** Every log record the contexts wrote. */
  readonly records: LogRecord[];
  close(): Promise<void>;
}

export const MANAGEMENT_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu vlab-management';

/** Reservation users: one with a password and hostile full name, one key-only admin. */
export function reservationUsers(): ReservationUser[] {
  return [
    {
      login: 'alice',
      fullName: "Alice O'Brien $(Stop-Computer) `n",
      sshKeys: [MANAGEMENT_KEY.replace('vlab-management', 'alice')],
      password: new Secret("Pa55-w'ord$(x)ü", 'password of alice'),
      admin: false,
      allowFrom: ['198.51.100.7'],
    },
    {
      login: 'bob',
      sshKeys: [MANAGEMENT_KEY.replace('vlab-management', 'bob')],
      admin: true,
      allowFrom: ['203.0.113.0/24'],
    },
  ];
}

function config() {
  return windowsOsConfig({ managementKeys: [MANAGEMENT_KEY], pollIntervalMs: 20 });
}

function decoded(line: string): string {
  return Buffer.from(line.split(' ').at(-1) ?? '', 'base64').toString('utf16le');
}

/** Registers the scenarios; `target()` makes a fresh machine for each. */
export function describeWindowsScenarios(
  title: string,
  target: () => Promise<WindowsTarget>,
): void {
  describe(title, () => {
    it('postLoad makes a sysprepped image this computer, once', async () => {
      const t = await target();
      try {
        const os = createWindowsOsModule(config());
        const first = await os.postLoad(t.ctx());
        expect(first).toMatchObject({ changed: true, stamp: { state: 'ready', computer: 'win1' } });
        const m = t.machine;
        expect(m.computerName).toBe('lab-win-01');
        const served = m
          .hostKeys()
          .map((k) => (k.publicKey ?? '').trim().split(' ').slice(0, 2).join(' '));
        expect(
          t
            .trusted()
            .map((k) => k.split(' ').slice(0, 2).join(' '))
            .sort(),
        ).toEqual(served.sort());
        expect(served.length).toBeGreaterThan(0);
        expect(m.registry.getValue(GUEST_PATHS.terminalServerKey, 'fDenyTSConnections')?.data).toBe(
          0,
        );
        expect(m.fs.readText(GUEST_PATHS.adminAuthorizedKeys)).toContain(MANAGEMENT_KEY);
        expect(m.fs.readText(GUEST_PATHS.sshdConfig)).toContain('vlab-authorized-keys/%u');
        const admin = m.findUser('Administrator');
        expect(admin?.enabled).toBe(true);
        expect(admin?.password).toMatch(/^.{24}$/);
        const rule = m.firewallRules.find((r) => r.name === 'vlab-management-ssh');
        expect(rule?.remoteAddress).toEqual([t.managementSource]);
        expect(m.firewallRules.find((r) => r.name === 'OpenSSH-Server-In-TCP')?.enabled).toBe(
          false,
        );
        const stamp = m.fs.readText(GUEST_PATHS.stamp);
        const lines = t.commandLines().length;
        const second = await os.postLoad(t.ctx());
        expect(second.changed).toBe(false);
        expect(m.fs.readText(GUEST_PATHS.stamp)).toBe(stamp);
        expect(t.commandLines().length).toBeGreaterThan(lines);
        expect(await os.isResponding(t.ctx())).toBe(true);
        expect(await os.readStamp(t.ctx())).toMatchObject({ state: 'ready', computer: 'win1' });
      } finally {
        await t.close();
      }
    });

    it('reserve creates the accounts and opens the rules to allowFrom; sanitize leaves no account, profile or rule', async () => {
      const t = await target();
      try {
        const os = createWindowsOsModule(config());
        await os.postLoad(t.ctx());
        const m = t.machine;
        const users = reservationUsers();
        const result = await os.reserve(t.ctx(), { users });
        expect(result.access.map((a) => `${a.login}/${a.protocol}`)).toEqual([
          'alice/rdp',
          'alice/ssh',
          'bob/ssh',
        ]);
        const alice = m.findUser('alice');
        expect(alice?.fullName).toBe(users[0]?.fullName);
        expect(alice?.password).toBe(users[0]?.password?.reveal());
        const groups = (sid: string) => m.groups.find((g) => g.sid === sid)?.members ?? [];
        const sidOf = (login: string) => m.userSid(m.findUser(login) as never);
        expect(groups('S-1-5-32-555')).toEqual(
          expect.arrayContaining([sidOf('alice'), sidOf('bob')]),
        );
        expect(groups('S-1-5-32-544')).toContain(sidOf('bob'));
        expect(groups('S-1-5-32-544')).not.toContain(sidOf('alice'));
        expect(m.firewallRules.find((r) => r.name === 'vlab-users-rdp')?.remoteAddress).toEqual([
          '198.51.100.7',
          '203.0.113.0/24',
        ]);
        expect(m.firewallRules.find((r) => r.name === 'vlab-users-ssh')?.localPort).toEqual(['22']);
        expect(m.fs.readText(`${GUEST_PATHS.userKeysDir}\\bob`)).toContain('bob');
        expect(JSON.parse(m.fs.readText(GUEST_PATHS.stamp) ?? '{}').tainted).toBe(true);
        // Alice logs on over RDP and leaves her session: sanitize must log her off first.
        m.logon('alice', 'rdp-tcp#0');
        m.logon('bob', 'console');
        const before = m.profiles.length;
        expect(before).toBeGreaterThanOrEqual(3);
        await os.sanitize(t.ctx());
        expect(m.findUser('alice')).toBeUndefined();
        expect(m.findUser('bob')).toBeUndefined();
        expect(m.sessions).toEqual([]);
        expect(m.profiles.filter((p) => /alice|bob/.test(p.localPath))).toEqual([]);
        expect(m.fs.exists('C:\\Users\\alice')).toBe(false);
        expect(m.firewallRules.filter((r) => r.name.startsWith('vlab-users'))).toEqual([]);
        expect(m.fs.exists(GUEST_PATHS.reservation)).toBe(false);
        expect(m.fs.exists(`${GUEST_PATHS.userKeysDir}\\bob`)).toBe(false);
        await os.sanitize(t.ctx());
      } finally {
        await t.close();
      }
    });

    it.each([
      ['off', '/shutdown'],
      ['reboot', '/reboot'],
      ['on', '/quit'],
    ] as const)(
      'preCapture %s: generalizes, runs sysprep %s and reaches the end state',
      async (endState, flag) => {
        const t = await target();
        try {
          const os = createWindowsOsModule(config());
          await os.postLoad(t.ctx());
          await os.reserve(t.ctx(), { users: reservationUsers() });
          const m = t.machine;
          const boot = m.bootId;
          const result = await os.preCapture(t.ctx(), {
            endState,
            stamp: { image: 'win2022', revision: 2 },
          });
          expect(result).toEqual({ endState });
          const act = m.fs.readText('C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log') ?? '';
          expect(act).toContain(
            `sysprep.exe /generalize /oobe /quiet ${flag} /unattend:${GUEST_PATHS.unattend}`,
          );
          expect(m.findUser('alice')).toBeUndefined();
          expect(m.eventLogs.every((l) => l.records === 0)).toBe(true);
          expect(JSON.parse(m.fs.readText(GUEST_PATHS.stamp) ?? '{}')).toMatchObject({
            image: 'win2022',
            revision: 2,
            state: 'captured',
            tainted: false,
          });
          expect(m.fs.readText(GUEST_PATHS.setupComplete)).toContain('first-boot.ps1');
          expect(m.firewallRules.filter((r) => r.group === 'vlab')).toEqual([]);
          expect(m.firewallRules.find((r) => r.name === 'OpenSSH-Server-In-TCP')?.enabled).toBe(
            true,
          );
          if (endState === 'off') expect(m.power).toBe('off');
          if (endState === 'reboot') {
            expect(m.bootId).not.toBe(boot);
            expect(m.imageState).toBe('IMAGE_STATE_COMPLETE');
          }
          if (endState === 'on') {
            expect(m.power).toBe('on');
            expect(m.bootId).toBe(boot);
            expect(m.imageState).toBe('IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE');
            expect(m.hostKeys()).toEqual([]);
          }
        } finally {
          await t.close();
        }
      },
    );

    it('a failing sysprep is VLAB_ERR_WINDOWS_SYSPREP_FAILED carrying its log lines', async () => {
      const t = await target();
      try {
        const os = createWindowsOsModule(config());
        await os.postLoad(t.ctx());
        t.machine.faults.sysprep = 'appx-user-package';
        t.machine.faults.sysprepAppxPackage = 'Contoso.Notes_1.2.3.0_x64__abcdefghijklm';
        const error = await os
          .preCapture(t.ctx(), { stamp: { image: 'win2022', revision: 2 } })
          .catch((e: unknown) => e);
        expect(isVlabError(error, 'VLAB_ERR_WINDOWS_SYSPREP_FAILED'), String(error)).toBe(true);
        const details = (error as { details: { setuperr: string[]; setupact: string[] } }).details;
        expect(details.setuperr.join('\n')).toContain('Contoso.Notes_1.2.3.0_x64__abcdefghijklm');
        expect(details.setupact.length).toBeGreaterThan(0);
        expect(t.machine.power).toBe('on');
      } finally {
        await t.close();
      }
    });

    it('no password ever appears on a command line or in a log line', async () => {
      const t = await target();
      try {
        const os = createWindowsOsModule(config());
        await os.postLoad(t.ctx());
        const rotated = t.machine.findUser('Administrator')?.password ?? '';
        const users = reservationUsers();
        await os.reserve(t.ctx(), { users });
        await os.sanitize(t.ctx());
        await os.preCapture(t.ctx(), { endState: 'on', stamp: { image: 'win2022', revision: 2 } });
        const passwords = [rotated, users[0]?.password?.reveal() ?? ''];
        expect(passwords.every((p) => p.length > 8)).toBe(true);
        for (const line of t.commandLines()) {
          const script = decoded(line);
          for (const password of passwords) {
            expect(line).not.toContain(password);
            expect(script).not.toContain(password);
          }
        }
        const logs = JSON.stringify(t.records);
        for (const password of passwords) expect(logs).not.toContain(password);
      } finally {
        await t.close();
      }
    });
  });
}
