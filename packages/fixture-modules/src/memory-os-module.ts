import {
  capturedStamp,
  commandFailedError,
  coreError,
  defineOsModule,
  type EndState,
  IMAGE_STAMP_PATHS,
  type ImageStamp,
  isVlabError,
  type OsContext,
  type OsModule,
  parseStamp,
  type ReservationUser,
  readyStamp,
  serializeStamp,
  sleep,
  taintedStamp,
  waitForPowerState,
} from '@vlab/core';
import { z } from 'zod';

const STAMP = IMAGE_STAMP_PATHS.posix;
const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';
const RESERVATION_USERS = '/var/lib/vlab/reservation-users';
/** The boot unit that installs host keys from an identity disk (IDENTITY_DISK); the memory machine reads its presence. */
const IDENTITY_UNIT = '/etc/systemd/system/vlab-identity.service';
const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Config of the memory OS module. */
export const memoryOsConfig = z.object({
  /** How often power is polled while waiting for a shutdown, in milliseconds. */
  pollIntervalMs: z.number().int().positive().default(5),
  /** The end states preCapture offers. */
  endStates: z.array(z.enum(['on', 'off', 'reboot'])).default(['off', 'reboot', 'on']),
});

/**
 * The memory OS module: a Linux-like guest on a `MemoryMachine` of `@vlab/core/testing`. It speaks
 * contract 1.1: `close`, `userConnected`, the identity disk protocol (`preCapture` installs the
 * boot unit), `put` with owner and mode, and one declared extension, `machineId`.
 */
