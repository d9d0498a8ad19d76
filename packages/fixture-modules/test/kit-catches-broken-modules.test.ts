import {
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  type ModuleDeps,
  type OsModuleDefinition,
  type ProvisionerDefinition,
  parseConfig,
  silentLogger,
} from '@vlab/core';
import {
  type ConformanceCheck,
  ConformanceFailure,
  type ConformanceOptions,
  createMemoryLab,
  type MemoryLab,
  osModuleChecks,
  provisionerChecks,
} from '@vlab/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import bmcPasswordInError from '../src/broken/bmc-password-in-error.js';
import capturesWithCaptureStart from '../src/broken/captures-with-capture-start.js';
import closeNotIdempotent from '../src/broken/close-not-idempotent.js';
import declaresUnknownShell from '../src/broken/declares-unknown-shell.js';
import hangsOnAbort from '../src/broken/hangs-on-abort.js';
import identityDiskNotInstalled from '../src/broken/identity-disk-not-installed.js';
import ignoresEndState from '../src/broken/ignores-end-state.js';
import importLeavesCorruptImage from '../src/broken/import-leaves-corrupt-image.js';
import importSkipsChecksum from '../src/broken/import-skips-checksum.js';
import liesAboutEndState from '../src/broken/lies-about-end-state.js';
import loadSkipsPostLoad from '../src/broken/load-skips-post-load.js';
import logsPassword from '../src/broken/logs-password.js';
import malformedOsFamilies from '../src/broken/malformed-os-families.js';
import neverCallsPreCapture from '../src/broken/never-calls-pre-capture.js';
import nodeStatusIgnoresTaint from '../src/broken/node-status-ignores-taint.js';
import overwritesExistingImage from '../src/broken/overwrites-existing-image.js';
import passwordInArgv from '../src/broken/password-in-argv.js';
import passwordInErrorCause from '../src/broken/password-in-error-cause.js';
import passwordInErrorDetails from '../src/broken/password-in-error-details.js';
import passwordInModuleLog from '../src/broken/password-in-module-log.js';
import passwordInReadableFile from '../src/broken/password-in-readable-file.js';
import postLoadAlwaysChanged from '../src/broken/post-load-always-changed.js';
import postLoadKeepsHostKey from '../src/broken/post-load-keeps-host-key.js';
import postLoadKeepsMachineId from '../src/broken/post-load-keeps-machine-id.js';
import postLoadReadyFirst from '../src/broken/post-load-ready-first.js';
import preCaptureKeepsIdentity from '../src/broken/pre-capture-keeps-identity.js';
import readsDiskBeforePreCapture from '../src/broken/reads-disk-before-pre-capture.js';
import refusesEndStateLate from '../src/broken/refuses-end-state-late.js';
import releaseBreaksNodeStatus from '../src/broken/release-breaks-node-status.js';
import requiresUnknownOsFeature from '../src/broken/requires-unknown-os-feature.js';
import reserveAcceptsMultilineKey from '../src/broken/reserve-accepts-multiline-key.js';
import reserveAdminsEveryone from '../src/broken/reserve-admins-everyone.js';
import reserveAppendsHistory from '../src/broken/reserve-appends-history.js';
import reserveIgnoresPassword from '../src/broken/reserve-ignores-password.js';
import reserveManglesPassword from '../src/broken/reserve-mangles-password.js';
import reserveNotIdempotent from '../src/broken/reserve-not-idempotent.js';
import reserveValidatesLazily from '../src/broken/reserve-validates-lazily.js';
import sanitizeLeavesAccount from '../src/broken/sanitize-leaves-account.js';
import sanitizeLeavesAuthorizedKeys from '../src/broken/sanitize-leaves-authorized-keys.js';
import sanitizeLeavesSudoers from '../src/broken/sanitize-leaves-sudoers.js';
import throwsUncodedError from '../src/broken/throws-uncoded-error.js';
import undeclaredHelperMethod from '../src/broken/undeclared-helper-method.js';
import userConnectedIgnoresUsers from '../src/broken/user-connected-ignores-users.js';
import userConnectedRemembers from '../src/broken/user-connected-remembers.js';
import userConnectedReportsNobody from '../src/broken/user-connected-reports-nobody.js';
import userConnectedSinceNow from '../src/broken/user-connected-since-now.js';
import userConnectedUndeclared from '../src/broken/user-connected-undeclared.js';
import memoryOsModule from '../src/memory-os-module.js';
import memoryProvisioner from '../src/memory-provisioner.js';
import { kit2Cases } from './kit-2-capture-path-cases.js';

