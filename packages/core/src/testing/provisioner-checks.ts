import type { ProvisionerContext } from '../context.js';
import { END_STATES } from '../end-state.js';
import { isVlabError } from '../errors/vlab-error.js';
import type { OsModule, PreCaptureArgs } from '../os-module.js';
import type {
  CaptureArgs,
  ImageRevisionRef,
  ImageSource,
  Provisioner,
  StoredImage,
} from '../provisioner.js';
import { parseStamp } from '../stamp.js';
import { capturePathChecks } from './capture-path-checks.js';
import {
  type ConformanceCheck,
  type ConformanceOptions,
  expectCloseIdempotent,
  expectDeclaredExtensions,
  expectFeaturesMatchOperations,
  expectWellFormedOsFamilies,
  isOsFeature,
  makeCheck,
  resolveOptions,
} from './conformance-check.js';
import type { ConformanceHarness } from './harness.js';
import { osContractGuard } from './os-contract-guard.js';
import { expectAbortHonoured } from './os-module-checks.js';
import { spyOnOsModule } from './os-module-spy.js';
import { provisionerOperationChecks } from './provisioner-operation-checks.js';
import { watchForSecrets } from './secret-search.js';

/** A provisioner, the OS module of its image, and the harness of the machine. @public */
export interface ProvisionerSubject {
  /** The provisioner under test. */
  readonly provisioner: Provisioner;
  /** The OS module of the harness's image; the kit passes it (spied on) as `ctx.os`. */
  readonly os: OsModule;
  /** The harness of the machine it is checked on. */
  readonly harness: ConformanceHarness;
  /** The kit's bounds and the provisioner's own error codes; see {@link ConformanceOptions} for defaults. */
  readonly options?: ConformanceOptions;
}

type Fail = (message: string) => never;

let captureSerial = 0;

/**
 * The provisioning module contract, as runnable checks: `capture` calls `preCapture` exactly once,
 * before any disk read, with a valid end state and the stamp; it refuses an existing revision
 * before touching the machine; `load` ends with `postLoad`; both stop within the abort bound.
 *
 * @remarks
 * The capture path (kit 2): `provisioner/capture-reads-machine-off` fails a disk read of the
 * running guest (a `HarnessDiskRead` whose `environment` is `os`) unless `captureEndState` is
 * `on`; `provisioner/pre-capture-failure` makes `preCapture` fail once and fails a second call, a
 * disk read, or anything new in `listImages` or the harness's `storeEntries` afterwards;
 * `provisioner/abort-capture-phases` and `provisioner/abort-load-phases` abort the operation at
 * each of its phases in turn — before the call, when and while it calls `preCapture` (`postLoad`),
 * and at each progress report it makes (`runSteps` reports each step's name as it finishes) —
 * deciding the point by that event, never by a timer, and require `VLAB_ERR_OP_CANCELLED` within
 * the abort bound with nothing published or left behind; `provisioner/load-waits-until-answering`
 * fails a `postLoad` called before the OS answers (harness `answering`). Every `ctx.os` a
 * provisioner gets is wrapped so that calling anything but the OS operations the contract lets a
 * provisioner call (`postLoad`, `preCapture`, `isResponding`, `waitForResponse`, `shutdown`,
 * `reboot`, `readStamp`) fails whatever check is running, naming it: a retired `captureStart`, an
 * OS module's extension, the manager's `reserve` or `close`.
 *
 * Every operation has a check (kit 2): `provisioner/power-off`, `power-on` (confirmed by the
 * harness when they return, idempotent), `power-status` (what the harness sees, also while the
 * OS still boots), `power-cycle` (a new boot), `node-status-situations` (each verdict with its
 * `power` and `responding`, in situations the kit sets up: just deployed, loaded, reserved, off,
 * booting), `image-size` (the logical size; `VLAB_ERR_IMAGE_NOT_FOUND` for a missing revision),
 * `list-images` (no temporary entries) and `delete-image-leaves-nothing`. A check the provisioner's
 * features or the harness cannot serve is returned with `skip` set, never dropped.
 *
 * The image store: when the provisioner declares `importImage` and the harness has
 * `imageSource`, every check that loads first seeds the provisioner's own store with the
 * harness's image through `importImage` (unless the revision is already there), and
 * `provisioner/import-image` checks the import itself; otherwise the harness's image must already
 * be in the store. Contract 1.1 checks run where declared: `provisioner/release` (feature
 * `release`), `provisioner/declared-extensions` always, and so do `provisioner/node-status`
 * (`ready` after a load; `reload` once `os.reserve` tainted the stamp: a tainted computer is
 * always reloaded before reuse) and `provisioner/declares-os-families` (`'any'` or a non-empty
 * array of lowercase family names) and `provisioner/declares-features` (features known and matched
 * by their operations, `requiredOsFeatures` well-formed). The last check, `provisioner/close`,
 * deletes every revision the kit captured, imported or seeded (through `deleteImage`, when
 * declared; otherwise they stay and the run's image names start with `kit-`), then calls the
 * optional `close` twice; it must run after every other check of the instance, as
 * `describeProvisionerConformance` runs them.
 * @public
 */