export default defineOsModule({
  name: 'os-memory',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: memoryOsConfig,
  create(config): OsModule & { machineId(ctx: OsContext): Promise<string> } {
    const endStates: readonly EndState[] = config.endStates;
    let closed = false;

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
      const listed = await ctx.communicator.run(['cat', RESERVATION_USERS], { signal: ctx.signal });
      const logins =
        listed.code === 0 ? listed.stdout.toString('utf8').split('\n').filter(Boolean) : [];
      for (const login of logins) {
        await ctx.communicator.run(['pkill', '-KILL', '-u', login], { signal: ctx.signal });
        const removed = await ctx.communicator.run(['userdel', '--remove', login], {
          signal: ctx.signal,
        });
        // 6: no such user — already gone, which is what sanitize wants.
        if (removed.code !== 0 && removed.code !== 6)
          await run(ctx, ['userdel', '--remove', login]);
        ctx.log.info('removed reservation account', { login });
      }
      await run(ctx, ['rm', '-f', RESERVATION_USERS]);
    };

    const powerOffConfirmed = async (
      ctx: OsContext,
      verb: 'poweroff' | 'reboot',
    ): Promise<void> => {
      if (verb === 'reboot') return rebootConfirmed(ctx);
      await run(ctx, ['systemctl', verb]);
      await waitForPowerState(ctx.power, 'off', {
        signal: ctx.signal,
        timeoutMs: ctx.remainingMs(),
        intervalMs: config.pollIntervalMs,
        computer: ctx.computer.name,
      });
    };

    // A warm reboot may never show power off: it went down once the power probe saw it off, or
    // its boot id changed.
    const rebootConfirmed = async (ctx: OsContext): Promise<void> => {
      const bootId = await ctx.power.bootId?.({ signal: ctx.signal });
      await run(ctx, ['systemctl', 'reboot']);
      for (;;) {
        if ((await ctx.power.status({ signal: ctx.signal })) === 'off') return;
        const now = await ctx.power.bootId?.({ signal: ctx.signal });
        if (bootId !== undefined && now !== undefined && now !== bootId) return;
        if (ctx.remainingMs() <= 0)
          throw coreError(
            'VLAB_ERR_POWER_UNCONFIRMED',
            'the machine did not go down for the reboot',
            {
              computer: ctx.computer.name,
            },
          );
        await sleep(config.pollIntervalMs, ctx.signal, ctx.computer.name);
      }
    };

    return {
      name: 'os-memory',
      family: 'linux',
      // Contract 1.1: the communicator it needs (the memory communicator is POSIX).
      shell: 'posix',
      capabilities: {
        endStates,
        features: ['passwordLogin', 'adminUsers', 'userConnected', 'identityDisk'],
      },

      async postLoad(ctx) {
        const stamp = await readStamp(ctx);
        if (stamp === undefined) {
          throw coreError('VLAB_ERR_STAMP_INVALID', 'the loaded image has no stamp', {
            computer: ctx.computer.name,
          });
        }
        if (stamp.state === 'ready' && stamp.computer === ctx.computer.name)
          return { changed: false, stamp };
        await run(ctx, ['hostnamectl', 'set-hostname', ctx.computer.hostname]);
        await run(ctx, ['rm', '-f', HOST_KEY, `${HOST_KEY}.pub`]);
        await run(ctx, ['ssh-keygen', '-A']);
        const hostKey = (
          await ctx.communicator.get(`${HOST_KEY}.pub`, { signal: ctx.signal })
        ).toString('utf8');
        // Still on the trusted connection: re-pin now, so the next contact is not refused.
        await ctx.communicator.trustHostKeys([hostKey], { signal: ctx.signal });
        await run(ctx, ['rm', '-f', '/etc/machine-id']);
        await run(ctx, ['systemd-machine-id-setup']);
        const ready = readyStamp(stamp, ctx.computer.name);
        await writeStamp(ctx, ready);
        ctx.log.info('postLoad done', { image: ready.image, revision: ready.revision });
        return { changed: true, stamp: ready };
      },

      async reserve(ctx, { users }) {
        for (const user of users) assertSafeUser(user, ctx.computer.name);
        for (const user of users) {
          const uid = user.uid === undefined ? [] : ['--uid', String(user.uid)];
          // Idempotent: an account a previous reserve created (exit 9) is updated, not an error.
          const useradd = ['useradd', '--create-home', ...uid, user.login];
          const added = await ctx.communicator.run(useradd, { signal: ctx.signal });
          if (added.code !== 0 && added.code !== 9)
            throw commandFailedError(useradd, added, ctx.computer.name);
          await ctx.communicator.put(
            `/home/${user.login}/.ssh/authorized_keys`,
            user.sshKeys.map((k) => `${k}\n`).join(''),
            // Contract 1.1: written as root, owned by the user — no shell, no later chown.
            { signal: ctx.signal, mode: 0o600, sudo: true, owner: user.login, group: user.login },
          );
          // The password travels on stdin, never in argv or a log line.
          if (user.password !== undefined)
            await run(ctx, ['chpasswd'], `${user.login}:${user.password.reveal()}\n`);
          if (user.admin) await run(ctx, ['usermod', '--append', '--groups', 'sudo', user.login]);
          ctx.log.info('created reservation account', {
            login: user.login,
            admin: user.admin,
            password: user.password,
          });
        }
        await ctx.communicator.put(RESERVATION_USERS, users.map((u) => `${u.login}\n`).join(''), {
          signal: ctx.signal,
        });
        const stamp = await readStamp(ctx);
        if (stamp !== undefined) await writeStamp(ctx, taintedStamp(stamp));
        const host = ctx.computer.addresses.public ?? ctx.computer.addresses.management;
        return {
          access: users.map((u) => ({ login: u.login, protocol: 'ssh' as const, host, port: 22 })),
        };
      },

      sanitize,

      async postReservation(ctx) {
        const script = await ctx.communicator.run(['cat', '/usr/local/lib/vlab/post-reservation'], {
          signal: ctx.signal,
        });
        ctx.log.info(
          script.code === 0
            ? 'image has an end-of-reservation script'
            : 'no end-of-reservation script',
        );
      },

      async preCapture(ctx, { endState = 'off', stamp }) {
        if (!endStates.includes(endState)) {
          throw coreError(
            'VLAB_ERR_CAPABILITY_MISSING',
            `os-memory does not offer end state ${endState}`,
            {
              computer: ctx.computer.name,
            },
          );
        }
        await sanitize(ctx);
        await run(ctx, ['rm', '-f', HOST_KEY, `${HOST_KEY}.pub`, '/etc/machine-id']);
        // The identity disk protocol: the image takes its host keys from a VLAB-ID disk at boot.
        await ctx.communicator.put(IDENTITY_UNIT, IDENTITY_UNIT_TEXT, {
          signal: ctx.signal,
          sudo: true,
          mode: 0o644,
        });
        await writeStamp(ctx, capturedStamp(stamp));
        ctx.log.info('generalized for capture', { endState });
        if (endState === 'off') await powerOffConfirmed(ctx, 'poweroff');
        if (endState === 'reboot') await powerOffConfirmed(ctx, 'reboot');
        return { endState };
      },

      async userConnected(ctx, { users }) {
        for (const login of users) assertSafeLogin(login, ctx.computer.name);
        const who = await run(ctx, ['who']);
        const sessions = who.stdout
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [login = '', since = '', from = ''] = line.split('\t');
            return { login, since, from };
          })
          .filter((session) => users.includes(session.login))
          .sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
        return { sessions };
      },

      async isResponding(ctx) {
        try {
          return (
            (await ctx.communicator.run(['true'], { signal: ctx.signal, timeoutMs: 5000 })).code ===
            0
          );
        } catch (error) {
          if (isVlabError(error)) return false;
          throw error;
        }
      },

      async waitForResponse(ctx, options = {}) {
        await ctx.communicator.waitUntilReachable({
          signal: ctx.signal,
          timeoutMs: options.timeoutMs ?? 600_000,
        });
      },

      async shutdown(ctx) {
        await powerOffConfirmed(ctx, 'poweroff');
      },

      async reboot(ctx, options = {}) {
        await powerOffConfirmed(ctx, 'reboot');
        await ctx.communicator.waitUntilReachable({
          signal: ctx.signal,
          timeoutMs: options.timeoutMs ?? 600_000,
        });
      },

      readStamp,

      // Nothing is kept open between operations (the communicator is the manager's); close only
      // records that the module is done, and a second call does nothing.
      async close() {
        closed = true;
      },

      // Beyond the contract, declared: instantiateOsModule refuses an undeclared one.
      extensions: { machineId: "reads the guest's /etc/machine-id (for the operator's inventory)" },
      async machineId(ctx: OsContext): Promise<string> {
        if (closed) throw coreError('VLAB_ERR_CAPABILITY_MISSING', 'os-memory is closed');
        // Contract 1.1: the transfer's idle time under its own name.
        return (
          await ctx.communicator.get('/etc/machine-id', { signal: ctx.signal, idleTimeoutMs: 5000 })
        )
          .toString('utf8')
          .trim();
      },
    };
  },
});

const IDENTITY_UNIT_TEXT = `[Unit]
Description=Install SSH host keys from a VLAB-ID identity disk
Before=ssh.service
[Service]
Type=oneshot
ExecStart=/usr/local/lib/vlab/vlab-identity
[Install]
WantedBy=multi-user.target
`;

function assertSafeLogin(login: string, computer: string): void {
  if (!LOGIN.test(login)) {
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `login ${JSON.stringify(login)} is not a valid user name`,
      { computer },
    );
  }
}

function assertSafeUser(user: ReservationUser, computer: string): void {
  assertSafeLogin(user.login, computer);
  for (const key of user.sshKeys) {
    if (key.includes('\n'))
      throw coreError('VLAB_ERR_CONFIG_INVALID', `an SSH key of ${user.login} spans lines`, {
        computer,
      });
  }
}