// Each case: a deliberately broken module, the one check that must catch it, and the exact
// message the kit must give. The same check must pass for the good module, so the failure is
// the breakage's doing. Every run gets a fresh memory lab: the lab's log sink and image store
// must not carry over from one run to the next.

/** Makes the checks of one subject on a fresh lab. */
type Subject = (
  lab: MemoryLab,
  options: ConformanceOptions,
) => Promise<readonly ConformanceCheck[]>;

interface BrokenCase {
  /** What is broken, as the test title says it: "an OS module that …". */
  readonly what: string;
  readonly broken: Subject;
  readonly good: Subject;
  readonly check: string;
  /** The failure message after `[check] `; `<n>` stands for a whole number. */
  readonly failure: string;
  readonly options?: ConformanceOptions;
}

const labs: MemoryLab[] = [];
afterEach(() => {
  for (const lab of labs.splice(0)) lab.dispose();
});

const deps = (lab: MemoryLab): ModuleDeps => ({
  log: silentLogger,
  secrets: createSecretResolver({ env: lab.secretEnv }),
});

// The module is created with the harness's deps, so what it logs outside operations is searched too.
const osSubjectWith =
  <Config>(definition: OsModuleDefinition<Config>, config: unknown): Subject =>
  async (lab, options) => {
    const harness = lab.harness('node1');
    const moduleDeps = harness.moduleDeps?.() ?? deps(lab);
    return osModuleChecks({
      os: await instantiateOsModule(definition, config, moduleDeps),
      harness,
      options,
    });
  };
const osSubject = <Config>(definition: OsModuleDefinition<Config>): Subject =>
  osSubjectWith(definition, {});

const provisionerSubject =
  <Config>(definition: ProvisionerDefinition<Config>): Subject =>
  async (lab, options) =>
    provisionerChecks({
      provisioner: await instantiateProvisioner(definition, { lab: lab.id }, deps(lab)),
      os: await instantiateOsModule(memoryOsModule, {}, deps(lab)),
      harness: lab.harness('node1'),
      options,
    });

// An instance handed to the kit straight from `create`, as an author may do: instantiate… would
// refuse these before the kit saw them (tested below), so the kit must catch them on its own.
const createdOsSubject =
  <Config>(definition: OsModuleDefinition<Config>): Subject =>
  async (lab, options) =>
    osModuleChecks({
      os: await definition.create(
        await parseConfig(definition.configSchema, {}, 'config'),
        deps(lab),
      ),
      harness: lab.harness('node1'),
      options,
    });

const createdProvisionerSubject =
  <Config>(definition: ProvisionerDefinition<Config>): Subject =>
  async (lab, options) =>
    provisionerChecks({
      provisioner: await definition.create(
        await parseConfig(definition.configSchema, { lab: lab.id }, 'config'),
        deps(lab),
      ),
      os: await instantiateOsModule(memoryOsModule, {}, deps(lab)),
      harness: lab.harness('node1'),
      options,
    });

const goodOs = osSubject(memoryOsModule);
const goodProvisioner = provisionerSubject(memoryProvisioner);

/** The check `id` of `subject`, on a lab of its own. */
async function checkOf(
  subject: Subject,
  id: string,
  options: ConformanceOptions = {},
): Promise<ConformanceCheck> {
  const lab = createMemoryLab();
  labs.push(lab);
  const check = (await subject(lab, options)).find((c) => c.id === id);
  if (check === undefined) throw new Error(`the kit has no check ${id} for this module`);
  return check;
}

