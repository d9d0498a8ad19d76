// The conformance kit's harness over the scripted Windows peer: the machine is a WindowsMachine
// model, observed directly (power, accounts, files), never through the module; every reset starts
// a fresh machine and peer. What it cannot observe it leaves out, so the kit shows those checks as
// skipped with the reason.
import { createHash } from 'node:crypto';
import {
  createLogger,
  createOperationContext,
  createOsContext,
  createProvisionerContext,
  createSecretResolver,
  IMAGE_STAMP_PATHS,
  type LogRecord,
  type ModuleDeps,
  type OsContext,
  type ReservationUser,
  Secret,
} from '@vlab/core';
import type {
  ConformanceHarness,
  HarnessContextOptions,
  HarnessPowerEvent,
} from '@vlab/core/testing';
import { type PeerTarget, startPeerTarget } from './peer-target.js';

/** Accounts every modelled Windows has: not the kit's business. */
const BUILT_IN = new Set(['administrator', 'defaultaccount', 'guest', 'wdagutilityaccount']);

const COMPUTER = {
  name: 'win1',
  hostname: 'lab-win-01.lab.example',
  addresses: { management: '192.0.2.10' },
  credentials: {},
  attributes: {},
};

/** A harness over one peer at a time; `close()` ends the last. */
export interface PeerHarness extends ConformanceHarness {
  close(): Promise<void>;
}

export function createPeerHarness(): PeerHarness {
  let target: PeerTarget | undefined;
  let events: HarnessPowerEvent[] = [];
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const passwords = {
    alice: new Secret('Al1ce-pass-word', 'password of alice'),
    bob: new Secret('B0b-pass-word!', 'password of bob'),
  };
  const current = (): PeerTarget => {
    if (target === undefined) throw new Error('reset() first');
    return target;
  };
  const osInit = (options: HarnessContextOptions) => ({
    log,
    deadline: Date.now() + options.timeoutMs,
    signal: options.signal,
    phase: options.phase,
    computer: COMPUTER,
    image: { name: 'win2022', revision: 1, osFamily: 'windows' },
    communicator: current().communicator,
    power: {
      status: async () => current().machine.power,
      bootId: async () => current().machine.bootId,
    },
  });
  return {
    computer: COMPUTER,
    image: { name: 'win2022', revision: 1, osFamily: 'windows' },
    stampPath: IMAGE_STAMP_PATHS.windows,
    async reset() {
      await target?.close();
      target = await startPeerTarget();
      events = [];
      target.machine.events.on('power', (event: string) => {
        const at = performance.now();
        if (event === 'off') events.push({ at, state: 'off' });
        if (event === 'reboot') events.push({ at, state: 'off' });
        if (event === 'on') events.push({ at, state: 'on' });
      });
    },
    osContext: (options): OsContext => createOsContext(osInit(options)),
    provisionerContext: (os, options) => createProvisionerContext({ ...osInit(options), os }),
    operationContext: (options) =>
      createOperationContext({
        log,
        deadline: Date.now() + options.timeoutMs,
        signal: options.signal,
        phase: options.phase,
      }),
    power: async () => current().machine.power,
    powerEvents: () => events,
    async accounts() {
      return current()
        .machine.users.map((u) => u.name)
        .filter((name) => !BUILT_IN.has(name.toLowerCase()));
    },
    async readFile(path) {
      const text = current().machine.fs.readText(path);
      return text === undefined ? undefined : Buffer.from(text, 'utf8');
    },
    diskReads: () => [],
    commands: () => current().communicator.commands,
    async stallAfterCommands(count) {
      return current().communicator.stallAfter(count);
    },
    async accountDetails() {
      const m = current().machine;
      return m.users.map((u) => {
        const sid = m.userSid(u);
        const groups = m.groups.filter((g) => g.members.includes(sid)).map((g) => g.name);
        return {
          login: u.name,
          uid: u.rid,
          groups: groups.sort(),
          admin: groups.includes('Administrators'),
          hasPassword: u.password !== null && u.enabled,
        };
      });
    },
    async snapshotFiles() {
      // Windows has ACLs, not modes: a file under a user's profile or one icacls gave the
      // Administrators-and-SYSTEM-only ACL counts as 0600; everything else inherits read access
      // for Users (C:\ProgramData, C:\Windows) and counts as 0644.
      const m = current().machine;
      const locked = new Set(m.fileAcls.keys());
      return m.fs
        .list()
        .filter((path) => m.fs.isFile(path))
        .map((path) => ({
          path,
          sha256: createHash('sha256')
            .update(m.fs.readFile(path) ?? Buffer.alloc(0))
            .digest('hex'),
          mode:
            locked.has(path.toLowerCase()) || /^c:\\users\\(?!public\\)/i.test(path)
              ? 0o600
              : 0o644,
          owner: 'Administrators',
          group: 'Administrators',
        }));
    },
    async canLogin(login, password) {
      const user = current().machine.findUser(login);
      return user?.enabled === true && user.password === password.reveal();
    },
    async identity() {
      const m = current().machine;
      return {
        hostKeys: m
          .hostKeys()
          .flatMap((k) =>
            k.publicKey === null ? [] : [k.publicKey.trim().split(' ').slice(0, 2).join(' ')],
          ),
        // Generalized (sysprep), the disk holds no machine SID of its own: specialize makes one.
        machineId:
          m.imageState === 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE' ? undefined : m.machineSid,
      };
    },
    async stall() {
      return current().communicator.hold();
    },
    users(): readonly ReservationUser[] {
      return [
        {
          login: 'alice',
          fullName: 'Alice',
          sshKeys: [],
          password: passwords.alice,
          admin: false,
          allowFrom: ['198.51.100.7'],
        },
        {
          login: 'bob',
          sshKeys: [],
          password: passwords.bob,
          admin: true,
          allowFrom: ['203.0.113.0/24'],
        },
      ];
    },
    secrets() {
      // The administrator password postLoad generated is in play too: it must reach no log line.
      const admin = target?.machine.findUser('Administrator')?.password;
      return [
        passwords.alice,
        passwords.bob,
        ...(admin ? [new Secret(admin, 'administrator password')] : []),
      ];
    },
    logs: () => records,
    moduleDeps: (): ModuleDeps => ({ log, secrets: createSecretResolver({ env: {} }) }),
    async close() {
      await target?.close();
      target = undefined;
    },
  };
}
