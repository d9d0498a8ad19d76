import type { OsContext } from '../context.js';
import { DEFAULT_END_STATE, END_STATES, type EndState } from '../end-state.js';
import { isVlabError } from '../errors/vlab-error.js';
import type { OsModule } from '../os-module.js';
import { type ImageStamp, parseStamp } from '../stamp.js';
import {
  abortAndMeasure,
  assertKnownError,
  type ConformanceCheck,
  type ConformanceOptions,
  expectCloseIdempotent,
  expectDeclaredExtensions,
  expectFeaturesMatchOperations,
  expectWellFormedFamily,
  makeCheck,
  type ResolvedOptions,
  resolveOptions,
} from './conformance-check.js';
import type { ConformanceHarness } from './harness.js';
import { describeDifferences, machineState, stateDifferences } from './machine-state.js';
import { identityDiskCheck, userConnectedCheck } from './os-feature-checks.js';
import { osPowerChecks } from './os-power-checks.js';
import { osStateChecks } from './os-state-checks.js';
import { watchForSecrets } from './secret-search.js';

/** An OS module and the harness of the machine it is checked on. @public */
export interface OsModuleSubject {
  /** The OS module under test. */
  readonly os: OsModule;
  /** The harness of the machine it is checked on. */
  readonly harness: ConformanceHarness;
  /** The kit's bounds and the module's own error codes; see {@link ConformanceOptions} for defaults. */
  readonly options?: ConformanceOptions;
}

type Fail = (message: string) => never;

/**
 * The OS module contract, as runnable checks: stamp and idempotence of `postLoad`, accounts of
 * `reserve`/`sanitize`, end states of `preCapture`, abort bounds, coded errors, no secret in logs,
 * declared extensions and features, a well-formed `family` and `shell`, and for modules declaring
 * them the `userConnected` and `identityDisk` features (contract 1.1; the harness needs
 * `openSession`, `bootWithIdentityDisk` and `presentedHostKeys` for those), and `shutdown` and
 * `reboot` confirmed by the harness when they return (`os/shutdown`, `os/reboot`: never returned
 * before it happened). Each check resets the machine first, so they run in any
 * order — except the last, `os/close`, which calls the module's optional `close` (twice: the second
 * call must not throw) and so must run after every other check of the instance.
 * @public
 */