/**
 * A regex matching exactly `[id] failure`, where in `failure` `<n>` matches a whole number,
 * `<time>` an ISO time and `<any>` any text without a space (a key's base64).
 */
function exactly(id: string, failure: string): RegExp {
  const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const tokens: Record<string, string> = {
    '<n>': '\\d+',
    '<time>': '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z',
    '<any>': '\\S+',
  };
  const body = failure
    .split(/(<n>|<time>|<any>)/)
    .map((part) => tokens[part] ?? quote(part))
    .join('');
  return new RegExp(`^${quote(`[${id}]`)} ${body}$`);
}

const ABORT_BOUND_MS = 500;
// How long the kit would wait for a hung operation (its default operationTimeoutMs) if it did not
// give up on it at the bound: the hung operation ends only when the machine answers again.
const HUNG_OPERATION_WAIT_MS = 30_000;

const cases: readonly BrokenCase[] = [
  {
    what: 'a provisioner that never calls preCapture',
    broken: provisionerSubject(neverCallsPreCapture),
    good: goodProvisioner,
    check: 'provisioner/capture-calls-pre-capture-once',
    failure: 'capture called preCapture 0 times, expected exactly once',
  },
  {
    what: 'a provisioner that reads the disk before preCapture returned',
    broken: provisionerSubject(readsDiskBeforePreCapture),
    good: goodProvisioner,
    check: 'provisioner/capture-calls-pre-capture-once',
    failure: 'the disk was read <n> ms before preCapture returned',
  },
  {
    what: 'a provisioner whose load never calls postLoad',
    broken: provisionerSubject(loadSkipsPostLoad),
    good: goodProvisioner,
    check: 'provisioner/load-ends-with-post-load',
    failure: 'load called postLoad 0 times, expected once',
  },
  {
    what: 'a provisioner that overwrites an existing revision',
    broken: provisionerSubject(overwritesExistingImage),
    good: goodProvisioner,
    check: 'provisioner/capture-refuses-existing',
    failure: 'a second capture of the same revision resolved',
  },
  {
    what: "an OS module whose preCapture ignores endState 'on'",
    broken: osSubject(ignoresEndState),
    good: goodOs,
    check: 'os/pre-capture-on',
    failure: "preCapture({ endState: 'on' }) reported off",
  },
  {
    what: "an OS module whose preCapture ignores endState 'reboot'",
    broken: osSubject(ignoresEndState),
    good: goodOs,
    check: 'os/pre-capture-reboot',
    failure: "preCapture({ endState: 'reboot' }) reported off",
  },
  {
    what: "an OS module that powers off but claims endState 'on'",
    broken: osSubject(liesAboutEndState),
    good: goodOs,
    check: 'os/pre-capture-on',
    failure: "preCapture({ endState: 'on' }) returned with the machine having gone down",
  },
  {
    what: 'an OS module that logs a revealed password',
    broken: osSubject(logsPassword),
    good: goodOs,
    check: 'os/no-secret-in-logs',
    failure:
      'a log record (info "creating reservation account") contains the value of the secret "password of alice"',
  },
  {
    what: 'an OS module whose reserve logs a revealed password (caught by reserve-sanitize too)',
    broken: osSubject(logsPassword),
    good: goodOs,
    check: 'os/reserve-sanitize',
    failure:
      'a log record (info "creating reservation account") contains the value of the secret "password of alice"',
  },
  {
    what: 'an OS module whose postLoad always says changed',
    broken: osSubject(postLoadAlwaysChanged),
    good: goodOs,
    check: 'os/post-load-idempotent',
    failure: 'a second postLoad returned changed: true; it must change nothing and say so',
  },
  {
    what: 'an OS module whose sanitize leaves an account',
    broken: osSubject(sanitizeLeavesAccount),
    good: goodOs,
    check: 'os/reserve-sanitize',
    failure: 'after sanitize these accounts remain: alice',
  },
  {
    what: 'an OS module that throws an uncoded Error',
    broken: osSubject(throwsUncodedError),
    good: goodOs,
    check: 'os/reserve-rejects-hostile-login',
    failure: `reserve with a hostile login threw an error without a VLAB_ERR_ code: bad login ${JSON.stringify("x'; rm -rf / #\n")}`,
  },
  {
    what: 'an OS module with an undeclared captureStart operation',
    broken: createdOsSubject(capturesWithCaptureStart),
    good: goodOs,
    check: 'os/declared-extensions',
    failure:
      'it has operations outside the contract that it does not declare in extensions: captureStart',
  },
  {
    what: 'a class-based provisioner with an undeclared helper method on its prototype',
    broken: createdProvisionerSubject(undeclaredHelperMethod),
    good: goodProvisioner,
    check: 'provisioner/declared-extensions',
    failure:
      'it has operations outside the contract that it does not declare in extensions: imageLabel',
  },
  {
    what: 'a provisioner whose second close throws',
    broken: provisionerSubject(closeNotIdempotent),
    good: goodProvisioner,
    check: 'provisioner/close',
    failure: 'a second close threw VLAB_ERR_COMPUTER_UNREACHABLE; close must be idempotent',
  },
  {
    what: 'a provisioner whose importImage does not check the sha256',
    broken: provisionerSubject(importSkipsChecksum),
    good: goodProvisioner,
    check: 'provisioner/import-image',
    failure: 'importImage with a wrong sha256 resolved',
  },
  {
    what: 'a provisioner whose importImage leaves a corrupt image in the store',
    broken: provisionerSubject(importLeavesCorruptImage),
    good: goodProvisioner,
    check: 'provisioner/import-image',
    failure: 'after a refused importImage (wrong sha256) the store still has the image',
  },
  {
    what: 'a provisioner whose nodeStatus throws after release',
    broken: provisionerSubject(releaseBreaksNodeStatus),
    good: goodProvisioner,
    check: 'provisioner/release',
    failure: 'after release nodeStatus threw VLAB_ERR_COMPUTER_UNREACHABLE; it must answer',
  },
  {
    what: "a provisioner that declares osFamilies ['Linux'] (not a lowercase family name)",
    broken: provisionerSubject(malformedOsFamilies),
    good: goodProvisioner,
    check: 'provisioner/declares-os-families',
    failure: 'capabilities.osFamilies is ["Linux"]; "Linux" is not a lowercase OS family name',
  },
  {
    what: 'a provisioner whose nodeStatus says ready for a tainted stamp',
    broken: provisionerSubject(nodeStatusIgnoresTaint),
    good: goodProvisioner,
    check: 'provisioner/node-status',
    failure:
      'after reserve (stamp tainted) nodeStatus gave the verdict "ready"; a tainted computer is always reloaded before reuse',
  },
  {
    what: "an OS module that declares shell 'bash'",
    broken: osSubject(declaresUnknownShell),
    good: goodOs,
    check: 'os/declares-family',
    failure: `shell is "bash"; expected 'posix' or 'powershell' (or none)`,
  },
  {
    what: 'an OS module whose userConnected never finds a session',
    broken: osSubject(userConnectedReportsNobody),
    good: goodOs,
    check: 'os/user-connected',
    failure: 'alice is logged in, but userConnected reported no session of them',
  },
  {
    what: 'an OS module whose userConnected reports users nobody asked about',
    broken: osSubject(userConnectedIgnoresUsers),
    good: goodOs,
    check: 'os/user-connected',
    failure: 'userConnected({ users: [bob] }) reported a session of alice, who was not asked about',
  },
  {
    what: 'an OS module whose userConnected gives the time of the question as since',
    broken: osSubject(userConnectedSinceNow),
    good: goodOs,
    check: 'os/user-connected',
    failure:
      "asked again, userConnected gave alice's session another start time (<time> instead of <time>): since must be when the session began, not when it was asked",
  },
  {
    what: 'an OS module whose userConnected still reports a user who logged out',
    broken: osSubject(userConnectedRemembers),
    good: goodOs,
    check: 'os/user-connected',
    failure: 'alice logged out, but userConnected still reports the session after 1000 ms',
    options: { operationTimeoutMs: 1000 },
  },
  {
    what: 'an OS module with userConnected that does not declare the feature',
    broken: osSubject(userConnectedUndeclared),
    good: goodOs,
    check: 'os/declares-features',
    failure:
      'it has a userConnected operation but does not declare the userConnected feature, so the manager never calls it',
  },
  {
    what: 'an OS module that declares identityDisk but leaves no identity unit in the image',
    broken: osSubject(identityDiskNotInstalled),
    good: goodOs,
    check: 'os/identity-disk',
    failure:
      "booted with an identity disk, the machine presents ssh-ed25519 <any>…, not the disk's host key ssh-ed25519 <any>… (does preCapture install the identity unit?)",
  },
  {
    what: 'a provisioner that requires an OS feature the contract does not know',
    broken: provisionerSubject(requiresUnknownOsFeature),
    good: goodProvisioner,
    check: 'provisioner/declares-features',
    failure:
      'capabilities.requiredOsFeatures is ["identitydisk"]; expected an array of OS feature names',
  },
  // Kit 2, section 1: secrets on every channel.
  {
    what: 'an OS module that passes a password in argv',
    broken: osSubject(passwordInArgv),
    good: goodOs,
    check: 'os/no-secret-in-commands',
    failure:
      'the argv or environment of the command chpasswd (secrets travel on stdin or in files only their user can read) contains the value of the secret "password of alice"',
  },
  {
    what: 'an OS module that writes passwords into a world-readable file',
    broken: osSubject(passwordInReadableFile),
    good: goodOs,
    check: 'os/no-secret-in-readable-files',
    failure:
      'the file /var/lib/vlab/support-passwords, readable by every account (mode 0644), contains the value of the secret "password of alice"',
  },
  {
    what: "an OS module whose error details hold the request's passwords",
    broken: osSubject(passwordInErrorDetails),
    good: goodOs,
    check: 'os/reserve-rejects-hostile-login',
    failure: 'an error reserve threw contains the value of the secret "password of alice"',
  },
  {
    what: "an OS module whose error's cause quotes a password",
    broken: osSubject(passwordInErrorCause),
    good: goodOs,
    check: 'os/reserve-validates-first',
    failure: 'an error reserve threw contains the value of the secret "password of alice"',
  },
  {
    what: 'an OS module that logs passwords through its own logger (deps.log)',
    broken: osSubject(passwordInModuleLog),
    good: goodOs,
    check: 'os/no-secret-in-logs',
    failure: 'a log record (debug "account") contains the value of the secret "password of alice"',
  },
  {
    what: 'a provisioner whose error details carry the BMC password',
    broken: provisionerSubject(bmcPasswordInError),
    good: goodProvisioner,
    check: 'provisioner/load-refuses-missing-image',
    failure: 'an error load threw contains the value of the secret "bmc password"',
  },
  // Kit 2, section 3: the whole machine state.
  {
    what: 'an OS module whose sanitize leaves a sudoers file',
    broken: osSubject(sanitizeLeavesSudoers),
    good: goodOs,
    check: 'os/sanitize-restores-state',
    failure:
      'after reserve and sanitize the machine differs from before reserve: file /etc/sudoers.d/vlab-alice was added',
  },
  {
    what: 'an OS module whose sanitize leaves authorized keys outside the homes',
    broken: osSubject(sanitizeLeavesAuthorizedKeys),
    good: goodOs,
    check: 'os/sanitize-restores-state',
    failure:
      'after reserve and sanitize the machine differs from before reserve: file /etc/ssh/authorized_keys/alice was added; file /etc/ssh/authorized_keys/bob was added',
  },
  {
    what: 'an OS module whose second reserve fails',
    broken: osSubject(reserveNotIdempotent),
    good: goodOs,
    check: 'os/reserve-idempotent',
    failure:
      'a second reserve with the same users threw (VLAB_ERR_COMMAND_FAILED: useradd exited with code 9: useradd: user \'alice\' already exists (computer "node1"). What to do: Read the stderr tail in the details; run the same program on the computer by hand to see the whole output.); reserve must be idempotent',
  },
  {
    what: 'an OS module whose second reserve appends to a history file again',
    broken: osSubject(reserveAppendsHistory),
    good: goodOs,
    check: 'os/reserve-idempotent',
    failure:
      'a second reserve with the same users changed the machine: file /var/lib/vlab/reservation-history changed (content)',
  },
  {
    what: 'an OS module that makes every user an admin',
    broken: osSubject(reserveAdminsEveryone),
    good: goodOs,
    check: 'os/reserve-grants',
    failure: 'reserve made bob an admin, but the request says admin: false',
  },
  {
    what: 'an OS module that declares passwordLogin and sets no password',
    broken: osSubject(reserveIgnoresPassword),
    good: goodOs,
    check: 'os/reserve-grants',
    failure: 'reserve set no password for alice',
  },
  {
    what: 'an OS module that sets another password than the one given',
    broken: osSubject(reserveManglesPassword),
    good: goodOs,
    check: 'os/reserve-grants',
    failure: 'alice cannot log in with the password the request gave',
  },
  {
    what: 'an OS module that validates each user only when it creates it',
    broken: osSubject(reserveValidatesLazily),
    good: goodOs,
    check: 'os/reserve-validates-first',
    failure:
      'reserve refused a login with shell metacharacters only after changing the machine: account alice was added; file /home/alice/.ssh/authorized_keys was added; file /var/lib/vlab/reservation-users was added',
  },
  {
    what: 'an OS module that splits an SSH key spanning lines into two keys',
    broken: osSubject(reserveAcceptsMultilineKey),
    good: goodOs,
    check: 'os/reserve-validates-first',
    failure: 'reserve accepted an SSH key spanning lines',
  },
  {
    what: 'an OS module that refuses an undeclared end state after it began to generalize',
    broken: osSubject(refusesEndStateLate),
    good: osSubjectWith(memoryOsModule, { endStates: ['off'] }),
    check: 'os/pre-capture-refuses-on',
    failure:
      "preCapture refused the end state 'on' only after changing the machine: file /etc/ssh/ssh_host_ed25519_key.pub was removed",
  },
  {
    what: "an OS module whose postLoad keeps the image's host key and machine id",
    broken: osSubject(postLoadKeepsHostKey),
    good: goodOs,
    check: 'os/post-load-rotates-identity',
    failure: "postLoad kept the image's host keys: ssh-ed25519",
  },
  {
    what: "an OS module whose postLoad rotates the host key but keeps the image's machine id",
    broken: osSubject(postLoadKeepsMachineId),
    good: goodOs,
    check: 'os/post-load-rotates-identity',
    failure:
      "postLoad kept the image's machine id: two loads of the image both have it (postLoad, or the image's first boot, must make a new one)",
  },
  {
    what: 'an OS module whose preCapture leaves the host key and machine id on the disk',
    broken: osSubject(preCaptureKeepsIdentity),
    good: goodOs,
    check: 'os/pre-capture-default-off',
    failure: 'the captured disk still holds host keys: ssh-ed25519',
  },
  {
    what: 'an OS module whose postLoad writes ready before its work',
    broken: osSubject(postLoadReadyFirst),
    good: goodOs,
    check: 'os/post-load-ready-only-when-done',
    failure: 'postLoad, aborted after 2 of its <n> commands, had already written the ready stamp',
  },
  // Issue 13, sections 2 and 4: the capture path and every operation (kit-2-capture-path-cases.ts).
  ...kit2Cases({ os: osSubject, provisioner: provisionerSubject, goodOs, goodProvisioner }),
  ...(['postLoad', 'reserve', 'sanitize', 'preCapture', 'waitForResponse'] as const).map(
    (operation): BrokenCase => ({
      what: `an OS module whose ${operation} ignores its AbortSignal`,
      broken: osSubject(hangsOnAbort),
      good: goodOs,
      check: `os/abort-${operation}`,
      failure: `${operation} did not stop within ${ABORT_BOUND_MS} ms of its AbortSignal firing`,
      options: { abortBoundMs: ABORT_BOUND_MS },
    }),
  ),
];

