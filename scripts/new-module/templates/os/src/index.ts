/**
 * `@vlab/os-example`: an OS module of vlab. Default-exports the module definition the manager
 * loads.
 *
 * @packageDocumentation
 */

import {
  capturedStamp,
  commandFailedError,
  confirmPowerOff,
  confirmWentDown,
  coreError,
  defineOsModule,
  IMAGE_STAMP_PATHS,
  type ImageStamp,
  isVlabError,
  type OsContext,
  type OsModule,
  parseStamp,
  type ReservationUser,
  readBootMark,
  readyStamp,
  serializeStamp,
  startGoingDown,
  taintedStamp,
} from '@vlab/core';
import { z } from 'zod';

const STAMP = IMAGE_STAMP_PATHS.posix;
const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';
const MACHINE_ID = '/etc/machine-id';
// The logins reserve created, so that sanitize removes exactly those.
const RESERVED = '/var/lib/vlab/reservation-users';
const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

// The module's section of the manager's configuration file.
const configSchema = z.object({
  // How often the power probe is read while waiting for a shutdown or reboot, in milliseconds.
  pollIntervalMs: z.number().int().positive().default(1000),
});

/**
 * The module definition: `os-example`, contract `^1.1.0`, config `{ pollIntervalMs?: number }`.
 * @public
 */