export function osModuleChecks(subject: OsModuleSubject): readonly ConformanceCheck[] {
  const { harness } = subject;
  // Operations run through a watch that records any error carrying a secret; the shape checks
  // (extensions, features, family) look at the module itself.
  const os = watchForSecrets(subject.os, harness, () => harness.secrets());
  const options = resolveOptions(subject.options);
  const check = (
    id: string,
    title: string,
    body: (fail: Fail) => Promise<void>,
    skip?: string,
  ): ConformanceCheck => makeCheck(`os/${id}`, title, harness, options, body, skip);
  const ctx = (phase: string, signal?: AbortSignal): OsContext =>
    harness.osContext({ phase, timeoutMs: options.operationTimeoutMs, signal });
  const target = { image: `${harness.image.name}-kit`, revision: harness.image.revision + 1 };

  const checks: ConformanceCheck[] = [
    check('post-load-stamp', 'postLoad writes a ready stamp for this computer', async (fail) => {
      await harness.reset();
      const result = await os.postLoad(ctx('postLoad'));
      const stamp = await readStamp(harness, fail);
      if (stamp.state !== 'ready')
        fail(`after postLoad the stamp's state is "${stamp.state}", expected "ready"`);
      if (stamp.computer !== harness.computer.name) {
        fail(
          `after postLoad the stamp names computer "${stamp.computer}", expected "${harness.computer.name}"`,
        );
      }
      if (stamp.image !== harness.image.name || stamp.revision !== harness.image.revision) {
        fail(`postLoad changed the stamp's image to ${stamp.image}@${stamp.revision}`);
      }
      if (result.stamp.state !== 'ready')
        fail('postLoad returned a stamp whose state is not "ready"');
    }),

    check(
      'post-load-idempotent',
      'postLoad is idempotent and keeps the machine reachable',
      async (fail) => {
        await harness.reset();
        const first = await os.postLoad(ctx('postLoad'));
        if (!first.changed) fail('the first postLoad on a fresh machine returned changed: false');
        const stampBytes = await harness.readFile(harness.stampPath);
        const second = await os.postLoad(ctx('postLoad'));
        if (second.changed)
          fail('a second postLoad returned changed: true; it must change nothing and say so');
        const again = await harness.readFile(harness.stampPath);
        if (stampBytes === undefined || again === undefined || !stampBytes.equals(again)) {
          fail('a second postLoad rewrote the stamp');
        }
        if (!(await os.isResponding(ctx('isResponding')))) {
          fail(
            'after postLoad the machine no longer answers (a host key changed without trustHostKeys?)',
          );
        }
      },
    ),

    check('reserve-sanitize', 'sanitize removes every account reserve created', async (fail) => {
      await harness.reset();
      await os.postLoad(ctx('postLoad'));
      const before = new Set(await harness.accounts());
      const users = harness.users();
      const result = await os.reserve(ctx('reserve'), { users });
      const during = await harness.accounts();
      for (const user of users) {
        if (!during.includes(user.login))
          fail(`after reserve the machine has no account ${user.login}`);
        if (!result.access.some((a) => a.login === user.login))
          fail(`reserve returned no access entry for ${user.login}`);
      }
      const stamp = await readStamp(harness, fail);
      if (!stamp.tainted) fail('after reserve the stamp is not marked tainted');
      await os.sanitize(ctx('sanitize'));
      const after = await harness.accounts();
      const left = after.filter((login) => !before.has(login));
      if (left.length > 0) fail(`after sanitize these accounts remain: ${left.join(', ')}`);
      await os.sanitize(ctx('sanitize'));
    }),

    check(
      'reserve-rejects-hostile-login',
      'reserve rejects a login with shell metacharacters and creates nothing',
      async (fail) => {
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const before = await harness.accounts();
        const [template] = harness.users();
        if (template === undefined) return fail('the harness supplies no users');
        const hostile = { ...template, login: "x'; rm -rf / #\n" };
        const error = await os.reserve(ctx('reserve'), { users: [hostile] }).then(
          () => fail('reserve accepted the login "x\'; rm -rf / #\\n"'),
          (e: unknown) => e,
        );
        assertKnownError(error, options, fail, 'reserve with a hostile login');
        if (!isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'))
          fail(
            `reserve with a hostile login threw ${(error as { code?: string }).code}, expected VLAB_ERR_CONFIG_INVALID`,
          );
        const after = await harness.accounts();
        if (after.length !== before.length)
          fail('reserve with a hostile login still changed the accounts');
      },
    ),

    check(
      'pre-capture-default-off',
      'preCapture with no end state generalizes and leaves the machine off',
      async (fail) => {
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const before = new Set(await harness.accounts());
        await os.reserve(ctx('reserve'), { users: harness.users() });
        const result = await os.preCapture(ctx('preCapture'), { stamp: target });
        const power = await harness.power();
        if (power !== 'off')
          fail(`preCapture() with no end state returned, but the machine's power is ${power}`);
        if (result.endState !== DEFAULT_END_STATE)
          fail(`preCapture() reported end state ${result.endState}, expected off`);
        await expectCapturedStamp(harness, target, fail);
        const left = (await harness.accounts()).filter((login) => !before.has(login));
        if (left.length > 0)
          fail(`the captured disk still holds reservation accounts: ${left.join(', ')}`);
        const identity = await harness.identity?.();
        if (identity !== undefined && identity.hostKeys.length > 0)
          fail(
            `the captured disk still holds host keys: ${identity.hostKeys.map((k) => k.split(' ')[0]).join(', ')}`,
          );
        if (identity?.machineId !== undefined) fail('the captured disk still holds a machine id');
      },
    ),
  ];

  for (const endState of os.capabilities.endStates) {
    checks.push(
      check(
        `pre-capture-${endState}`,
        `preCapture({ endState: '${endState}' }) leaves the machine ${{ off: 'off', on: 'running', reboot: 'rebooting' }[endState]}`,
        async (fail) => {
          await harness.reset();
          await os.postLoad(ctx('postLoad'));
          const startedAt = performance.now();
          const result = await os.preCapture(ctx('preCapture'), { endState, stamp: target });
          if (result.endState !== endState)
            fail(`preCapture({ endState: '${endState}' }) reported ${result.endState}`);
          await expectEndState(harness, endState, startedAt, options, fail);
          await expectCapturedStamp(harness, target, fail);
        },
      ),
    );
  }

  const undeclared = END_STATES.filter((state) => !os.capabilities.endStates.includes(state));
  if (!os.capabilities.endStates.includes('off')) {
    checks.push(
      check('declares-off', "capabilities.endStates includes 'off'", async (fail) => {
        fail(
          `capabilities.endStates is [${os.capabilities.endStates.join(', ')}]; 'off' is required`,
        );
      }),
    );
  }
  for (const endState of undeclared) {
    checks.push(
      check(
        `pre-capture-refuses-${endState}`,
        `preCapture refuses the undeclared end state '${endState}'`,
        async (fail) => {
          await harness.reset();
          await os.postLoad(ctx('postLoad'));
          const before = await machineState(harness);
          const error = await os.preCapture(ctx('preCapture'), { endState, stamp: target }).then(
            () =>
              fail(
                `preCapture accepted the end state '${endState}', which the module does not declare`,
              ),
            (e: unknown) => e,
          );
          if (!isVlabError(error, 'VLAB_ERR_CAPABILITY_MISSING')) {
            fail(
              `preCapture({ endState: '${endState}' }) threw ${(error as { code?: string }).code}, expected VLAB_ERR_CAPABILITY_MISSING`,
            );
          }
          if ((await harness.power()) !== 'on')
            fail('preCapture with a refused end state still powered the machine off');
          const changed = stateDifferences(before, await machineState(harness));
          if (changed.length > 0)
            fail(
              `preCapture refused the end state '${endState}' only after changing the machine: ${describeDifferences(changed)}`,
            );
        },
      ),
    );
  }

  checks.push(
    check(
      'wait-for-response-timeout',
      'waitForResponse on a machine that does not answer fails with VLAB_ERR_OP_TIMEOUT in time',
      async (fail) => {
        await harness.reset();
        const resume = await harness.stall();
        try {
          const timeoutMs = 300;
          const began = performance.now();
          const error = await os.waitForResponse(ctx('waitForResponse'), { timeoutMs }).then(
            () => fail('waitForResponse resolved although the machine does not answer'),
            (e: unknown) => e,
          );
          const took = performance.now() - began;
          if (!isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')) {
            fail(
              `waitForResponse threw ${(error as { code?: string }).code ?? String(error)}, expected VLAB_ERR_OP_TIMEOUT`,
            );
          }
          if (took > timeoutMs + options.abortBoundMs)
            fail(`waitForResponse took ${Math.round(took)} ms for a ${timeoutMs} ms timeout`);
          const responding = await os.isResponding(
            harness.osContext({ phase: 'isResponding', timeoutMs: 500 }),
          );
          if (responding) fail('isResponding said true for a machine that does not answer');
        } finally {
          await resume();
        }
      },
    ),
  );

  const abortable: {
    name: string;
    prepare: 'fresh' | 'loaded';
    run: (c: OsContext) => Promise<unknown>;
  }[] = [
    { name: 'postLoad', prepare: 'fresh', run: (c) => os.postLoad(c) },
    { name: 'reserve', prepare: 'loaded', run: (c) => os.reserve(c, { users: harness.users() }) },
    { name: 'sanitize', prepare: 'loaded', run: (c) => os.sanitize(c) },
    { name: 'preCapture', prepare: 'loaded', run: (c) => os.preCapture(c, { stamp: target }) },
    {
      name: 'waitForResponse',
      prepare: 'fresh',
      run: (c) => os.waitForResponse(c, { timeoutMs: options.operationTimeoutMs }),
    },
  ];
  for (const op of abortable) {
    checks.push(
      check(
        `abort-${op.name}`,
        `${op.name} stops within ${options.abortBoundMs} ms of its AbortSignal`,
        async (fail) => {
          await harness.reset();
          if (op.prepare === 'loaded') await os.postLoad(ctx('postLoad'));
          await expectAbortHonoured(harness, options, fail, op.name, (signal) =>
            op.run(ctx(op.name, signal)),
          );
        },
      ),
    );
  }

  const featureKit = { os, harness, options, check, ctx, target };
  if (os.capabilities.features.includes('userConnected'))
    checks.push(userConnectedCheck(featureKit));
  if (os.capabilities.features.includes('identityDisk')) checks.push(identityDiskCheck(featureKit));
  checks.push(...osStateChecks(featureKit));
  checks.push(...osPowerChecks(featureKit));

  checks.push(
    check(
      'no-secret-in-logs',
      'no secret reaches a log line over a whole reservation',
      async (fail) => {
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        await os.reserve(ctx('reserve'), { users: harness.users() });
        await os.sanitize(ctx('sanitize'));
        await os.preCapture(ctx('preCapture'), { stamp: target });
        if (harness.logs().length === 0)
          fail('the module wrote no log line at all; the kit cannot check it for secrets');
      },
    ),
    check(
      'declared-extensions',
      'every operation beyond the contract is declared in extensions',
      async (fail) => {
        expectDeclaredExtensions(subject.os, 'os', fail);
      },
    ),
    check(
      'declares-features',
      'every declared feature is known and comes with its operation, and every optional operation is declared',
      async (fail) => {
        expectFeaturesMatchOperations(subject.os, 'os', fail);
      },
    ),
    check(
      'declares-family',
      "family is a lowercase OS family name, and shell (when declared) is 'posix' or 'powershell'",
      async (fail) => {
        expectWellFormedFamily(subject.os, fail);
      },
    ),
    // Last: it closes the module; run the checks in this order (describeOsModuleConformance does).
    check(
      'close',
      'close, at the end of the run, resolves; a second call does not throw',
      async (fail) => {
        await expectCloseIdempotent(os, options, fail);
      },
    ),
  );
  return checks;
}

/** Stalls the machine, starts the operation, aborts it after 50 ms, and checks it stopped in time with a coded error. */
export async function expectAbortHonoured(
  harness: ConformanceHarness,
  options: ResolvedOptions,
  fail: Fail,
  name: string,
  start: (signal: AbortSignal) => Promise<unknown>,
): Promise<void> {
  const resume = await harness.stall();
  const reason = new Error('cancelled by the conformance kit');
  let abandoned: Promise<void> | undefined;
  try {
    const outcome = await abortAndMeasure(start, 50, options.abortBoundMs, reason);
    abandoned = outcome.work;
    if (!outcome.settled)
      fail(`${name} did not stop within ${options.abortBoundMs} ms of its AbortSignal firing`);
    if (!outcome.rejected) return;
    assertKnownError(outcome.error, options, fail, `${name} after abort`);
    const error = outcome.error as {
      code: string;
      cause?: unknown;
      details?: { reason?: unknown };
    };
    if (error.code !== 'VLAB_ERR_OP_CANCELLED')
      fail(`${name} after abort threw ${error.code}, expected VLAB_ERR_OP_CANCELLED`);
    if (error.cause !== reason && error.details?.reason !== reason) {
      fail(`${name} after abort threw VLAB_ERR_OP_CANCELLED without the signal's reason`);
    }
  } finally {
    await resume();
    // An operation that ignored the abort goes on once the machine answers again; let it end
    // (for a bounded time) so that it cannot act on the machine during the next check.
    if (abandoned !== undefined) {
      // Not unref'd: the abandoned operation may hold nothing that keeps the process alive.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        abandoned,
        new Promise((resolve) => {
          timer = setTimeout(resolve, options.operationTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
  }
}

async function readStamp(harness: ConformanceHarness, fail: Fail): Promise<ImageStamp> {
  const bytes = await harness.readFile(harness.stampPath);
  if (bytes === undefined) fail(`the machine has no stamp at ${harness.stampPath}`);
  try {
    return parseStamp(bytes.toString('utf8'), harness.computer.name);
  } catch (error) {
    return fail(`the stamp at ${harness.stampPath} is invalid: ${(error as Error).message}`);
  }
}

async function expectCapturedStamp(
  harness: ConformanceHarness,
  target: { image: string; revision: number },
  fail: Fail,
): Promise<void> {
  const stamp = await readStamp(harness, fail);
  if (stamp.state !== 'captured')
    fail(`after preCapture the stamp's state is "${stamp.state}", expected "captured"`);
  if (stamp.image !== target.image || stamp.revision !== target.revision) {
    fail(
      `after preCapture the stamp names ${stamp.image}@${stamp.revision}, expected ${target.image}@${target.revision}`,
    );
  }
  if (stamp.tainted) fail('after preCapture the stamp is still marked tainted');
}

async function expectEndState(
  harness: ConformanceHarness,
  endState: EndState,
  since: number,
  options: ResolvedOptions,
  fail: Fail,
): Promise<void> {
  const power = await harness.power();
  const wentDown = harness.powerEvents().some((e) => e.state === 'off' && e.at >= since);
  if (endState === 'off' && power !== 'off')
    fail(`preCapture({ endState: 'off' }) returned with the machine ${power}`);
  if (endState === 'on' && (power !== 'on' || wentDown)) {
    fail(
      `preCapture({ endState: 'on' }) returned with the machine ${wentDown ? 'having gone down' : power}`,
    );
  }
  if (endState === 'reboot') {
    if (!wentDown) fail("preCapture({ endState: 'reboot' }) returned before the machine went down");
    // A reboot, not a power-off: the machine comes back by itself.
    const until = performance.now() + options.operationTimeoutMs;
    while ((await harness.power()) !== 'on') {
      if (performance.now() > until)
        fail(
          "after preCapture({ endState: 'reboot' }) the machine stayed off: it powered off instead of rebooting",
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