describe('the conformance kit catches broken modules', () => {
  for (const c of cases) {
    const expected = exactly(c.check, c.failure);
    const shown = `[${c.check}] ${c.failure.replaceAll('<n>', 'N')}`;

    // The timeout lets a kit that waits a hung operation out fail on the bound below, not time out.
    const timeout = HUNG_OPERATION_WAIT_MS + 15_000;
    it(`kit fails ${c.what}: ${shown}`, { timeout }, async () => {
      const check = await checkOf(c.broken, c.check, c.options);
      const began = performance.now();
      const outcome = check.run();
      await expect(outcome).rejects.toBeInstanceOf(ConformanceFailure);
      await expect(outcome).rejects.toThrow(expected);
      await expect(outcome).rejects.toMatchObject({ checkId: c.check });
      if (c.options?.abortBoundMs !== undefined) {
        // Reset and (for a loaded machine) postLoad, 50 ms before the abort, then the bound: the
        // kit gives up on the hung operation at the bound, lets the machine answer, and does not
        // wait the hung operation out. The upper bound tells "about the bound" (well under a
        // second) from "waited it out" (30 s), with room for any load on the machine.
        const took = performance.now() - began;
        expect(took).toBeGreaterThanOrEqual(ABORT_BOUND_MS);
        expect(took).toBeLessThan(HUNG_OPERATION_WAIT_MS / 2);
      }
    });

    it(`the good module passes ${c.check} (so the failure above is the breakage's)`, async () => {
      const check = await checkOf(c.good, c.check, c.options);
      await expect(check.run()).resolves.toBeUndefined();
    });
  }
});

