import type { OsModuleDefinition, ProvisionerDefinition } from '@vlab/core';
import type { ConformanceOptions } from '@vlab/core/testing';
import captureHangsOnAbort from '../src/broken/capture-hangs-on-abort.js';
import captureIgnoresAbort from '../src/broken/capture-ignores-abort.js';
import captureKeepsTemporaryOnAbort from '../src/broken/capture-keeps-temporary-on-abort.js';
import captureLiesAboutPower from '../src/broken/capture-lies-about-power.js';
import captureProbeFromConnection from '../src/broken/capture-probe-from-connection.js';
import capturePublishesDespiteAbort from '../src/broken/capture-publishes-despite-abort.js';
import captureReadsRebootedGuest from '../src/broken/capture-reads-rebooted-guest.js';
import capturesDespitePreCaptureFailure from '../src/broken/captures-despite-pre-capture-failure.js';
import checkpointSkipsWait from '../src/broken/checkpoint-skips-wait.js';
import deleteImageKeepsData from '../src/broken/delete-image-keeps-data.js';
import deleteImageNotIdempotent from '../src/broken/delete-image-not-idempotent.js';
import deleteImageToTrash from '../src/broken/delete-image-to-trash.js';
import imageSizeAllocated from '../src/broken/image-size-allocated.js';
import imageSizeZeroWhenMissing from '../src/broken/image-size-zero-when-missing.js';
import keepsTemporaryAfterPreCaptureFailure from '../src/broken/keeps-temporary-after-pre-capture-failure.js';
import listImagesShowsPartial from '../src/broken/list-images-shows-partial.js';
import loadCallsOsExtension from '../src/broken/load-calls-os-extension.js';
import loadDetachesPostLoad from '../src/broken/load-detaches-post-load.js';
import loadHangsOnAbort from '../src/broken/load-hangs-on-abort.js';
import loadSkipsWait from '../src/broken/load-skips-wait.js';
import loadSleepsBeforePostLoad from '../src/broken/load-sleeps-before-post-load.js';
import nodeStatusCallsSanitize from '../src/broken/node-status-calls-sanitize.js';
import nodeStatusIgnoresStampState from '../src/broken/node-status-ignores-stamp-state.js';
import nodeStatusPowerFromNetwork from '../src/broken/node-status-power-from-network.js';
import nodeStatusThrowsWhenOff from '../src/broken/node-status-throws-when-off.js';
import powerCycleWithoutBoot from '../src/broken/power-cycle-without-boot.js';
import powerOffNotIdempotent from '../src/broken/power-off-not-idempotent.js';
import powerOffReturnsEarly from '../src/broken/power-off-returns-early.js';
import powerOnCycles from '../src/broken/power-on-cycles.js';
import powerStatusCached from '../src/broken/power-status-cached.js';
import powerStatusFromNetwork from '../src/broken/power-status-from-network.js';
import preCaptureSleeps from '../src/broken/pre-capture-sleeps.js';
import preCaptureWaitsForSilence from '../src/broken/pre-capture-waits-for-silence.js';
import provisionerCallsCaptureStart from '../src/broken/provisioner-calls-capture-start.js';
import rebootReturnsAtOnce from '../src/broken/reboot-returns-at-once.js';
import rebootWaitsForAnswerOnly from '../src/broken/reboot-waits-for-answer-only.js';
import retriesPreCapture from '../src/broken/retries-pre-capture.js';
import shutdownSleeps from '../src/broken/shutdown-sleeps.js';
import shutdownWaitsForSilence from '../src/broken/shutdown-waits-for-silence.js';

/**
 * The broken modules of kit 2's capture path and of "every operation has a check" (issue 13,
 * sections 2 and 4), by class: each with the check that must catch it and the exact message after
 * `[check] ` (`<n>` a whole number, `<any>` text without a space, as in
 * kit-catches-broken-modules.test.ts, which runs each against its good module too).
 */
export interface Kit2Case<Subject> {
  /** The class of breakage, as the closing note of the issue names it. */
  readonly kind: string;
  readonly what: string;
  readonly broken: Subject;
  readonly good: Subject;
  readonly check: string;
  readonly failure: string;
  readonly options?: ConformanceOptions;
}

