import { isVlabError, type ReservationUser, Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { createWindowsOsModule, windowsOsConfig } from '../src/index.js';
import { GUEST_PATHS } from '../src/paths.js';
import { contextOf, FakeWindows, type SentCommand } from './fake-windows.js';
import { assertOnlyLiteral, POWERSHELL_HOSTILE_VALUES, powerShellScript } from './peer-kit.js';

// Each hostile value, as every field a user or the config hands the module, must reach Windows
// only as a verbatim literal bound to a script's param() or on stdin (ASCII JSON that decodes to
// exactly the value), or be refused by validation before anything is sent.

const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu alice@lab';
const REFUSALS = new Set(['VLAB_ERR_CONFIG_INVALID', 'VLAB_ERR_ARGUMENT_INVALID']);
const STAMP =
  '{"schema":1,"image":"w","revision":2,"state":"captured","capturedAt":"2026-11-29T10:00:00.000Z","tainted":false}';

function user(fields: Partial<ReservationUser>): ReservationUser {
  return {
    login: 'alice',
    sshKeys: [KEY],
    password: new Secret('Pa55-word', 'pw'),
    admin: true,
    allowFrom: ['198.51.100.7'],
    ...fields,
  };
}

/** Runs `work`; a refusal must come before any command, else every use of `value` is checked. */
async function check(
  machine: FakeWindows,
  value: string,
  work: () => Promise<unknown>,
  where: 'argument' | 'stdin' | 'either',
): Promise<'refused' | 'sent'> {
  try {
    await work();
  } catch (error) {
    if (isVlabError(error) && REFUSALS.has(error.code)) {
      expect(machine.sent, 'refused after sending commands').toEqual([]);
      expect((error as Error).message.length).toBeLessThan(2000);
      return 'refused';
    }
    throw error;
  }
  let seen = false;
  for (const command of machine.sent) seen = (await checkCommand(command, value, where)) || seen;
  expect(seen, 'the value never reached the machine').toBe(true);
  return 'sent';
}

async function checkCommand(
  command: SentCommand,
  value: string,
  where: 'argument' | 'stdin' | 'either',
): Promise<boolean> {
  let seen = false;
  const [code = '', ...args] = command.argv;
  if (args.includes(value)) {
    expect(where, `${command.name} got it as an argument`).not.toBe('stdin');
    const script = powerShellScript(command.argv);
    // A value that is also text of the module's own code (a space) cannot be told apart there.
    if (value.trim() !== '' && !code.includes(value)) await assertOnlyLiteral(script, value);
    seen = true;
  } else if (value.length >= 3) {
    for (const arg of args)
      expect(arg, `${command.name} got it inside another argument`).not.toContain(value);
  }
  if (command.stdin !== undefined) {
    expect(command.stdin).toMatch(/^[\x20-\x7e]*$/);
    const decoded = JSON.stringify(JSON.parse(command.stdin));
    if (decoded.includes(JSON.stringify(value).slice(1, -1)) && value !== '') {
      expect(where, `${command.name} got it on stdin`).not.toBe('argument');
      seen = true;
    }
  }
  return seen;
}

// And NUL, which no Windows string argument can carry: refused by validation, before @vlab/ssh
// would refuse it as an argument.
const VALUES = [...POWERSHELL_HOSTILE_VALUES, '\u0000', 'pass\u0000word'];

describe.each(
  VALUES.map((value) => [
    JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value),
    value,
  ]),
)('the hostile value %s', (_shown, value) => {
  it('as a login is refused or sent as a literal', async () => {
    const machine = new FakeWindows();
    await check(
      machine,
      value,
      () =>
        createWindowsOsModule().reserve(contextOf(machine), { users: [user({ login: value })] }),
      'argument',
    );
  });

  it('as a full name goes on stdin only, or is refused', async () => {
    if (value === '') return;
    const machine = new FakeWindows();
    await check(
      machine,
      value,
      () =>
        createWindowsOsModule().reserve(contextOf(machine), { users: [user({ fullName: value })] }),
      'stdin',
    );
  });

  it('as a password goes on stdin only, or is refused', async () => {
    const machine = new FakeWindows();
    const outcome = await check(
      machine,
      value,
      () =>
        createWindowsOsModule().reserve(contextOf(machine), {
          users: [user({ password: new Secret(value, 'pw') })],
        }),
      'stdin',
    );
    if (outcome === 'sent') {
      const apply = machine.sent.find((c) => c.name === 'applyUser');
      expect(JSON.parse(apply?.stdin ?? '{}').password).toBe(value);
    }
  });

  it('as the host name gives a valid computer name or is refused', async () => {
    const machine = new FakeWindows();
    machine.files.set(GUEST_PATHS.stamp, STAMP);
    const work = () =>
      createWindowsOsModule(windowsOsConfig({ pollIntervalMs: 5 })).postLoad(
        contextOf(machine, [], { hostname: value }),
      );
    await expect(work()).rejects.toSatisfy((error) =>
      isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'),
    );
    expect(machine.sent).toEqual([]);
  });

  it('as the administrator name is refused by the config or sent as a literal', async () => {
    const machine = new FakeWindows();
    machine.files.set(GUEST_PATHS.stamp, STAMP);
    await check(
      machine,
      value,
      () =>
        createWindowsOsModule(
          windowsOsConfig({ administrator: { name: value }, pollIntervalMs: 5 }),
        ).postLoad(contextOf(machine)),
      'either',
    );
  });
});
