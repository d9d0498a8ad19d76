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

/** What {@link flatten} stored. */
interface Flattened {
  /** The raw disk's size: the logical image size. */
  readonly sizeBytes: number;
  /** SHA-256 of the raw disk, computed on the host as it was read. */
  readonly sha256: string;
  /** Bytes written into the store (zstd). */
  readonly storedBytes: number;
}

/**
 * Flattens the VM's overlay and its backing master into a new qcow2 on the host, checks it, and
 * streams its raw disk, zstd-compressed and hashed on the host, into the reservation.
 */
async function flatten(
  ctx: ProvisionerContext,
  vm: VmTarget,
  reservation: Reservation,
  dir: string,
  revision: number,
): Promise<Flattened> {
  const { hypervisor, facts, config } = vm;
  const what = `capturing ${facts.name} into ${reservation.name} revision ${revision}`;
  const watch = new TransferWatch(ctx, facts.name, what, config.timeouts.transferIdleMs);
  let proc: Awaited<ReturnType<typeof hypervisor.spawn>> | undefined;
  try {
    proc = await hypervisor.spawn(
      [
        'sh',
        '-c',
        FLATTEN,
        'vlab-libvirt',
        vmPaths(facts).disk,
        dir,
        String(revision),
        String(STORE_ZSTD_LEVEL),
      ],
      { signal: watch.signal, timeoutMs: config.timeouts.transferMs },
    );
    const stderr: Buffer[] = [];
    proc.stderr.on('data', (chunk: Buffer) => {
      // qemu-img's progress while the host converts (nothing streams yet) keeps the transfer alive.
      watch.moved(0);
      stderr.push(chunk);
    });
    const stdout = proc.stdout;
    const counted = (async function* () {
      for await (const chunk of stdout) {
        watch.moved((chunk as Buffer).length);
        yield chunk as Buffer;
      }
    })();
    const written = await reservation.write(counted, {
      signal: watch.signal,
      timeoutMs: config.timeouts.transferMs,
    });
    const exit = await proc.exit;
    const message = Buffer.concat(stderr).toString('utf8').replace(QEMU_PROGRESS, '');
    if (exit.code === CORRUPT_EXIT)
      throw coreError('VLAB_ERR_IMAGE_CORRUPT', `${what}: ${message.trim().slice(0, 500)}`, {
        computer: facts.name,
        details: { host: hypervisor.hostName },
      });
    const sum = SHA256_LINE.exec(message);
    if (exit.code !== 0 || sum === null)
      throw libvirtError(
        'VLAB_ERR_LIBVIRT_HOST_FAILED',
        `${what} failed on host ${hypervisor.hostName} (exit ${exit.code}): ${message.trim().slice(0, 500) || 'no message'}`,
        { computer: facts.name, details: { host: hypervisor.hostName, exitCode: exit.code } },
      );
    const [, sha256 = '', bytes = '0'] = sum;
    watch.finish();
    return { sizeBytes: Number(bytes), sha256, storedBytes: written.storedBytes };
  } catch (error) {
    if (proc !== undefined) await proc.kill();
    if (ctx.signal.aborted) throw abortError(ctx.signal, facts.name, ctx.phase);
    throw watch.idleReason ?? error;
  } finally {
    watch[Symbol.dispose]();
  }
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
  const state: { flat?: Flattened } = {};
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
          async (c, s) => {
            s.flat = await flatten(c, vm, reservation, dir, args.newRevision);
          },
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
          const flat = s.flat as Flattened;
          await hypervisor.run(c, 'publishing the master on the host', PUBLISH_CAPTURE, [
            dir,
            revision,
            masterName(args.newRevision, flat.sha256),
          ]);
          await reservation.publish(
            {
              format: 'raw+zstd',
              sizeBytes: flat.sizeBytes,
              sha256: flat.sha256,
              storedBytes: flat.storedBytes,
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
  const flat = state.flat as Flattened;
  return {
    image: args.image,
    revision: args.newRevision,
    sizeBytes: flat.sizeBytes,
    sha256: flat.sha256,
    storedBytes: flat.storedBytes,
  };
}
