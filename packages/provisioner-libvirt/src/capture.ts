import {
  abortError,
  type CaptureArgs,
  type CaptureResult,
  coreError,
  isVlabError,
  namedStep,
  type ProvisionerContext,
  runSteps,
  TransferWatch,
} from '@vlab/core';
import type { Reservation } from '@vlab/image-store';
import { vmPaths } from './domain-xml.js';
import { libvirtError } from './errors.js';
import {
  CORRUPT_EXIT,
  DISCARD_CAPTURE,
  FLATTEN,
  PUBLISH_CAPTURE,
  QEMU_PROGRESS,
  SHA256_LINE,
  STREAM_CAPTURE,
} from './host-scripts.js';
import { masterName, mastersDir } from './masters.js';
import type { ProvisionerDeps } from './provisioner-deps.js';
import {
  bootVm,
  cleanupCall,
  defineDomain,
  discardIdentityDisk,
  domainIsOurs,
  dropIdentityDisk,
  leaveOff,
  putIdentityDisk,
  type VmTarget,
} from './vm.js';

/** zstd level of the raw disk a capture sends to the store. */
const STORE_ZSTD_LEVEL = 3;

/**
 * `preCapture` with libvirt as its power probe, then libvirt's own word that the domain is shut
 * off — never the guest's. A guest still running at the deadline is destroyed and the capture
 * fails: a disk that was not shut down cleanly is not an image.
 */
