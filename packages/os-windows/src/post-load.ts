import {
  type PostLoadResult,
  readyStamp,
  sleep,
  stampToPrepare,
  startGoingDown,
  waitForGuest,
} from '@vlab/core';
import { rotateAdministratorPassword } from './administrator.js';
import type { WindowsOsConfig } from './config.js';
import { windowsError } from './errors.js';
import { type GuestFacts, readFacts } from './facts.js';
import { setAccess } from './firewall.js';
import type { Guest } from './guest.js';
import { syncManagementKeys } from './management-keys.js';
import { PAGE_FILE_KEY, pageFileValue } from './page-file.js';
import { GUEST_PATHS } from './paths.js';
import { rebootStarted } from './power.js';
import { EMPTY_STATE, readReservationState } from './reservation-state.js';
import { sshdConfigWithUserKeys } from './sshd-config.js';
import { readStampFile, writeStampFile } from './stamp-file.js';
import { GENERALIZED, SETUP_COMPLETE } from './sysprep.js';
import { computerNameOf } from './validate.js';

/**
 * Waits until specialize and OOBE have finished (`ImageState` IMAGE_STATE_COMPLETE): before that
 * Windows Setup may still rename, reboot or reset what the module sets. Returns the facts then.
 */
async function setupFinished(guest: Guest, config: WindowsOsConfig): Promise<GuestFacts> {
  const limit = Math.min(config.setupTimeoutMs, guest.ctx.remainingMs());
  const until = Date.now() + limit;
  for (;;) {
    const facts = await readFacts(guest);
    // A machine that never ran sysprep may have no ImageState: nothing to wait for.
    if (facts.imageState === undefined || facts.imageState === SETUP_COMPLETE) return facts;
    // Generalized (sysprep /quit) and not booted since: Setup runs only at the next boot.
    if (facts.imageState === GENERALIZED) {
      throw windowsError(
        'VLAB_ERR_WINDOWS_SETUP_INCOMPLETE',
        'the machine was generalized by sysprep and has not booted since, so Windows Setup has not run',
        {
          computer: guest.computer,
          details: { imageState: facts.imageState },
        },
      );
    }
    if (Date.now() + config.pollIntervalMs > until) {
      throw windowsError(
        'VLAB_ERR_WINDOWS_SETUP_INCOMPLETE',
        `Windows Setup is still at ${facts.imageState} after ${Math.round(limit / 1000)} s`,
        { computer: guest.computer, details: { imageState: facts.imageState, timeoutMs: limit } },
      );
    }
    guest.ctx.log.info('waiting for Windows Setup to finish', { imageState: facts.imageState });
    await sleep(config.pollIntervalMs, guest.ctx.signal, guest.computer);
  }
}

/**
 * New host keys for a fresh image (or keys where there are none), pinned over the still-trusted
 * connection before sshd uses them. Returns whether sshd must restart.
 */
async function setHostKeys(guest: Guest, fresh: boolean): Promise<boolean> {
  const existing = (await guest.runChecked('hostKeys')).trim();
  if (!fresh && existing !== '') return false;
  const keys = (await guest.runChecked('newHostKeys', [], { timeoutMs: 120_000 }))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  await guest.ctx.communicator.trustHostKeys(keys, { signal: guest.ctx.signal });
  guest.ctx.log.info('new SSH host keys pinned', { types: keys.map((k) => k.split(' ')[0]) });
  return true;
}

/** Adds the reservation users' key files to sshd_config; returns whether it changed. */
async function setSshdConfig(guest: Guest): Promise<boolean> {
  const current = await guest.readFile(GUEST_PATHS.sshdConfig);
  if (current === undefined) {
    guest.ctx.log.warn('no sshd_config: reservation users\u2019 SSH keys will not be read');
    return false;
  }
  const next = sshdConfigWithUserKeys(current);
  return next !== current && (await guest.writeFile(GUEST_PATHS.sshdConfig, next));
}

/**
 * `postLoad`: makes a freshly loaded (sysprepped) image this machine. Each step compares before
 * it writes, so a second call changes nothing; only a fresh image (a stamp not `ready` for this
 * computer) gets new host keys and a new administrator password.
 */
export async function postLoad(guest: Guest, config: WindowsOsConfig): Promise<PostLoadResult> {
  const { ctx } = guest;
  const name = computerNameOf(ctx.computer.hostname, guest.computer);
  const facts = await setupFinished(guest, config);
  const stamp = stampToPrepare(guest.ctx, await readStampFile(guest));
  const fresh = !(stamp.state === 'ready' && stamp.computer === ctx.computer.name);
  const changes: string[] = [];
  const step = async (label: string, work: () => Promise<boolean>): Promise<void> => {
    if (await work()) changes.push(label);
  };
  // What SetupComplete should have removed (an edition that skips it, an interrupted first boot).
  if (fresh) await step('leftovers', async () => (await guest.remove(GUEST_PATHS.unattend)) > 0);
  let restartSshd = false;
  await step(
    'host-keys',
    async () => (restartSshd = (await setHostKeys(guest, fresh)) || restartSshd),
  );
  await step(
    'sshd-config',
    async () => (restartSshd = (await setSshdConfig(guest)) || restartSshd),
  );
  if (restartSshd) {
    // Open sessions normally outlive the restart; if ours does not, the next call reconnects.
    const lost = await startGoingDown(ctx, 'restart sshd', () =>
      guest.runChecked('restartSshd', [], { timeoutMs: 120_000 }),
    );
    if (lost !== undefined) await waitForGuest(ctx, 120_000);
  }
  await step('management-keys', () => syncManagementKeys(guest, config.managementKeys));
  if (fresh) {
    await rotateAdministratorPassword(guest, config);
    changes.push('administrator-password');
  }
  const domainGroup = config.domainGroup;
  if (domainGroup !== undefined)
    await step('domain-group', async () =>
      (await guest.runChecked('addAdministratorsMember', [domainGroup])).includes('changed'),
    );
  await step('remote-desktop', async () =>
    (
      await guest.runChecked('writeRegistry', [
        GUEST_PATHS.terminalServerKey,
        'fDenyTSConnections',
        'DWord',
        '0',
      ])
    ).includes('changed'),
  );
  if (config.pageFile !== 'keep')
    await step('page-file', async () =>
      (
        await guest.runChecked('writeRegistry', [
          PAGE_FILE_KEY,
          'ClearPageFileAtShutdown',
          'DWord',
          pageFileValue(config),
        ])
      ).includes('changed'),
    );
  const state = fresh ? EMPTY_STATE : await readReservationState(guest, config.administrator.name);
  await step('firewall', () => setAccess(guest, config, facts, state.allowFrom));
  if (facts.activeName.toLowerCase() !== name.toLowerCase()) {
    if (facts.pendingName?.toLowerCase() !== name.toLowerCase())
      await guest.runChecked('renameComputer', [name]);
    // A new computer name takes effect at the next boot.
    const started = Date.now();
    await rebootStarted(guest, config.pollIntervalMs);
    await waitForGuest(ctx, 600_000 - (Date.now() - started));
    changes.push('computer-name');
  }
  let result = stamp;
  if (fresh) {
    result = readyStamp(stamp, ctx.computer.name);
    await writeStampFile(guest, result);
    changes.push('stamp');
  }
  ctx.log.info(changes.length > 0 ? 'postLoad done' : 'postLoad found nothing to change', {
    changes,
    computerName: name,
    image: result.image,
    revision: result.revision,
  });
  return { changed: changes.length > 0, stamp: result };
}
