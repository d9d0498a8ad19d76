import type { ProvisionerContext } from '../context.js';
import { coreError } from '../errors/core-errors.js';
import { isVlabError } from '../errors/vlab-error.js';
import { assertKnownError, type ConformanceCheck } from './conformance-check.js';
import { spyOnOsModule } from './os-module-spy.js';
import {
  codeOf,
  expectNothingNew,
  type Fail,
  observeProgress,
  type ProvisionerCheckKit,
  refName,
  type SeenReport,
  storeListing,
  tripwire,
} from './provisioner-check-kit.js';

/**
 * The capture path where it matters (kit 2): where the disk is read, what follows a failed
 * `preCapture`, an abort at every phase of a capture and of a load, and a load that waits for the
 * OS before `postLoad`.
 */
export function capturePathChecks(kit: ProvisionerCheckKit): readonly ConformanceCheck[] {
  const noCapture = kit.features.includes('capture')
    ? undefined
    : 'the provisioner does not declare the capture feature';
  return [
    loadWaitsUntilAnswering(kit),
    abortPhases(kit, 'load'),
    captureReadsMachineOff(kit, noCapture),
    preCaptureFailure(kit, noCapture),
    abortPhases(kit, 'capture', noCapture),
  ];
}

/** `provisioner/capture-reads-machine-off`. */
function captureReadsMachineOff(kit: ProvisionerCheckKit, skip?: string): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  const endState = provisioner.capabilities.captureEndState;
  return kit.check(
    'capture-reads-machine-off',
    endState === 'on'
      ? "capture reads the disk (captureEndState 'on': the running guest may be read)"
      : `capture reads the disk with the power off or in a deploy environment, never the running guest (captureEndState '${endState}')`,
    async (fail) => {
      await kit.loaded();
      await provisioner.capture(ctx(os, 'capture'), kit.newCapture('image'));
      const reads = harness.diskReads();
      if (reads.length === 0) fail('capture never read the disk');
      if (endState === 'on') return;
      const live = reads.find((read) => read.environment === 'os');
      if (live !== undefined)
        fail(
          `capture read the disk of the running guest (power ${live.power ?? 'on'}, environment "os"): with captureEndState "${endState}" it must read with the power off or in a deploy environment, never the running guest`,
        );
    },
    skip,
  );
}

/** `provisioner/pre-capture-failure`. */
function preCaptureFailure(kit: ProvisionerCheckKit, skip?: string): ConformanceCheck {
  const { provisioner, os, harness, ctx, options } = kit;
  return kit.check(
    'pre-capture-failure',
    'when preCapture fails, capture fails too: no second preCapture, no disk read, nothing published or left in the store',
    async (fail) => {
      await kit.loaded();
      const before = await storeListing(kit);
      const spy = spyOnOsModule(os, {
        failOnce: {
          operation: 'preCapture',
          error: () =>
            coreError(
              'VLAB_ERR_COMMAND_FAILED',
              'preCapture failed (injected by the conformance kit)',
              {
                computer: harness.computer.name,
              },
            ),
        },
      });
      const args = kit.newCapture('image');
      const outcome = await provisioner.capture(ctx(spy.module, 'capture'), args).then(
        () => ({ resolved: true as const }),
        (error: unknown) => ({ resolved: false as const, error }),
      );
      const preCaptures = spy.calls.filter((call) => call.operation === 'preCapture');
      if (preCaptures.length === 0) fail('capture never called preCapture');
      if (preCaptures.length > 1)
        fail(
          `after preCapture failed, capture called it again (${preCaptures.length} calls in all): preCapture runs exactly once per capture, and a half-generalized machine is not generalized twice blindly`,
        );
      const when = 'after preCapture failed';
      await expectNothingNew(kit, before, when, fail);
      if (
        await provisioner.imageExists(kit.storeCtx(), {
          name: args.image,
          revision: args.newRevision,
        })
      )
        fail(
          `${when}, imageExists says ${refName({ name: args.image, revision: args.newRevision })} exists`,
        );
      if (harness.diskReads().length > 0) fail(`${when}, capture read the disk anyway`);
      if (outcome.resolved)
        return fail('capture resolved although preCapture failed; it must fail');
      assertKnownError(outcome.error, options, fail, 'capture after a failed preCapture');
    },
    skip,
  );
}