const definition = defineOsModule({
  name: 'os-example',
  version: '0.0.0',
  // The contract versions it speaks; the manager refuses to load it under any other.
  contract: '^1.1.0',
  configSchema,
  // Once per configured module, not per computer: everything about a machine is in each ctx.
  create(config): OsModule {
    // Every remote call: an argv (never a shell string), through ctx.communicator, with ctx.signal.
    const run = (ctx: OsContext, argv: readonly string[], stdin?: string) =>
      ctx.communicator.runChecked(argv, {
        signal: ctx.signal,
        ...(stdin === undefined ? {} : { stdin }),
      });

    const readStamp = async (ctx: OsContext): Promise<ImageStamp | undefined> => {
      const result = await ctx.communicator.run(['cat', STAMP], { signal: ctx.signal });
      return result.code === 0
        ? parseStamp(result.stdout.toString('utf8'), ctx.computer.name)
        : undefined;
    };
    const writeStamp = (ctx: OsContext, stamp: ImageStamp) =>
      ctx.communicator.put(STAMP, serializeStamp(stamp), { signal: ctx.signal });

    const sanitize = async (ctx: OsContext): Promise<void> => {
      const listed = await ctx.communicator.run(['cat', RESERVED], { signal: ctx.signal });
      const logins = listed.code === 0 ? listed.stdout.toString('utf8').split('\n') : [];
      for (const login of logins.filter(Boolean)) {
        await ctx.communicator.run(['pkill', '-KILL', '-u', login], { signal: ctx.signal });
        const userdel = ['userdel', '--remove', login];
        const removed = await ctx.communicator.run(userdel, { signal: ctx.signal });
        // Exit 6: no such user. Already gone is what sanitize wants (idempotent).
        if (removed.code !== 0 && removed.code !== 6)
          throw commandFailedError(userdel, removed, ctx.computer.name);
        ctx.log.info('removed reservation account', { login });
      }
      await run(ctx, ['rm', '-f', RESERVED]);
    };

    // Power is confirmed through ctx.power (the provisioner's BMC or hypervisor), never by the
    // connection dropping: off for a shutdown; off or a new boot id for a reboot (a warm reboot
    // may never show off). The guest's own boot id serves where the probe has none.
    const guestBootId = async (ctx: OsContext): Promise<string | undefined> => {
      const read = await ctx.communicator.run(['cat', '/proc/sys/kernel/random/boot_id'], {
        signal: ctx.signal,
      });
      return read.code === 0 ? read.stdout.toString('utf8').trim() : undefined;
    };
    const goDown = async (ctx: OsContext, verb: 'poweroff' | 'reboot'): Promise<void> => {
      const bootId = () => guestBootId(ctx);
      const before = await readBootMark(ctx, bootId);
      const startError = await startGoingDown(ctx, verb, () => run(ctx, ['systemctl', verb]));
      const options = { intervalMs: config.pollIntervalMs, startError };
      if (verb === 'poweroff') return confirmPowerOff(ctx, options);
      return confirmWentDown(ctx, before, bootId, options);
    };
    const waitForResponse = (ctx: OsContext, timeoutMs?: number) =>
      ctx.communicator.waitUntilReachable({
        signal: ctx.signal,
        timeoutMs: timeoutMs ?? ctx.remainingMs(),
      });

    return {
      name: 'os-example',
      family: 'linux',
      shell: 'posix',
      capabilities: { endStates: ['off'], features: ['passwordLogin', 'adminUsers'] },

      async postLoad(ctx) {
        const stamp = await readStamp(ctx);
        if (stamp === undefined)
          throw coreError('VLAB_ERR_STAMP_INVALID', 'the loaded image has no stamp', {
            computer: ctx.computer.name,
          });
        // Idempotent: a second call changes nothing and says so.
        if (stamp.state === 'ready' && stamp.computer === ctx.computer.name)
          return { changed: false, stamp };
        await run(ctx, ['hostnamectl', 'set-hostname', ctx.computer.hostname]);
        await run(ctx, ['rm', '-f', HOST_KEY, `${HOST_KEY}.pub`]);
        await run(ctx, ['ssh-keygen', '-A']);
        const hostKey = await ctx.communicator.get(`${HOST_KEY}.pub`, { signal: ctx.signal });
        // Re-pin over the still-trusted connection, or the next contact is refused.
        await ctx.communicator.trustHostKeys([hostKey.toString('utf8')], { signal: ctx.signal });
        await run(ctx, ['rm', '-f', MACHINE_ID]);
        await run(ctx, ['systemd-machine-id-setup']);
        // The stamp says ready last: an interrupted postLoad is run again, not trusted.
        const ready = readyStamp(stamp, ctx.computer.name);
        await writeStamp(ctx, ready);
        ctx.log.info('postLoad done', { image: ready.image, revision: ready.revision });
        return { changed: true, stamp: ready };
      },

      async reserve(ctx, { users }) {
        // Validate every user before changing anything.
        for (const user of users) assertSafeUser(user, ctx.computer.name);
        for (const user of users) {
          const uid = user.uid === undefined ? [] : ['--uid', String(user.uid)];
          const useradd = ['useradd', '--create-home', ...uid, user.login];
          const added = await ctx.communicator.run(useradd, { signal: ctx.signal });
          // Exit 9: the account exists (a second reserve): update it, do not fail.
          if (added.code !== 0 && added.code !== 9)
            throw commandFailedError(useradd, added, ctx.computer.name);
          const keys = user.sshKeys.map((key) => `${key}\n`).join('');
          await ctx.communicator.put(`/home/${user.login}/.ssh/authorized_keys`, keys, {
            signal: ctx.signal,
            mode: 0o600,
            sudo: true,
            owner: user.login,
            group: user.login,
          });
          // A password travels on stdin only: never in argv, a file others can read, or a log line.
          if (user.password !== undefined)
            await run(ctx, ['chpasswd'], `${user.login}:${user.password.reveal()}\n`);
          if (user.admin) await run(ctx, ['usermod', '--append', '--groups', 'sudo', user.login]);
          ctx.log.info('reservation account ready', { login: user.login, admin: user.admin });
        }
        const logins = users.map((user) => `${user.login}\n`).join('');
        await ctx.communicator.put(RESERVED, logins, { signal: ctx.signal });
        // A reserved machine is tainted: it is always reloaded before anyone else gets it.
        const stamp = await readStamp(ctx);
        if (stamp !== undefined) await writeStamp(ctx, taintedStamp(stamp));
        const host = ctx.computer.addresses.public ?? ctx.computer.addresses.management;
        return {
          access: users.map((user) => ({ login: user.login, protocol: 'ssh', host, port: 22 })),
        };
      },

      sanitize,

      // This OS runs nothing at the end of a reservation.
      async postReservation() {},

      async preCapture(ctx, { endState = 'off', stamp }) {
        // An end state it does not declare is refused before anything changes.
        if (endState !== 'off')
          throw coreError('VLAB_ERR_CAPABILITY_MISSING', `end state ${endState} is not offered`, {
            computer: ctx.computer.name,
          });
        // Generalize: what postLoad and reserve made for one machine goes.
        await sanitize(ctx);
        await run(ctx, ['rm', '-f', HOST_KEY, `${HOST_KEY}.pub`, MACHINE_ID]);
        await writeStamp(ctx, capturedStamp(stamp));
        await goDown(ctx, 'poweroff');
        return { endState };
      },

      async isResponding(ctx) {
        try {
          const result = await ctx.communicator.run(['true'], {
            signal: ctx.signal,
            timeoutMs: 5000,
          });
          return result.code === 0;
        } catch (error) {
          // "No" is an answer, not an error (a timeout included); a cancellation is thrown.
          if (isVlabError(error) && !isVlabError(error, 'VLAB_ERR_OP_CANCELLED')) return false;
          throw error;
        }
      },
      waitForResponse: (ctx, options = {}) => waitForResponse(ctx, options.timeoutMs),
      shutdown: (ctx) => goDown(ctx, 'poweroff'),
      async reboot(ctx, options = {}) {
        await goDown(ctx, 'reboot');
        await waitForResponse(ctx, options.timeoutMs);
      },
      readStamp,
    };
  },
});

export default definition;

// Rejects what this OS cannot hold safely, with VLAB_ERR_CONFIG_INVALID.
function assertSafeUser(user: ReservationUser, computer: string): void {
  if (!LOGIN.test(user.login))
    throw coreError('VLAB_ERR_CONFIG_INVALID', `${JSON.stringify(user.login)} is not a login`, {
      computer,
    });
  if (user.sshKeys.some((key) => key.includes('\n')))
    throw coreError('VLAB_ERR_CONFIG_INVALID', `an SSH key of ${user.login} spans lines`, {
      computer,
    });
}
