import { isVlabError } from '../errors/vlab-error.js';
import { parseStamp } from '../stamp.js';
import type { ReservationUser } from '../users.js';
import { assertNoSecretIn, type ConformanceCheck } from './conformance-check.js';
import {
  describeDifferences,
  type MachineState,
  machineState,
  stateDifferences,
} from './machine-state.js';
import type { OsFeatureCheckKit } from './os-feature-checks.js';

type Fail = (message: string) => never;

/** Files where a password set again shows as new bytes (a new salt), not as a new state. */
const PASSWORD_DATABASES = ['/etc/shadow', '/etc/gshadow'];

/**
 * The kit's checks of the whole machine state around `reserve` and `postLoad`, and of secrets in
 * commands and files. Each needs what the harness can observe; a check whose observation the
 * harness lacks is reported as skipped, with the member it needs.
 */
export function osStateChecks(kit: OsFeatureCheckKit): ConformanceCheck[] {
  const { os, harness, ctx, options, target } = kit;
  const needs = (member: keyof typeof harness, ...more: (keyof typeof harness)[]) => {
    const missing = [member, ...more].filter((m) => harness[m] === undefined);
    return missing.length === 0
      ? undefined
      : `the harness has no ${missing.join(' or ')}, so the kit cannot observe this`;
  };
  const loaded = async (): Promise<void> => {
    await harness.reset();
    await os.postLoad(ctx('postLoad'));
  };
  const unchanged = (
    before: MachineState,
    after: MachineState,
    fail: Fail,
    what: string,
    allowed: readonly string[] = [],
  ) => {
    const differences = stateDifferences(before, after, [harness.stampPath, ...allowed]);
    if (differences.length > 0) fail(`${what}: ${describeDifferences(differences)}`);
  };

  return [
    kit.check(
      'no-secret-in-commands',
      'no secret appears in the argv or environment of a command the module runs',
      async (fail) => {
        await loaded();
        await os.reserve(ctx('reserve'), { users: harness.users() });
        await os.sanitize(ctx('sanitize'));
        await os.preCapture(ctx('preCapture'), { stamp: target });
        for (const command of harness.commands?.() ?? []) {
          assertNoSecretIn(
            { argv: command.argv, env: command.env },
            harness,
            fail,
            `the argv or environment of the command ${command.argv[0] ?? '(empty)'} (secrets travel on stdin or in files only their user can read)`,
          );
        }
      },
      needs('commands'),
    ),

    kit.check(
      'no-secret-in-readable-files',
      'reserve writes no secret into a file every account can read',
      async (fail) => {
        await loaded();
        const before = new Map(
          ((await harness.snapshotFiles?.()) ?? []).map((f) => [f.path, f.sha256]),
        );
        await os.reserve(ctx('reserve'), { users: harness.users() });
        for (const file of (await harness.snapshotFiles?.()) ?? []) {
          if (before.get(file.path) === file.sha256 || (file.mode & 0o004) === 0) continue;
          const content = await harness.readFile(file.path);
          assertNoSecretIn(
            content,
            harness,
            fail,
            `the file ${file.path}, readable by every account (mode 0${file.mode.toString(8)}),`,
          );
        }
      },
      needs('snapshotFiles'),
    ),

    kit.check(
      'sanitize-restores-state',
      'reserve then sanitize leaves the machine as it was before reserve (but for the taint)',
      async (fail) => {
        await loaded();
        const before = await machineState(harness);
        await os.reserve(ctx('reserve'), { users: harness.users() });
        await os.sanitize(ctx('sanitize'));
        unchanged(
          before,
          await machineState(harness),
          fail,
          'after reserve and sanitize the machine differs from before reserve',
        );
      },
    ),

    kit.check(
      'reserve-grants',
      'reserve makes admins of admin users only, and a password it is given logs the user in',
      async (fail) => {
        await loaded();
        const users = harness.users();
        await os.reserve(ctx('reserve'), { users });
        const accounts = (await harness.accountDetails?.()) ?? [];
        const features = os.capabilities.features;
        for (const user of users) {
          const account = accounts.find((a) => a.login === user.login);
          if (account === undefined) return fail(`after reserve there is no account ${user.login}`);
          if (features.includes('adminUsers') && account.admin !== user.admin)
            fail(
              `reserve made ${user.login} ${account.admin ? 'an admin' : 'no admin'}, but the request says admin: ${user.admin}`,
            );
          if (!user.admin && account.admin)
            fail(`reserve gave ${user.login} admin rights the request did not ask for`);
          if (user.password !== undefined && features.includes('passwordLogin')) {
            if (!account.hasPassword) fail(`reserve set no password for ${user.login}`);
            if (harness.canLogin !== undefined) {
              if (!(await harness.canLogin(user.login, user.password)))
                fail(`${user.login} cannot log in with the password the request gave`);
            }
          }
        }
      },
      needs('accountDetails'),
    ),

    kit.check(
      'reserve-idempotent',
      'reserve called again with the same users resolves and changes nothing',
      async (fail) => {
        await loaded();
        const users = harness.users();
        await os.reserve(ctx('reserve'), { users });
        const first = await machineState(harness);
        await os
          .reserve(ctx('reserve'), { users })
          .catch((error: unknown) =>
            fail(
              `a second reserve with the same users threw (${(error as Error).message}); reserve must be idempotent`,
            ),
          );
        // Setting the same password again hashes it with a new salt: the password databases'
        // bytes may change; the accounts themselves (password state included) may not.
        unchanged(
          first,
          await machineState(harness),
          fail,
          'a second reserve with the same users changed the machine',
          PASSWORD_DATABASES,
        );
      },
    ),

    kit.check(
      'reserve-validates-first',
      'reserve validates every user before changing anything: a hostile login or a key spanning lines after a good user is refused with nothing changed',
      async (fail) => {
        const [good] = harness.users();
        if (good === undefined) return fail('the harness supplies no users');
        const hostile: [string, ReservationUser][] = [
          ['a login with shell metacharacters', { ...good, login: "x'; rm -rf / #" }],
          [
            'an SSH key spanning lines',
            {
              ...good,
              login: `${good.login}2`,
              sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKit\nssh-ed25519 AAAAInjected evil'],
            },
          ],
        ];
        for (const [what, user] of hostile) {
          await loaded();
          const before = await machineState(harness);
          const error = await os.reserve(ctx('reserve'), { users: [good, user] }).then(
            () => fail(`reserve accepted ${what}`),
            (e: unknown) => e,
          );
          if (!isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'))
            fail(
              `reserve with ${what} threw ${(error as { code?: string }).code}, expected VLAB_ERR_CONFIG_INVALID`,
            );
          unchanged(
            before,
            await machineState(harness),
            fail,
            `reserve refused ${what} only after changing the machine`,
          );
        }
      },
    ),

    kit.check(
      'post-load-rotates-identity',
      'postLoad gives a fresh image new host keys, and no two loads of an image share a machine id',
      async (fail) => {
        await harness.reset();
        const identity = harness.identity?.bind(harness);
        if (identity === undefined) return;
        const before = await identity();
        await os.postLoad(ctx('postLoad'));
        const after = await identity();
        if (after.hostKeys.length === 0) fail('after postLoad the machine has no host key');
        const kept = after.hostKeys.filter((k) => before.hostKeys.includes(k));
        if (kept.length > 0)
          fail(
            `postLoad kept the image's host keys: ${kept.map((k) => k.split(' ')[0]).join(', ')}`,
          );
        if (after.machineId === undefined) fail('after postLoad the machine has no machine id');
        if (after.machineId !== before.machineId) return;
        // Unchanged by postLoad is right only where the image's first boot already made it new
        // (Windows: sysprep's specialize pass gives a generalized image a new SID before postLoad
        // runs). Then a second load of the image must get another one.
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const again = await identity();
        if (again.machineId === after.machineId)
          fail(
            "postLoad kept the image's machine id: two loads of the image both have it (postLoad, or the image's first boot, must make a new one)",
          );
      },
      needs('identity'),
    ),

    kit.check(
      'post-load-ready-only-when-done',
      'postLoad writes the ready stamp only when its work is done (aborted part-way, the stamp is not ready)',
      async (fail) => {
        const commands = harness.commands?.bind(harness);
        const stallAfter = harness.stallAfterCommands?.bind(harness);
        if (commands === undefined || stallAfter === undefined) return;
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const run = commands();
        const total = run.length;
        // Abort after the last command but one: a module that wrote `ready` at any earlier step
        // (and never took it back) shows it there. Also after each command that names the stamp
        // file, so one that writes `ready` and rewrites it later is caught at that point too. On
        // a real machine each abort point costs a reset; this keeps the check to a few.
        const stampName = harness.stampPath.split(/[\\/]/).pop() ?? harness.stampPath;
        const points = new Set<number>();
        if (total > 1) points.add(total - 1);
        run.forEach((command, index) => {
          const text = [...command.argv, Buffer.from(command.stdin ?? []).toString('utf8')].join(
            '\n',
          );
          if (index + 1 < total && text.includes(stampName)) points.add(index + 1);
        });
        for (const done of [...points].sort((a, b) => a - b)) {
          await harness.reset();
          const resume = await stallAfter(done);
          const controller = new AbortController();
          const work = os
            .postLoad(
              harness.osContext({
                phase: 'postLoad',
                timeoutMs: options.operationTimeoutMs,
                signal: controller.signal,
              }),
            )
            .then(
              () => undefined,
              () => undefined,
            );
          const until = Date.now() + options.operationTimeoutMs;
          while (commands().length < done && Date.now() < until)
            await new Promise((resolve) => setTimeout(resolve, 5));
          controller.abort(new Error('cancelled by the conformance kit'));
          await work;
          await resume();
          const bytes = await harness.readFile(harness.stampPath);
          const stamp =
            bytes === undefined
              ? undefined
              : parseStamp(bytes.toString('utf8'), harness.computer.name);
          if (stamp?.state === 'ready')
            fail(
              `postLoad, aborted after ${done} of its ${total} commands, had already written the ready stamp`,
            );
        }
      },
      needs('commands', 'stallAfterCommands'),
    ),
  ];
}