/** `provisioner/load-waits-until-answering`. */
function loadWaitsUntilAnswering(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'load-waits-until-answering',
    'load (and a checkpoint) calls postLoad only once the booted OS answers',
    async (fail) => {
      const answering = harness.answering;
      if (answering === undefined) return;
      let early: string | undefined;
      const spy = spyOnOsModule(os, {
        async onCall(call) {
          if (call.operation === 'postLoad' && !(await answering.call(harness)))
            early ??= 'postLoad';
          return undefined;
        },
      });
      const watch = async (what: 'load' | 'a checkpoint', run: () => Promise<unknown>) => {
        early = undefined;
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        if (early !== undefined)
          fail(
            `${what} called postLoad before the machine's OS answered: after booting, wait until it answers (ctx.communicator.waitUntilReachable), then call postLoad`,
          );
        if (error !== undefined) throw error;
      };
      await kit.seeded();
      await harness.reset();
      await watch('load', () =>
        provisioner.load(ctx(spy.module, 'load'), {
          image: harness.image.name,
          revision: harness.image.revision,
        }),
      );
      if (!kit.features.includes('checkpoint')) return;
      await kit.loaded();
      await watch('a checkpoint', () =>
        provisioner.capture(ctx(spy.module, 'capture'), kit.newCapture('checkpoint')),
      );
    },
    harness.answering === undefined
      ? 'the harness has no answering(), so the kit cannot see when the OS starts answering'
      : undefined,
  );
}

/** One point at which the abort checks abort an operation. */
interface AbortPoint {
  readonly label: string;
  /** Abort before the call. */
  readonly before?: true;
  /** Abort when the provisioner calls this OS operation, before it runs. */
  readonly call?: string;
  /** Abort when this OS operation first uses its communicator or asks the power probe. */
  readonly during?: { readonly operation: string; readonly on: 'command' | 'power' };
  /** Abort at this progress report (0-based). */
  readonly report?: number;
  /** The last progress report of a whole run: the operation may then resolve. */
  readonly last?: true;
}

function describeReport(report: SeenReport, index: number, count: number): string {
  const { phase, update } = report;
  const nth = `its progress report ${index + 1} of ${count}`;
  if (update.unit === 'steps' && update.message !== undefined)
    return `after step "${update.message}" (${nth})`;
  const total = update.total === undefined ? '' : ` of ${update.total}`;
  return `during ${phase} (${nth}: ${update.done}${total} ${update.unit ?? 'bytes'})`;
}

/**
 * `provisioner/abort-capture-phases` and `provisioner/abort-load-phases`: one run of the operation
 * shows what the provisioner reports; then the operation runs once per point — before the call,
 * when it calls the OS operation, during it, and at each progress report in turn (each step
 * `runSteps` finishes reports its name) — and is aborted at that event, never after a time.
 */
function abortPhases(
  kit: ProvisionerCheckKit,
  kind: 'capture' | 'load',
  skip?: string,
): ConformanceCheck {
  const { provisioner, os, harness, ctx, options } = kit;
  const osOperation = kind === 'capture' ? 'preCapture' : 'postLoad';
  const prepare = async (): Promise<void> => {
    if (kind === 'capture') await kit.loaded();
    else {
      await kit.seeded();
      await harness.reset();
    }
  };
  const start = (c: ProvisionerContext) => {
    if (kind === 'load')
      return {
        ref: undefined,
        work: provisioner.load(c, { image: harness.image.name, revision: harness.image.revision }),
      };
    const args = kit.newCapture('image');
    return {
      ref: { name: args.image, revision: args.newRevision },
      work: provisioner.capture(c, args),
    };
  };
  return kit.check(
    `abort-${kind}-phases`,
    `${kind} aborted at each of its phases (before ${osOperation}, during it, at each reported step) stops within ${options.abortBoundMs} ms with VLAB_ERR_OP_CANCELLED${kind === 'capture' ? ', publishing nothing and leaving no temporary image' : ''}`,
    async (fail) => {
      // The run that shows the phases.
      await prepare();
      const reports: SeenReport[] = [];
      await start(observeProgress(ctx(os, kind), (report) => reports.push(report))).work;
      const points: AbortPoint[] = [
        { label: 'with its signal aborted before the call', before: true },
        { label: `when it called ${osOperation}`, call: osOperation },
        {
          label: `during ${osOperation} (at its first command)`,
          during: { operation: osOperation, on: 'command' },
        },
        ...(kind === 'capture'
          ? [
              {
                label: 'during preCapture (while it waited for the power to go off)',
                during: { operation: osOperation, on: 'power' as const },
              },
            ]
          : []),
        ...reports.map(
          (report, index): AbortPoint => ({
            label: describeReport(report, index, reports.length),
            report: index,
            ...(index === reports.length - 1 ? { last: true as const } : {}),
          }),
        ),
      ];
      for (const point of points) await abortAt(kit, kind, point, prepare, start, fail);
    },
    skip,
  );
}