export function provisionerChecks(subject: ProvisionerSubject): readonly ConformanceCheck[] {
  const { harness } = subject;
  // Operations run through a watch that records any error carrying a secret (a BMC password in a
  // message, say); the shape checks look at the provisioner itself.
  const secrets = () => harness.secrets();
  const provisioner = watchForSecrets(subject.provisioner, harness, secrets);
  const os = watchForSecrets(subject.os, harness, secrets);
  const options = resolveOptions(subject.options);
  // Every ctx.os a provisioner gets speaks only the contract: a call of anything else fails the check.
  const guard = osContractGuard();
  const check = (
    id: string,
    title: string,
    body: (fail: Fail) => Promise<void>,
    skip?: string,
  ): ConformanceCheck =>
    makeCheck(`provisioner/${id}`, title, harness, options, guard.around(body), skip);
  const ctx = (module: OsModule, phase: string, signal?: AbortSignal): ProvisionerContext =>
    harness.provisionerContext(guard.wrap(module, phase), {
      phase,
      timeoutMs: options.operationTimeoutMs,
      signal,
    });
  const storeCtx = () =>
    harness.operationContext({ phase: 'store', timeoutMs: options.operationTimeoutMs });
  const loaded = async (): Promise<void> => {
    await harness.reset();
    await os.postLoad(
      harness.osContext({ phase: 'postLoad', timeoutMs: options.operationTimeoutMs }),
    );
  };
  // Every revision the kit wrote (or may have written), to delete at the end.
  const written: ImageRevisionRef[] = [];
  const kitImageName = (): string => {
    captureSerial += 1;
    return `kit-${process.pid}-${Date.now()}-${captureSerial}`;
  };
  const newCapture = (mode: CaptureArgs['mode']): CaptureArgs => {
    const args = { image: kitImageName(), newRevision: 1, mode };
    written.push({ name: args.image, revision: args.newRevision });
    return args;
  };
  const features = provisioner.capabilities.features;
  const imports = features.includes('importImage') && harness.imageSource !== undefined;
  const importImage = (image: string, revision: number, source: ImageSource) => {
    const run = provisioner.importImage;
    if (run === undefined)
      throw new Error('the provisioner declares importImage but has no such operation');
    written.push({ name: image, revision });
    return run.call(provisioner, storeCtx(), { image, revision, source });
  };
  /** Puts the harness's image into the provisioner's store through importImage, when it can. */
  const seeded = async (): Promise<void> => {
    if (!imports || harness.imageSource === undefined) return;
    const { name, revision } = harness.image;
    if (await provisioner.imageExists(storeCtx(), { name, revision })) return;
    await importImage(name, revision, await harness.imageSource());
  };

  const checks: ConformanceCheck[] = [
    check(
      'load-ends-with-post-load',
      'load deploys the image and ends by calling postLoad once',
      async (fail) => {
        await seeded();
        await harness.reset();
        const spy = spyOnOsModule(os);
        const result = await provisioner.load(ctx(spy.module, 'load'), {
          image: harness.image.name,
          revision: harness.image.revision,
        });
        const postLoads = spy.calls.filter((c) => c.operation === 'postLoad');
        if (postLoads.length !== 1)
          fail(`load called postLoad ${postLoads.length} times, expected once`);
        if (spy.calls.at(-1)?.operation !== 'postLoad')
          fail(`load's last OS call was ${spy.calls.at(-1)?.operation}, expected postLoad`);
        if ((await harness.power()) !== 'on') fail('after load the machine is not on');
        const bytes = await harness.readFile(harness.stampPath);
        const stamp = bytes === undefined ? undefined : parseStamp(bytes.toString('utf8'));
        if (stamp?.state !== 'ready') fail('after load the stamp on the machine is not "ready"');
        if (result.stamp.state !== 'ready') fail('load returned a stamp that is not "ready"');
      },
    ),

    check(
      'load-refuses-missing-image',
      'load of a missing revision fails with VLAB_ERR_IMAGE_NOT_FOUND before touching the machine',
      async (fail) => {
        await harness.reset();
        const eventsBefore = harness.powerEvents().length;
        const error = await provisioner
          .load(ctx(os, 'load'), { image: 'kit-no-such-image', revision: 1 })
          .then(
            () => fail('load of a missing image resolved'),
            (e: unknown) => e,
          );
        if (!isVlabError(error, 'VLAB_ERR_IMAGE_NOT_FOUND'))
          fail(
            `load of a missing image threw ${(error as { code?: string }).code}, expected VLAB_ERR_IMAGE_NOT_FOUND`,
          );
        if (harness.powerEvents().length !== eventsBefore)
          fail("load of a missing image changed the machine's power");
      },
    ),

    check(
      'node-status',
      'nodeStatus says ready (power on, responding) after load, and reload once reserve tainted the stamp',
      async (fail) => {
        await seeded();
        await harness.reset();
        await provisioner.load(ctx(os, 'load'), {
          image: harness.image.name,
          revision: harness.image.revision,
        });
        const loadedStatus = await provisioner.nodeStatus(ctx(os, 'nodeStatus'));
        if (loadedStatus.power !== 'on' || loadedStatus.responding !== true)
          fail(
            `after load nodeStatus gave power "${String(loadedStatus.power)}" and responding ${String(loadedStatus.responding)}, expected "on" and true`,
          );
        if (loadedStatus.verdict !== 'ready')
          fail(
            `after load nodeStatus gave the verdict "${String(loadedStatus.verdict)}" (${loadedStatus.reason ?? 'no reason'}), expected "ready"`,
          );
        const osCtx = (phase: string) =>
          harness.osContext({ phase, timeoutMs: options.operationTimeoutMs });
        await os.reserve(osCtx('reserve'), { users: harness.users() });
        try {
          const tainted = await provisioner.nodeStatus(ctx(os, 'nodeStatus'));
          if (tainted.stamp?.tainted !== true)
            fail('after reserve nodeStatus reported a stamp that is not tainted');
          if (tainted.verdict !== 'reload')
            fail(
              `after reserve (stamp tainted) nodeStatus gave the verdict "${String(tainted.verdict)}"; a tainted computer is always reloaded before reuse`,
            );
          if (tainted.power !== 'on' || tainted.responding !== true)
            fail('after reserve nodeStatus no longer reports power "on" and responding true');
        } finally {
          await os.sanitize(osCtx('sanitize'));
        }
      },
    ),

    check(
      'abort-load',
      `load stops within ${options.abortBoundMs} ms of its AbortSignal`,
      async (fail) => {
        await seeded();
        await harness.reset();
        await expectAbortHonoured(harness, options, fail, 'load', (signal) =>
          provisioner.load(ctx(os, 'load', signal), {
            image: harness.image.name,
            revision: harness.image.revision,
          }),
        );
      },
    ),
  ];

  if (features.includes('capture')) {
    checks.push(
      check(
        'capture-calls-pre-capture-once',
        'capture calls preCapture exactly once, before any disk read, with a valid end state and the stamp',
        async (fail) => {
          await loaded();
          const spy = spyOnOsModule(os);
          const args = newCapture('image');
          const result = await provisioner.capture(ctx(spy.module, 'capture'), args);
          const preCaptures = spy.calls.filter((c) => c.operation === 'preCapture');
          if (preCaptures.length !== 1)
            fail(`capture called preCapture ${preCaptures.length} times, expected exactly once`);
          const call = preCaptures[0] as (typeof preCaptures)[number];
          const pre = call.args as PreCaptureArgs | undefined;
          const endState = pre?.endState ?? 'off';
          if (!END_STATES.includes(endState))
            fail(`capture passed preCapture the end state "${String(endState)}"`);
          if (endState !== provisioner.capabilities.captureEndState) {
            fail(
              `capture asked preCapture for "${endState}" but declares captureEndState "${provisioner.capabilities.captureEndState}"`,
            );
          }
          if (pre?.stamp?.image !== args.image || pre.stamp.revision !== args.newRevision) {
            fail(
              `capture passed preCapture the stamp ${JSON.stringify(pre?.stamp)}, expected ${args.image}@${args.newRevision}`,
            );
          }
          const reads = harness.diskReads();
          if (reads.length === 0) fail('capture never read the disk');
          const early = reads.find((r) => call.endedAt === undefined || r.at < call.endedAt);
          if (early !== undefined) {
            fail(
              `the disk was read ${Math.round((call.endedAt ?? early.at) - early.at)} ms before preCapture returned`,
            );
          }
          if (result.image !== args.image || result.revision !== args.newRevision)
            fail('capture returned another image or revision');
          if (!/^[0-9a-f]{64}$/.test(result.sha256))
            fail(`capture returned sha256 "${result.sha256}"`);
          if ((await harness.power()) !== 'off')
            fail('after capture in mode "image" the machine is not off');
          const query = { name: args.image, revision: args.newRevision };
          if (!(await provisioner.imageExists(storeCtx(), query)))
            fail('after capture imageExists says the revision is absent');
          const size = await provisioner.imageSize(storeCtx(), query);
          if (size !== result.sizeBytes)
            fail(`imageSize says ${size} bytes, capture said ${result.sizeBytes}`);
          const listed = (await provisioner.listImages(storeCtx())).find(
            (i) => i.name === args.image && i.revision === args.newRevision,
          );
          if (listed === undefined) return fail('listImages does not list the capture');
          expectListedAsCaptured(listed, result, fail);
        },
      ),

      check(
        'capture-refuses-existing',
        'capture of an existing revision fails with VLAB_ERR_IMAGE_EXISTS before touching the machine',
        async (fail) => {
          await loaded();
          const args = newCapture('image');
          await provisioner.capture(ctx(os, 'capture'), args);
          await loaded();
          const spy = spyOnOsModule(os);
          const error = await provisioner.capture(ctx(spy.module, 'capture'), args).then(
            () => fail('a second capture of the same revision resolved'),
            (e: unknown) => e,
          );
          if (!isVlabError(error, 'VLAB_ERR_IMAGE_EXISTS'))
            fail(
              `a second capture threw ${(error as { code?: string }).code}, expected VLAB_ERR_IMAGE_EXISTS`,
            );
          if (spy.calls.some((c) => c.operation === 'preCapture'))
            fail('a refused capture still called preCapture');
          if (harness.diskReads().length !== 0) fail('a refused capture still read the disk');
        },
      ),

      check(
        'abort-capture',
        `capture stops within ${options.abortBoundMs} ms of its AbortSignal`,
        async (fail) => {
          await loaded();
          await expectAbortHonoured(harness, options, fail, 'capture', (signal) =>
            provisioner.capture(ctx(os, 'capture', signal), newCapture('image')),
          );
        },
      ),
    );
  }

  if (features.includes('checkpoint')) {
    checks.push(
      check(
        'checkpoint',
        'capture in mode checkpoint saves, boots again and ends with postLoad',
        async (fail) => {
          await loaded();
          const spy = spyOnOsModule(os);
          await provisioner.capture(ctx(spy.module, 'capture'), newCapture('checkpoint'));
          const ops = spy.calls.map((c) => c.operation);
          const preCaptures = ops.filter((o) => o === 'preCapture').length;
          if (preCaptures !== 1) {
            fail(`checkpoint called preCapture ${preCaptures} times, expected exactly once`);
          }
          if (ops.at(-1) !== 'postLoad')
            fail(`checkpoint's last OS call was ${ops.at(-1)}, expected postLoad`);
          if ((await harness.power()) !== 'on') fail('after a checkpoint the machine is not on');
        },
      ),
    );
  }

  if (imports && harness.imageSource !== undefined) {
    const imageSource = harness.imageSource.bind(harness);
    checks.push(
      check(
        'import-image',
        'importImage stores a revision with its sha256, refuses an existing one and a checksum mismatch, leaving nothing behind',
        async (fail) => {
          const source = await imageSource();
          const image = kitImageName();
          const stored = await importImage(image, 1, source);
          if (stored.name !== image || stored.revision !== 1)
            fail(`importImage returned ${stored.name}@${stored.revision}, expected ${image}@1`);
          if (stored.sha256 !== source.sha256)
            fail(`importImage returned sha256 "${stored.sha256}", expected "${source.sha256}"`);
          if (stored.osFamily !== source.osFamily)
            fail(
              `importImage returned osFamily "${stored.osFamily}", expected "${source.osFamily}"`,
            );
          const ref = { name: image, revision: 1 };
          if (!(await provisioner.imageExists(storeCtx(), ref)))
            fail('after importImage imageExists says the revision is absent');
          const size = await provisioner.imageSize(storeCtx(), ref);
          if (size !== stored.sizeBytes)
            fail(`imageSize says ${size} bytes, importImage said ${stored.sizeBytes}`);
          const listed = (await provisioner.listImages(storeCtx())).find(
            (i) => i.name === image && i.revision === 1,
          );
          if (listed?.sha256 !== source.sha256 || listed.osFamily !== source.osFamily)
            fail('listImages does not list the import with its sha256 and osFamily');

          const again = await importImage(image, 1, await imageSource()).then(
            () => fail('a second importImage of the same revision resolved'),
            (e: unknown) => e,
          );
          if (!isVlabError(again, 'VLAB_ERR_IMAGE_EXISTS'))
            fail(
              `a second importImage threw ${(again as { code?: string }).code}, expected VLAB_ERR_IMAGE_EXISTS`,
            );

          const corrupt = kitImageName();
          const wrong = { ...(await imageSource()), sha256: '0'.repeat(64) };
          const mismatch = await importImage(corrupt, 1, wrong).then(
            () => fail('importImage with a wrong sha256 resolved'),
            (e: unknown) => e,
          );
          if (!isVlabError(mismatch, 'VLAB_ERR_IMAGE_CORRUPT'))
            fail(
              `importImage with a wrong sha256 threw ${(mismatch as { code?: string }).code}, expected VLAB_ERR_IMAGE_CORRUPT`,
            );
          if (await provisioner.imageExists(storeCtx(), { name: corrupt }))
            fail('after a refused importImage (wrong sha256) the store still has the image');
          const left = (await provisioner.listImages(storeCtx())).filter((i) =>
            i.name.includes(corrupt),
          );
          if (left.length > 0)
            fail(`after a refused importImage listImages still shows ${left[0]?.name}`);
        },
      ),
    );
  }

  if (features.includes('release')) {
    checks.push(
      check('release', 'after release, nodeStatus answers and a later load works', async (fail) => {
        await seeded();
        await harness.reset();
        const release = provisioner.release;
        if (release === undefined)
          return fail('the provisioner declares release but has no release');
        await provisioner.load(ctx(os, 'load'), {
          image: harness.image.name,
          revision: harness.image.revision,
        });
        await release.call(provisioner, ctx(os, 'release'));
        await release.call(provisioner, ctx(os, 'release'));
        const status = await provisioner.nodeStatus(ctx(os, 'nodeStatus')).then(
          (answer) => answer,
          (error: unknown) =>
            fail(
              `after release nodeStatus threw ${(error as { code?: string }).code ?? String(error)}; it must answer`,
            ),
        );
        if (!['ready', 'post-load', 'reload'].includes(status.verdict))
          fail(`after release nodeStatus gave the verdict "${String(status.verdict)}"`);
        const spy = spyOnOsModule(os);
        await provisioner
          .load(ctx(spy.module, 'load'), {
            image: harness.image.name,
            revision: harness.image.revision,
          })
          .then(
            () => {},
            (error: unknown) =>
              fail(
                `after release load failed: ${(error as { message?: string }).message ?? String(error)}`,
              ),
          );
        if (spy.calls.filter((c) => c.operation === 'postLoad').length !== 1)
          fail('after release load did not end with postLoad');
        if ((await harness.power()) !== 'on') fail('after release and load the machine is not on');
      }),
    );
  }

  if (features.includes('deleteImage') && features.includes('capture')) {
    checks.push(
      check('delete-image', 'deleteImage removes a revision and is idempotent', async (fail) => {
        await loaded();
        const args = newCapture('image');
        await provisioner.capture(ctx(os, 'capture'), args);
        const ref = { name: args.image, revision: args.newRevision };
        await provisioner.deleteImage(storeCtx(), ref);
        await provisioner.deleteImage(storeCtx(), ref);
        if (await provisioner.imageExists(storeCtx(), ref))
          fail('after deleteImage imageExists still says true');
      }),
    );
  }

  const kit = {
    provisioner,
    os,
    harness,
    options,
    check,
    ctx,
    storeCtx,
    loaded,
    seeded,
    newCapture,
    features,
  };
  checks.push(...capturePathChecks(kit), ...provisionerOperationChecks(kit));

  checks.push(
    check(
      'declared-extensions',
      'every operation beyond the contract is declared in extensions',
      async (fail) => {
        expectDeclaredExtensions(subject.provisioner, 'provisioner', fail);
      },
    ),
    check(
      'declares-os-families',
      "capabilities.osFamilies is 'any' or a non-empty array of lowercase OS family names",
      async (fail) => {
        expectWellFormedOsFamilies(provisioner.capabilities.osFamilies, fail);
      },
    ),
    check(
      'declares-features',
      'every declared feature is known and comes with its operation, every optional operation is declared, and requiredOsFeatures names OS features',
      async (fail) => {
        expectFeaturesMatchOperations(subject.provisioner, 'provisioner', fail);
        const required: unknown = provisioner.capabilities.requiredOsFeatures;
        if (required === undefined) return;
        if (!Array.isArray(required) || !required.every(isOsFeature))
          fail(
            `capabilities.requiredOsFeatures is ${JSON.stringify(required)}; expected an array of OS feature names`,
          );
      },
    ),
    // Last: it removes what the kit wrote and closes the provisioner.
    check(
      'close',
      'at the end of the run, deleteImage removes what the kit captured or imported, and close resolves; a second close does not throw',
      async (fail) => {
        if (features.includes('deleteImage')) {
          for (const ref of written.splice(0)) {
            await provisioner.deleteImage(storeCtx(), ref);
            if (await provisioner.imageExists(storeCtx(), ref))
              fail(`after deleteImage of ${ref.name}@${ref.revision} imageExists still says true`);
          }
        }
        await expectCloseIdempotent(provisioner, options, fail);
      },
    ),
  );
  return checks;
}

/** What `listImages` shows for a capture must agree with what `capture` returned. */
function expectListedAsCaptured(
  listed: StoredImage,
  result: { readonly sizeBytes: number; readonly sha256: string; readonly image: string },
  fail: Fail,
): void {
  if (listed.sizeBytes !== result.sizeBytes)
    fail(
      `listImages gives the capture sizeBytes ${listed.sizeBytes}, capture said ${result.sizeBytes} (both are the logical disk size)`,
    );
  if (listed.sha256 !== undefined && listed.sha256 !== result.sha256)
    fail(`listImages gives the capture sha256 "${listed.sha256}", capture said "${result.sha256}"`);
  if (listed.stamp !== undefined && listed.stamp.image !== result.image)
    fail(`listImages gives the capture the stamp of ${listed.stamp.image}`);
}
