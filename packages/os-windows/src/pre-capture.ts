import {
  capturedStamp,
  confirmPowerOff,
  confirmWentDown,
  type EndState,
  isVlabError,
  type PreCaptureArgs,
  type PreCaptureResult,
  type RunResult,
  requestedEndState,
  startGoingDown,
} from '@vlab/core';
import { imageAdministratorPassword } from './administrator.js';
import type { WindowsOsConfig } from './config.js';
import { readFacts } from './facts.js';
import { FIRST_BOOT_PS1, SETUP_COMPLETE_CMD } from './first-boot.js';
import { asciiJson, type Guest } from './guest.js';
import { syncManagementKeys } from './management-keys.js';
import { PAGE_FILE_KEY } from './page-file.js';
import { GUEST_PATHS } from './paths.js';
import { bootMark, guestBootTime } from './power.js';
import { sanitize } from './reservation.js';
import { writeStampFile } from './stamp-file.js';
import { GENERALIZED, SYSPREP_END_SWITCH, sysprepFailed } from './sysprep.js';
import { unattendXml } from './unattend.js';

/**
 * `preCapture`: refuses an undeclared end state before anything changes; ends the reservation
 * (sanitize), clears event logs and temporary files, removes the SSH host keys, writes the
 * `captured` stamp, the answer file and the first-boot script; then runs sysprep with the end
 * state's switch and confirms the end state (see the README).
 */
export async function preCapture(
  guest: Guest,
  config: WindowsOsConfig,
  endStates: readonly EndState[],
  args: PreCaptureArgs,
): Promise<PreCaptureResult> {
  const { ctx } = guest;
  const endState = requestedEndState(args.endState, endStates, 'os-windows', guest.computer);
  // Resolved before anything changes: a missing secret must not leave a half-generalized machine.
  const password = await imageAdministratorPassword(guest, config);
  const facts = await readFacts(guest);
  await sanitize(guest, config, facts);
  // Mirror of postLoad's firewall: the image boots with its own OpenSSH rule, not this lab's.
  const rules = Number((await guest.runChecked('resetFirewall')).trim()) || 0;
  const logs = (await guest.runChecked('clearEventLogs', [], { timeoutMs: 300_000 })).trim();
  await guest.runChecked('clearTemp', [], { timeoutMs: 300_000 });
  await guest.runChecked('removeHostKeys');
  await syncManagementKeys(guest, config.managementKeys);
  if (config.pageFile !== 'keep')
    await guest.runChecked('writeRegistry', [
      PAGE_FILE_KEY,
      'ClearPageFileAtShutdown',
      'DWord',
      '1',
    ]);
  await writeStampFile(guest, capturedStamp(args.stamp));
  await guest.writeFile(
    `${GUEST_PATHS.vlabDir}\\first-boot.json`,
    `${asciiJson({ administrator: config.administrator.name })}\r\n`,
  );
  await guest.writeFile(GUEST_PATHS.firstBootScript, FIRST_BOOT_PS1);
  await guest.writeFile(GUEST_PATHS.setupComplete, SETUP_COMPLETE_CMD);
  await guest.writeFile(
    GUEST_PATHS.unattend,
    unattendXml({
      architecture: facts.architecture,
      locale: config.unattend.locale,
      timeZone: config.unattend.timeZone,
      administratorPassword: password,
    }),
  );
  ctx.log.info('generalized for capture; running sysprep', {
    image: args.stamp.image,
    revision: args.stamp.revision,
    endState,
    eventLogsCleared: Number(logs) || 0,
    firewallRulesRemoved: rules,
  });

  const before = endState === 'reboot' ? await bootMark(guest) : undefined;
  const sysprep = (): Promise<RunResult> =>
    guest.run('sysprep', [SYSPREP_END_SWITCH[endState], GUEST_PATHS.unattend], {
      timeoutMs: config.sysprepTimeoutMs,
    });
  const secrets = [password];
  if (endState === 'on') {
    const result = await sysprep();
    if (result.code !== 0)
      throw await sysprepFailed(guest, `exited with code ${result.code}`, secrets, { result });
    const state = await guest.run('readRegistry', [GUEST_PATHS.setupStateKey, 'ImageState']);
    const imageState = state.stdout.toString('utf8').trim();
    if (imageState !== GENERALIZED)
      throw await sysprepFailed(
        guest,
        `returned, but ImageState is ${imageState || 'unset'}, not ${GENERALIZED}`,
        secrets,
        { result },
      );
    ctx.log.info('generalized and left running', { imageState });
    return { endState };
  }
  let exit: RunResult | undefined;
  const startError = await startGoingDown(
    ctx,
    `sysprep ${SYSPREP_END_SWITCH[endState]}`,
    async () => {
      exit = await sysprep();
    },
  );
  if (exit !== undefined && exit.code !== 0)
    throw await sysprepFailed(guest, `exited with code ${exit.code}`, secrets, { result: exit });
  try {
    const wait = { intervalMs: config.pollIntervalMs, startError };
    if (endState === 'off') await confirmPowerOff(ctx, wait);
    else
      await confirmWentDown(
        ctx,
        before ?? { probe: undefined, guest: undefined },
        () => guestBootTime(guest),
        wait,
      );
  } catch (error) {
    // Still running after all: sysprep may have failed quietly; its logs say so if it did.
    if (!isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED')) throw error;
    const failure = await sysprepFailed(
      guest,
      `did not reach the end state "${endState}"`,
      secrets,
      { cause: error },
    );
    if ((failure.details['setuperr'] as string[]).length > 0) throw failure;
    throw error;
  }
  return { endState };
}