async function preCaptureOff(ctx: ProvisionerContext, vm: VmTarget, args: CaptureArgs) {
  const { hypervisor, facts, config } = vm;
  const osCtx = ctx.child({
    phase: 'preCapture',
    power: hypervisor.probe(ctx, facts.domain),
    deadline: Date.now() + Math.min(config.timeouts.preCaptureMs, ctx.remainingMs()),
  });
  // After preCapture these calls use their own deadline: the operation's may be spent.
  const forced = async (cause: unknown): Promise<never> => {
    await hypervisor.destroy(cleanupCall(config), facts.domain);
    throw libvirtError(
      'VLAB_ERR_LIBVIRT_SHUTDOWN_FORCED',
      `${facts.name} was still running after preCapture; domain ${facts.domain} was destroyed and nothing was captured`,
      {
        computer: facts.name,
        cause,
        details: { image: args.image, revision: args.newRevision, host: hypervisor.hostName },
      },
    );
  };
  try {
    await ctx.os.preCapture(osCtx, {
      endState: 'off',
      stamp: { image: args.image, revision: args.newRevision },
    });
  } catch (error) {
    // A guest that did not go down; any other failure stands, and the step's cleanup destroys it.
    const notDown =
      isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED') || isVlabError(error, 'VLAB_ERR_OP_TIMEOUT');
    if (ctx.signal.aborted || !notDown) throw error;
    if ((await hypervisor.power(cleanupCall(config), facts.domain)) !== 'off') await forced(error);
    throw error;
  }
  try {
    await hypervisor.waitFor(ctx, facts.domain, 'off', config.timeouts.powerMs);
  } catch (error) {
    // Only libvirt's word that it still runs forces it off; a failed read stands as it is.
    if (ctx.signal.aborted || !isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED')) throw error;
    await forced(error);
  }
}

/** What {@link storeCapture} stored. */
interface Stored {
  /** The raw disk's size: the logical image size. */
  readonly sizeBytes: number;
  /** SHA-256 of the raw disk, computed on the host as it was read. */
  readonly sha256: string;
  /** Bytes written into the store (zstd). */
  readonly storedBytes: number;
}

/**
 * Runs a capture's host script under a transfer watch — qemu-img's progress on stderr counts as
 * a sign of life, `consume` reads stdout — and turns its exit into a typed error:
 * {@link CORRUPT_EXIT} is `VLAB_ERR_IMAGE_CORRUPT`, any other failure
 * `VLAB_ERR_LIBVIRT_HOST_FAILED`. Returns `consume`'s result and stderr without the progress.
 */
async function hostWork<T>(
  ctx: ProvisionerContext,
  vm: VmTarget,
  what: string,
  argv: readonly string[],
  consume: (stdout: AsyncIterable<Buffer>, watch: TransferWatch) => Promise<T>,
): Promise<{ readonly result: T; readonly message: string }> {
  const { hypervisor, facts, config } = vm;
  const watch = new TransferWatch(ctx, facts.name, what, config.timeouts.transferIdleMs);
  let proc: Awaited<ReturnType<typeof hypervisor.spawn>> | undefined;
  try {
    proc = await hypervisor.spawn(argv, {
      signal: watch.signal,
      timeoutMs: config.timeouts.transferMs,
    });
    const stderr: Buffer[] = [];
    proc.stderr.on('data', (chunk: Buffer) => {
      watch.moved(0);
      stderr.push(chunk);
    });
    const result = await consume(proc.stdout as AsyncIterable<Buffer>, watch);
    const exit = await proc.exit;
    const message = Buffer.concat(stderr).toString('utf8').replace(QEMU_PROGRESS, '');
    if (exit.code === CORRUPT_EXIT)
      throw coreError('VLAB_ERR_IMAGE_CORRUPT', `${what}: ${message.trim().slice(0, 500)}`, {
        computer: facts.name,
        details: { host: hypervisor.hostName },
      });
    if (exit.code !== 0)
      throw libvirtError(
        'VLAB_ERR_LIBVIRT_HOST_FAILED',
        `${what} failed on host ${hypervisor.hostName} (exit ${exit.code}): ${message.trim().slice(0, 500) || 'no message'}`,
        { computer: facts.name, details: { host: hypervisor.hostName, exitCode: exit.code } },
      );
    watch.finish();
    return { result, message };
  } catch (error) {
    if (proc !== undefined) await proc.kill();
    if (ctx.signal.aborted) throw abortError(ctx.signal, facts.name, ctx.phase);
    throw watch.idleReason ?? error;
  } finally {
    watch[Symbol.dispose]();
  }
}

/**
 * Checks the VM's overlay, flattens it with its backing master into a new compressed qcow2 on the
 * host (`.capture-<rev>.qcow2`, the master-to-be) and checks that.
 */
async function flatten(ctx: ProvisionerContext, vm: VmTarget, dir: string, revision: number) {
  await hostWork(
    ctx,
    vm,
    `flattening ${vm.facts.name}'s disk into revision ${revision}`,
    ['sh', '-c', FLATTEN, 'vlab-libvirt', vmPaths(vm.facts).disk, dir, String(revision)],
    async (stdout) => {
      for await (const _ of stdout); // nothing: the script only reports progress
    },
  );
}

/**
 * Streams the flattened capture's raw disk, zstd-compressed and hashed on the host, into the
 * reservation: the store's format, which every provisioner loads.
 */
async function storeCapture(
  ctx: ProvisionerContext,
  vm: VmTarget,
  reservation: Reservation,
  dir: string,
  revision: number,
): Promise<Stored> {
  const what = `storing ${vm.facts.name}'s capture as ${reservation.name} revision ${revision}`;
  const { result, message } = await hostWork(
    ctx,
    vm,
    what,
    ['sh', '-c', STREAM_CAPTURE, 'vlab-libvirt', dir, String(revision), String(STORE_ZSTD_LEVEL)],
    (stdout, watch) =>
      reservation.write(
        (async function* () {
          for await (const chunk of stdout) {
            watch.moved(chunk.length);
            yield chunk;
          }
        })(),
        { signal: watch.signal, timeoutMs: vm.config.timeouts.transferMs },
      ),
  );
  const sum = SHA256_LINE.exec(message);
  if (sum === null)
    throw libvirtError(
      'VLAB_ERR_LIBVIRT_HOST_FAILED',
      `${what}: host ${vm.hypervisor.hostName} did not report the disk's SHA-256: ${message.trim().slice(0, 500) || 'no message'}`,
      { computer: vm.facts.name, details: { host: vm.hypervisor.hostName } },
    );
  const [, sha256 = '', bytes = '0'] = sum;
  return { sizeBytes: Number(bytes), sha256, storedBytes: result.storedBytes };
}

/**
 * `capture`: reserve the revision in the store at once (a second capture of it fails with
 * `VLAB_ERR_IMAGE_EXISTS` before its preCapture); preCapture to off, confirmed by libvirt;
 * flatten, check and store the disk; `checkpoint` boots the VM again with fresh host keys; then,
 * last, publish — the flattened master on the host (the cache a load of it uses), then the
 * revision in the store. On failure or abort before the publish the reservation is abandoned,
 * the flattened file removed, and the VM left off.
 */
export async function capture(
  deps: ProvisionerDeps,
  ctx: ProvisionerContext,
  args: CaptureArgs,
): Promise<CaptureResult> {
  const vm = await deps.vmTarget(ctx);
  const { hypervisor, facts } = vm;
  // A domain of the VM's name that vlab did not define for this computer is not captured.
  await domainIsOurs(ctx, vm);
  const reservation = await deps.store.reserve(
    { name: args.image, revision: args.newRevision },
    { signal: ctx.signal },
  );
  const dir = mastersDir(facts.host.dir, args.image);
  const revision = String(args.newRevision);
  const state: { stored?: Stored } = {};
  const step = namedStep<ProvisionerContext, typeof state>;
  try {
    await runSteps(
      ctx,
      [
        step(
          'preCapture',
          (c) => preCaptureOff(c, vm, args),
          (c, _s, outcome) => leaveOff(c, vm, outcome),
        ),
        step(
          'flatten',
          (c) => flatten(c, vm, dir, args.newRevision),
          async (_c, _s, outcome) => {
            if (outcome !== 'succeeded')
              await hypervisor.run(
                cleanupCall(vm.config),
                'removing the unfinished capture',
                DISCARD_CAPTURE,
                [dir, revision],
              );
          },
        ),
        step('store', async (c, s) => {
          s.stored = await storeCapture(c, vm, reservation, dir, args.newRevision);
        }),
        ...(args.mode === 'image'
          ? []
          : [
              step(
                'identity-disk',
                (c) => putIdentityDisk(c, vm),
                (c, _s, outcome) => discardIdentityDisk(c, vm, outcome),
              ),
              step('define', (c) => defineDomain(c, vm, { identityDisk: true })),
              step(
                'boot',
                (c) => bootVm(c, vm),
                (c, _s, outcome) => leaveOff(c, vm, outcome),
              ),
              step('identity-disk-off', (c) => dropIdentityDisk(c, vm)),
            ]),
        // Last: a capture stopped at any earlier point publishes nothing.
        step('publish', async (c, s) => {
          const stored = s.stored as Stored;
          await hypervisor.run(c, 'publishing the master on the host', PUBLISH_CAPTURE, [
            dir,
            revision,
            masterName(args.newRevision, stored.sha256),
          ]);
          await reservation.publish(
            {
              format: 'raw+zstd',
              sizeBytes: stored.sizeBytes,
              sha256: stored.sha256,
              storedBytes: stored.storedBytes,
              osFamily: ctx.os.family,
              sourceComputer: facts.name,
              stamp: { image: args.image, revision: args.newRevision },
            },
            { signal: c.signal },
          );
        }),
      ],
      state,
    );
  } catch (error) {
    if (reservation.state !== 'published')
      await reservation.abandon().catch((abandonError: unknown) =>
        ctx.log.warn('the unfinished capture could not be abandoned in the store', {
          image: args.image,
          revision: args.newRevision,
          error: String(abandonError),
        }),
      );
    throw error;
  }
  if (args.mode === 'checkpoint') await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
  const stored = state.stored as Stored;
  return {
    image: args.image,
    revision: args.newRevision,
    sizeBytes: stored.sizeBytes,
    sha256: stored.sha256,
    storedBytes: stored.storedBytes,
  };
}
