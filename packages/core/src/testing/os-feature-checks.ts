import type { OsContext } from '../context.js';
import { generateHostKey } from '../host-key.js';
import { identityDiskFiles } from '../identity-disk.js';
import type { OsModule, UserConnectedResult } from '../os-module.js';
import type { StampTarget } from '../stamp.js';
import type { ConformanceCheck, ResolvedOptions } from './conformance-check.js';
import type { ConformanceHarness } from './harness.js';

type Fail = (message: string) => never;
type CheckFactory = (
  id: string,
  title: string,
  body: (fail: Fail) => Promise<void>,
  skip?: string,
) => ConformanceCheck;

/** What the optional-feature and state checks need from `osModuleChecks`. */
export interface OsFeatureCheckKit {
  readonly os: OsModule;
  readonly harness: ConformanceHarness;
  readonly options: ResolvedOptions;
  readonly check: CheckFactory;
  readonly ctx: (phase: string) => OsContext;
  /** The stamp target the kit's `preCapture` calls use. */
  readonly target: StampTarget;
}

/** How often the kit asks again while it waits for the machine to reach a state. */
const POLL_MS = 200;

/**
 * `os/user-connected`, for a module that declares the feature: nobody is reported before a login;
 * a login through the harness is reported for that user only, with a stable `since` close to the
 * login; after logout it is no longer reported.
 */
export function userConnectedCheck(kit: OsFeatureCheckKit): ConformanceCheck {
  const { os, harness, options, ctx } = kit;
  return kit.check(
    'user-connected',
    "userConnected reports a user's open session, since its start, and nothing once the user logged out",
    async (fail) => {
      const userConnected = os.userConnected?.bind(os);
      if (userConnected === undefined)
        return fail('it declares the userConnected feature but has no userConnected operation');
      if (harness.openSession === undefined)
        return fail(
          'the harness has no openSession, so the kit cannot log a user in to check userConnected: implement ConformanceHarness.openSession',
        );
      await harness.reset();
      await os.postLoad(ctx('postLoad'));
      const users = harness.users();
      const [first, second] = users;
      if (first === undefined || second === undefined)
        return fail('the harness supplies fewer than two users');
      const logins = users.map((u) => u.login);
      await os.reserve(ctx('reserve'), { users });
      const ask = async (asked: readonly string[]): Promise<UserConnectedResult> => {
        const result = await userConnected(ctx('userConnected'), { users: asked });
        if (!Array.isArray(result?.sessions)) fail('userConnected returned no sessions array');
        for (const session of result.sessions) {
          if (!asked.includes(session.login))
            fail(
              `userConnected({ users: [${asked.join(', ')}] }) reported a session of ${session.login}, who was not asked about`,
            );
          if (Number.isNaN(Date.parse(session.since)))
            fail(
              `userConnected reported since = ${JSON.stringify(session.since)}, not an ISO time`,
            );
        }
        return result;
      };
      const idle = await ask(logins);
      if (idle.sessions.length > 0)
        fail(
          `before anyone logged in, userConnected reported sessions of ${idle.sessions.map((s) => s.login).join(', ')}`,
        );
      const loginStartedAt = Date.now();
      const end = await harness.openSession(first.login);
      let ended = false;
      try {
        const during = await ask(logins);
        const mine = during.sessions.filter((s) => s.login === first.login);
        const [session] = mine;
        if (session === undefined)
          return fail(`${first.login} is logged in, but userConnected reported no session of them`);
        // Clocks of real machines drift; a minute either way still tells a session from a guess.
        const since = Date.parse(session.since);
        if (since < loginStartedAt - 60_000 || since > Date.now() + 60_000)
          fail(
            `userConnected says ${first.login}'s session began at ${session.since}, but the login was at ${new Date(loginStartedAt).toISOString()}`,
          );
        // Ask again once the clock has moved on by more than a second (utmp keeps seconds), so a
        // module that answers with the time of the question cannot give the same `since` twice.
        const askedAt = Date.now();
        while (Date.now() - askedAt < 1100)
          await new Promise((resolve) => setTimeout(resolve, 100));
        const again = await ask(logins);
        if (!again.sessions.some((s) => s.login === first.login && s.since === session.since))
          fail(
            `asked again, userConnected gave ${first.login}'s session another start time (${again.sessions.map((s) => s.since).join(', ')} instead of ${session.since}): since must be when the session began, not when it was asked`,
          );
        const others = await ask([second.login]);
        if (others.sessions.length > 0)
          fail(
            `userConnected({ users: ['${second.login}'] }) reported a session while only ${first.login} is logged in`,
          );
        await end();
        ended = true;
      } finally {
        if (!ended) await end();
      }
      const until = Date.now() + options.operationTimeoutMs;
      for (;;) {
        const after = await ask(logins);
        if (!after.sessions.some((s) => s.login === first.login)) break;
        if (Date.now() > until)
          fail(
            `${first.login} logged out, but userConnected still reports the session after ${options.operationTimeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  );
}

/**
 * `os/identity-disk`, for a module that declares the feature: the image `preCapture` left, booted
 * with an identity disk, presents exactly the disk's host keys.
 */
export function identityDiskCheck(kit: OsFeatureCheckKit): ConformanceCheck {
  const { os, harness, options, ctx, target } = kit;
  return kit.check(
    'identity-disk',
    'the image preCapture leaves takes its SSH host keys from an identity disk at boot',
    async (fail) => {
      const { bootWithIdentityDisk, presentedHostKeys } = harness;
      if (bootWithIdentityDisk === undefined || presentedHostKeys === undefined)
        return fail(
          'the harness has no bootWithIdentityDisk or presentedHostKeys, so the kit cannot check the identityDisk feature: implement both',
        );
      await harness.reset();
      await os.postLoad(ctx('postLoad'));
      await os.preCapture(ctx('preCapture'), { stamp: target });
      const key = generateHostKey(harness.computer.name);
      const expected = key.publicKey.split(' ').slice(0, 2).join(' ');
      await bootWithIdentityDisk.call(harness, identityDiskFiles([key]));
      const until = Date.now() + options.operationTimeoutMs;
      let presented: readonly string[] = [];
      while (presented.length === 0) {
        presented = await presentedHostKeys.call(harness);
        if (presented.length > 0) break;
        if (Date.now() > until)
          fail(
            `after a boot with an identity disk the machine presented no host key within ${options.operationTimeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      if (!presented.includes(expected))
        fail(
          `booted with an identity disk, the machine presents ${presented.map((k) => k.slice(0, 40)).join(', ')}…, not the disk's host key ${expected.slice(0, 40)}… (does preCapture install the identity unit?)`,
        );
      const others = presented.filter((k) => k !== expected);
      if (others.length > 0)
        fail(
          `booted with an identity disk, the machine still presents host keys of its own besides the disk's: ${others.map((k) => k.split(' ')[0]).join(', ')}; every host key must come from the disk`,
        );
    },
  );
}
