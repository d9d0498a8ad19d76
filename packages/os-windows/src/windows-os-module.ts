import {
  coreError,
  type EndState,
  type OsContext,
  type OsFeature,
  type OsModule,
  waitForGuest,
} from '@vlab/core';
import { type WindowsOsConfig, windowsOsConfig } from './config.js';
import { Guest } from './guest.js';
import { postLoad } from './post-load.js';
import { guestResponds, rebootStarted, shutdownConfirmed } from './power.js';
import { preCapture } from './pre-capture.js';
import { postReservation, reserve, sanitize } from './reservation.js';
import { readStampFile } from './stamp-file.js';
import {
  assertAdministratorName,
  assertDomainGroup,
  assertNetwork,
  assertPublicKey,
  assertUnattendSettings,
} from './validate.js';

/** The end states `preCapture` reaches: all three (sysprep's /shutdown, /reboot and /quit). @public */
export const WINDOWS_END_STATES: readonly EndState[] = ['off', 'reboot', 'on'];

/**
 * The optional features: password logins, admin users and the firewall. Not `identityDisk`: core's
 * identity disk is ext4, which Windows cannot read (see the README); not `userConnected` yet.
 * @public
 */
export const WINDOWS_FEATURES: readonly OsFeature[] = ['passwordLogin', 'adminUsers', 'firewall'];

/** The guest of a context, refusing a communicator that does not speak PowerShell. */
function guestOf(ctx: OsContext): Guest {
  if (ctx.communicator.shell !== 'powershell') {
    throw coreError(
      'VLAB_ERR_CAPABILITY_MISSING',
      `os-windows needs a PowerShell communicator, but the one of this computer speaks ${String(ctx.communicator.shell)}`,
      {
        computer: ctx.computer.name,
        hint: "Give the computer's SSH target shell: 'powershell' (Windows' OpenSSH), or use os-linux for it.",
      },
    );
  }
  return new Guest(ctx);
}

/**
 * Makes the Windows OS module from a validated config (what the package's default export's
 * `create` does). Checks the config's keys, networks, names and answer-file settings; touches no
 * machine. Throws `VLAB_ERR_CONFIG_INVALID`.
 * @public
 */
export function createWindowsOsModule(config: WindowsOsConfig = windowsOsConfig()): OsModule {
  assertAdministratorName(config.administrator.name);
  config.managementKeys.forEach((key, index) => {
    assertPublicKey(key, '(config)', `managementKeys[${index}]`);
  });
  for (const network of config.managementNetworks)
    assertNetwork(network, '(config)', 'managementNetworks entry');
  if (config.domainGroup !== undefined) assertDomainGroup(config.domainGroup);
  assertUnattendSettings(config.unattend.locale, config.unattend.timeZone);
  if (
    config.administrator.passwordDirectory !== undefined &&
    !config.administrator.passwordDirectory.startsWith('/')
  )
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      'administrator.passwordDirectory is not an absolute path',
      {
        hint: 'Give the directory on the manager host as an absolute path, e.g. /var/lib/vlab/windows-admin.',
      },
    );

  return {
    name: 'os-windows',
    family: 'windows',
    shell: 'powershell',
    capabilities: { endStates: WINDOWS_END_STATES, features: WINDOWS_FEATURES },
    postLoad: async (ctx) => postLoad(guestOf(ctx), config),
    reserve: async (ctx, args) => reserve(guestOf(ctx), config, args),
    sanitize: async (ctx) => sanitize(guestOf(ctx), config),
    postReservation: async (ctx) => postReservation(guestOf(ctx)),
    preCapture: async (ctx, args) => preCapture(guestOf(ctx), config, WINDOWS_END_STATES, args),
    isResponding: async (ctx) => guestResponds(guestOf(ctx)),
    waitForResponse: async (ctx, options = {}) => waitForGuest(ctx, options.timeoutMs),
    shutdown: async (ctx, options = {}) =>
      shutdownConfirmed(guestOf(ctx), config.pollIntervalMs, options.timeoutMs),
    async reboot(ctx, options = {}) {
      const started = Date.now();
      await rebootStarted(guestOf(ctx), config.pollIntervalMs, options.timeoutMs);
      await waitForGuest(ctx, (options.timeoutMs ?? 300_000) - (Date.now() - started));
    },
    readStamp: async (ctx) => readStampFile(guestOf(ctx)),
  };
}