describe('instantiate refuses undeclared operations (contract 1.1 extensions)', () => {
  const refusals = [
    {
      what: 'an OS module with captureStart',
      load: (lab: MemoryLab) => instantiateOsModule(capturesWithCaptureStart, {}, deps(lab)),
      message:
        'VLAB_ERR_MODULE_INVALID: module os-captures-with-capture-start created an invalid instance: it has operations outside the contract that it does not declare in extensions: captureStart.',
    },
    {
      what: 'a class-based provisioner with a helper method',
      load: (lab: MemoryLab) =>
        instantiateProvisioner(undeclaredHelperMethod, { lab: lab.id }, deps(lab)),
      message:
        'VLAB_ERR_MODULE_INVALID: module provisioner-undeclared-helper-method created an invalid instance: it has operations outside the contract that it does not declare in extensions: imageLabel.',
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.what}, naming the member`, async () => {
      const lab = createMemoryLab();
      labs.push(lab);
      const error = await r.load(lab).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'VLAB_ERR_MODULE_INVALID' });
      expect((error as Error).message.startsWith(r.message)).toBe(true);
    });
  }

  it('accepts the memory OS module, whose machineId extension is declared', async () => {
    const lab = createMemoryLab();
    labs.push(lab);
    const os = await instantiateOsModule(memoryOsModule, {}, deps(lab));
    expect(os.extensions).toEqual({ machineId: expect.any(String) });
    const harness = lab.harness('node1');
    await harness.reset();
    const withExtension = os as typeof os & { machineId(ctx: unknown): Promise<string> };
    const id = await withExtension.machineId(harness.osContext({ phase: 'x', timeoutMs: 5000 }));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});