async function abortAt(
  kit: ProvisionerCheckKit,
  kind: 'capture' | 'load',
  point: AbortPoint,
  prepare: () => Promise<void>,
  start: (c: ProvisionerContext) => {
    readonly ref: { readonly name: string; readonly revision: number } | undefined;
    readonly work: Promise<unknown>;
  },
  fail: Fail,
): Promise<void> {
  const { os, ctx, options } = kit;
  await prepare();
  const before = await storeListing(kit);
  const controller = new AbortController();
  const reason = new Error('cancelled by the conformance kit');
  let onAbort: () => void = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
  });
  let abortedAt: number | undefined;
  const abort = (): void => {
    if (abortedAt !== undefined) return;
    abortedAt = performance.now();
    controller.abort(reason);
    onAbort();
  };
  if (point.before === true) abort();
  const spy = spyOnOsModule(os, {
    onCall(call, c) {
      if (call.operation === point.call) abort();
      if (call.operation === point.during?.operation) return tripwire(c, point.during.on, abort);
      return undefined;
    },
  });
  let seen = 0;
  const observed = observeProgress(ctx(spy.module, kind, controller.signal), () => {
    if (seen === point.report) abort();
    seen += 1;
  });
  const { ref, work } = start(observed);
  let outcome: { rejected: boolean; error?: unknown } | undefined;
  const settled = work.then(
    () => {
      outcome = { rejected: false };
    },
    (error: unknown) => {
      outcome = { rejected: true, error };
    },
  );
  try {
    await Promise.race([settled, aborted]);
    // The event never came (the provisioner took another path this time): nothing to judge.
    if (abortedAt === undefined) {
      await settled;
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const inTime = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), options.abortBoundMs);
      }),
    ]);
    clearTimeout(timer);
    const what = `${kind} aborted ${point.label}`;
    if (!inTime || outcome === undefined)
      fail(`${what} did not stop within ${options.abortBoundMs} ms of its AbortSignal firing`);
    if (outcome.rejected) {
      assertKnownError(outcome.error, options, fail, what);
      const error = outcome.error as { cause?: unknown; details?: { reason?: unknown } };
      if (!isVlabError(outcome.error, 'VLAB_ERR_OP_CANCELLED'))
        fail(`${what} threw ${codeOf(outcome.error)}, expected VLAB_ERR_OP_CANCELLED`);
      if (error.cause !== reason && error.details?.reason !== reason)
        fail(`${what} threw VLAB_ERR_OP_CANCELLED without the signal's reason`);
    } else if (point.last !== true) {
      fail(
        `${what} went on and resolved; once its signal fires it must stop with VLAB_ERR_OP_CANCELLED`,
      );
    }
    const published = !outcome.rejected ? ref : undefined;
    await expectNothingNew(kit, before, what, fail, published);
    if (
      ref !== undefined &&
      outcome.rejected &&
      (await kit.provisioner.imageExists(kit.storeCtx(), ref))
    )
      fail(`${what} was cancelled, yet imageExists says ${refName(ref)} exists`);
  } finally {
    // An operation that ignored the abort may still be running: let it end (bounded) so that it
    // cannot act on the machine during the next run.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      settled,
      new Promise((resolve) => {
        timer = setTimeout(resolve, options.operationTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