/** How the test file makes the checks of a module (its subjects). */
export interface Kit2Subjects<Subject> {
  readonly os: <Config>(definition: OsModuleDefinition<Config>) => Subject;
  readonly provisioner: <Config>(definition: ProvisionerDefinition<Config>) => Subject;
  readonly goodOs: Subject;
  readonly goodProvisioner: Subject;
}

const LIVE_READ = (endState: string) =>
  `capture read the disk of the running guest (power on, environment "os"): with captureEndState "${endState}" it must read with the power off or in a deploy environment, never the running guest`;
const SHUTDOWN_EARLY =
  "shutdown returned with the machine's power on: it must confirm the power off through ctx.power, not by the connection dropping or a fixed wait";
const REBOOT_EARLY =
  'reboot returned before the machine went down: confirm it went down (power off, or a new ctx.power.bootId) before waiting for it to answer';
const POST_LOAD_EARLY = (what: string) =>
  `${what} called postLoad before the machine's OS answered: after booting, wait until it answers (ctx.communicator.waitUntilReachable), then call postLoad`;
const ABORT_BOUND_MS = 500;

/** The cases, with the subjects of the test file. */
export function kit2Cases<Subject>(subjects: Kit2Subjects<Subject>): readonly Kit2Case<Subject>[] {
  const os = <Config>(definition: OsModuleDefinition<Config>) => ({
    broken: subjects.os(definition),
    good: subjects.goodOs,
  });
  const provisioner = <Config>(definition: ProvisionerDefinition<Config>) => ({
    broken: subjects.provisioner(definition),
    good: subjects.goodProvisioner,
  });
  return CASES.map(({ module, ...rest }) => ({ ...rest, ...module(os, provisioner) }));
}

type Pick2 = <Subject>(
  os: <Config>(definition: OsModuleDefinition<Config>) => { broken: Subject; good: Subject },
  provisioner: <Config>(definition: ProvisionerDefinition<Config>) => {
    broken: Subject;
    good: Subject;
  },
) => { broken: Subject; good: Subject };

const CASES: readonly (Omit<Kit2Case<never>, 'broken' | 'good'> & { readonly module: Pick2 })[] = [
  // 2. Disk reads carry the power state and the environment: never read the running guest.
  {
    kind: 'disk read of the running guest',
    what: 'a provisioner that hands preCapture a power probe that always says off',
    module: (_os, provisioner) => provisioner(captureLiesAboutPower),
    check: 'provisioner/capture-reads-machine-off',
    failure: LIVE_READ('off'),
  },
  {
    kind: 'disk read of the running guest',
    what: 'a provisioner whose probe for preCapture says off once the guest stops answering',
    module: (_os, provisioner) => provisioner(captureProbeFromConnection),
    check: 'provisioner/capture-reads-machine-off',
    failure: LIVE_READ('off'),
  },
  {
    kind: 'disk read of the running guest',
    what: "a provisioner with captureEndState 'reboot' that reads the guest it rebooted into",
    module: (_os, provisioner) => provisioner(captureReadsRebootedGuest),
    check: 'provisioner/capture-reads-machine-off',
    failure: LIVE_READ('reboot'),
  },
  // 2. Real timings: "off" confirmed through the power probe, never by silence or a sleep.
  {
    kind: 'off confirmed without the power probe',
    what: 'an OS module whose shutdown takes the connection dropping for off',
    module: (os) => os(shutdownWaitsForSilence),
    check: 'os/shutdown',
    failure: SHUTDOWN_EARLY,
  },
  {
    kind: 'off confirmed without the power probe',
    what: 'an OS module whose shutdown sleeps a fixed time',
    module: (os) => os(shutdownSleeps),
    check: 'os/shutdown',
    failure: SHUTDOWN_EARLY,
  },
  {
    kind: 'off confirmed without the power probe',
    what: 'an OS module whose preCapture takes the guest going silent for off',
    module: (os) => os(preCaptureWaitsForSilence),
    check: 'os/pre-capture-off',
    failure: "preCapture({ endState: 'off' }) returned with the machine on",
  },
  {
    kind: 'off confirmed without the power probe',
    what: 'an OS module whose preCapture waits a fixed time for off',
    module: (os) => os(preCaptureSleeps),
    check: 'os/pre-capture-off',
    failure: "preCapture({ endState: 'off' }) returned with the machine on",
  },
  {
    kind: 'reboot returned before it happened',
    what: 'an OS module whose reboot returns right after systemctl reboot',
    module: (os) => os(rebootReturnsAtOnce),
    check: 'os/reboot',
    failure: REBOOT_EARLY,
  },
  {
    kind: 'reboot returned before it happened',
    what: 'an OS module whose reboot only waits until the machine answers',
    module: (os) => os(rebootWaitsForAnswerOnly),
    check: 'os/reboot',
    failure: REBOOT_EARLY,
  },
  // 2. A machine that powers on does not answer for a while.
  {
    kind: 'postLoad before the OS answers',
    what: 'a provisioner whose load calls postLoad right after power-on',
    module: (_os, provisioner) => provisioner(loadSkipsWait),
    check: 'provisioner/load-waits-until-answering',
    failure: POST_LOAD_EARLY('load'),
  },
  {
    kind: 'postLoad before the OS answers',
    what: 'a provisioner whose load sleeps a fixed time after power-on instead of waiting',
    module: (_os, provisioner) => provisioner(loadSleepsBeforePostLoad),
    check: 'provisioner/load-waits-until-answering',
    failure: POST_LOAD_EARLY('load'),
  },
  {
    kind: 'postLoad before the OS answers',
    what: 'a provisioner whose checkpoint calls postLoad right after power-on',
    module: (_os, provisioner) => provisioner(checkpointSkipsWait),
    check: 'provisioner/load-waits-until-answering',
    failure: POST_LOAD_EARLY('a checkpoint'),
  },
  // 2. Failure injection: preCapture fails once.
  {
    kind: 'after a failed preCapture',
    what: 'a provisioner that calls preCapture again when it failed',
    module: (_os, provisioner) => provisioner(retriesPreCapture),
    check: 'provisioner/pre-capture-failure',
    failure:
      'after preCapture failed, capture called it again (2 calls in all): preCapture runs exactly once per capture, and a half-generalized machine is not generalized twice blindly',
  },
  {
    kind: 'after a failed preCapture',
    what: 'a provisioner that captures and publishes although preCapture failed',
    module: (_os, provisioner) => provisioner(capturesDespitePreCaptureFailure),
    check: 'provisioner/pre-capture-failure',
    failure: 'after preCapture failed, listImages shows <any>, which was not there before',
  },
  {
    kind: 'after a failed preCapture',
    what: 'a provisioner that leaves its temporary store entry behind when preCapture failed',
    module: (_os, provisioner) => provisioner(keepsTemporaryAfterPreCaptureFailure),
    check: 'provisioner/pre-capture-failure',
    failure: 'after preCapture failed, the store holds <any>, which was not there before',
  },
  // 2. Abort at every phase, decided by an event.
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose save-disk step has no cleanup of its temporary image',
    module: (_os, provisioner) => provisioner(captureKeepsTemporaryOnAbort),
    check: 'provisioner/abort-capture-phases',
    failure:
      'capture aborted during capture/save-disk (its progress report 2 of 4: <n> of <n> bytes), the store holds <any>, which was not there before',
  },
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose capture goes on between its steps after an abort',
    module: (_os, provisioner) => provisioner(captureIgnoresAbort),
    check: 'provisioner/abort-capture-phases',
    failure:
      'capture aborted after step "preCapture" (its progress report 1 of 4) went on and resolved; once its signal fires it must stop with VLAB_ERR_OP_CANCELLED',
  },
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose publish step publishes although it was aborted while verifying',
    module: (_os, provisioner) => provisioner(capturePublishesDespiteAbort),
    check: 'provisioner/abort-capture-phases',
    failure:
      'capture aborted during capture/publish (its progress report 4 of 5: <n> of <n> bytes) went on and resolved; once its signal fires it must stop with VLAB_ERR_OP_CANCELLED',
  },
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose load runs postLoad detached from the abort',
    module: (_os, provisioner) => provisioner(loadDetachesPostLoad),
    check: 'provisioner/abort-load-phases',
    failure:
      'load aborted when it called postLoad went on and resolved; once its signal fires it must stop with VLAB_ERR_OP_CANCELLED',
  },
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose capture, aborted while saving the disk, lets the copy finish',
    module: (_os, provisioner) => provisioner(captureHangsOnAbort),
    check: 'provisioner/abort-capture-phases',
    failure: `capture aborted during capture/save-disk (its progress report 2 of 4: <n> of <n> bytes) did not stop within ${ABORT_BOUND_MS} ms of its AbortSignal firing`,
    options: { abortBoundMs: ABORT_BOUND_MS },
  },
  {
    kind: 'abort at a later phase',
    what: 'a provisioner whose load, aborted while writing the disk, finishes writing first',
    module: (_os, provisioner) => provisioner(loadHangsOnAbort),
    check: 'provisioner/abort-load-phases',
    failure: `load aborted during load/deploy (its progress report 2 of 4: <n> of <n> bytes) did not stop within ${ABORT_BOUND_MS} ms of its AbortSignal firing`,
    options: { abortBoundMs: ABORT_BOUND_MS },
  },
  // 2. Only the contract's operations on ctx.os.
  {
    kind: 'an OS operation outside the contract',
    what: 'a provisioner that calls the retired captureStart',
    module: (_os, provisioner) => provisioner(provisionerCallsCaptureStart),
    check: 'provisioner/capture-calls-pre-capture-once',
    failure:
      'during capture the provisioner called ctx.os.captureStart, which is not an operation of the OS module contract',
  },
  {
    kind: 'an OS operation outside the contract',
    what: "a provisioner that calls the OS module's declared extension machineId",
    module: (_os, provisioner) => provisioner(loadCallsOsExtension),
    check: 'provisioner/load-ends-with-post-load',
    failure:
      'during load the provisioner called ctx.os.machineId, an extension the OS module declares, not an operation of the contract: a provisioner calls only the contract',
  },
  {
    kind: 'an OS operation outside the contract',
    what: "a provisioner whose nodeStatus calls the manager's sanitize",
    module: (_os, provisioner) => provisioner(nodeStatusCallsSanitize),
    check: 'provisioner/node-status',
    failure:
      'during nodeStatus the provisioner called ctx.os.sanitize, an OS module operation the contract leaves to the manager',
  },
  // 4. Every operation has a check: power.
  {
    kind: 'power operations',
    what: 'a provisioner whose powerOn cycles a machine that is on',
    module: (_os, provisioner) => provisioner(powerOnCycles),
    check: 'provisioner/power-on',
    failure:
      'powerOn of a machine that is on changed its power (off, on); powerOn is idempotent and changes nothing',
  },
  {
    kind: 'power operations',
    what: 'a provisioner whose powerOff returns before the power is off',
    module: (_os, provisioner) => provisioner(powerOffReturnsEarly),
    check: 'provisioner/power-off',
    failure: 'powerOff returned with the machine still on; it returns once the power is off',
  },
  {
    kind: 'power operations',
    what: 'a provisioner whose powerOff fails on a machine that is off',
    module: (_os, provisioner) => provisioner(powerOffNotIdempotent),
    check: 'provisioner/power-off',
    failure: 'a second powerOff threw VLAB_ERR_COMMAND_FAILED; powerOff is idempotent',
  },
  {
    kind: 'power operations',
    what: 'a provisioner whose powerCycle does not boot a machine that is on',
    module: (_os, provisioner) => provisioner(powerCycleWithoutBoot),
    check: 'provisioner/power-cycle',
    failure:
      'powerCycle returned without a new boot (power changes: none); a cycle powers the machine off and on again',
  },
  {
    kind: 'power operations',
    what: 'a provisioner whose powerStatus infers power from the network',
    module: (_os, provisioner) => provisioner(powerStatusFromNetwork),
    check: 'provisioner/power-status',
    failure:
      'with the machine on and its OS still booting (right after powerOn), powerStatus said "off"; expected "on": power comes from the BMC or hypervisor, asked each time, never from the network',
  },
  {
    kind: 'power operations',
    what: 'a provisioner whose powerStatus answers from memory',
    module: (_os, provisioner) => provisioner(powerStatusCached),
    check: 'provisioner/power-status',
    failure:
      'with the machine off (shut down from inside by os.shutdown), powerStatus said "on"; expected "off": power comes from the BMC or hypervisor, asked each time, never from the network',
  },
  // 4. nodeStatus in each situation.
  {
    kind: 'nodeStatus situations',
    what: "a provisioner whose nodeStatus ignores the stamp's state",
    module: (_os, provisioner) => provisioner(nodeStatusIgnoresStampState),
    check: 'provisioner/node-status-situations',
    failure:
      'with the machine just deployed (stamp "captured", postLoad not run), nodeStatus gave verdict "ready", power "on", responding true; expected verdict "post-load", power "on", responding true',
  },
  {
    kind: 'nodeStatus situations',
    what: 'a provisioner whose nodeStatus reports power from the network',
    module: (_os, provisioner) => provisioner(nodeStatusPowerFromNetwork),
    check: 'provisioner/node-status-situations',
    failure:
      'with the machine on, its OS still booting (not answering yet), nodeStatus gave verdict "reload", power "off", responding false; expected verdict "reload", power "on", responding false',
  },
  {
    kind: 'nodeStatus situations',
    what: 'a provisioner whose nodeStatus throws for a machine that is off',
    module: (_os, provisioner) => provisioner(nodeStatusThrowsWhenOff),
    check: 'provisioner/node-status-situations',
    failure:
      'with the machine off (shut down by os.shutdown), nodeStatus threw VLAB_ERR_COMPUTER_UNREACHABLE; it must answer',
  },
  // 4. The image store.
  {
    kind: 'image store operations',
    what: 'a provisioner whose imageSize is the allocated size',
    module: (_os, provisioner) => provisioner(imageSizeAllocated),
    check: 'provisioner/image-size',
    failure:
      'imageSize gives base@1 <n> bytes, but its raw disk image has <n> bytes: imageSize is the logical disk size',
  },
  {
    kind: 'image store operations',
    what: 'a provisioner whose imageSize of a missing revision is 0',
    module: (_os, provisioner) => provisioner(imageSizeZeroWhenMissing),
    check: 'provisioner/image-size',
    failure: 'imageSize of a missing revision returned 0; expected VLAB_ERR_IMAGE_NOT_FOUND',
  },
  {
    kind: 'image store operations',
    what: 'a provisioner whose listImages lists its kept temporary copy',
    module: (_os, provisioner) => provisioner(listImagesShowsPartial),
    check: 'provisioner/list-images',
    failure:
      'after a capture listImages shows <any> besides the new revision <any>: it lists no temporary or partial entries',
  },
  {
    kind: 'image store operations',
    what: 'a provisioner whose deleteImage moves the revision to a listed trash',
    module: (_os, provisioner) => provisioner(deleteImageToTrash),
    check: 'provisioner/delete-image-leaves-nothing',
    failure: 'after deleteImage of <any> listImages still shows <any>',
  },
  {
    kind: 'image store operations',
    what: 'a provisioner whose deleteImage only hides the revision',
    module: (_os, provisioner) => provisioner(deleteImageKeepsData),
    check: 'provisioner/delete-image-leaves-nothing',
    failure: 'after deleteImage of <any> the store still holds <any>',
  },
  {
    kind: 'image store operations',
    what: 'a provisioner whose deleteImage fails for a missing revision',
    module: (_os, provisioner) => provisioner(deleteImageNotIdempotent),
    check: 'provisioner/delete-image-leaves-nothing',
    failure:
      'deleteImage of a revision that never existed threw VLAB_ERR_IMAGE_NOT_FOUND; deleteImage is idempotent: a missing revision is not an error',
  },
];
