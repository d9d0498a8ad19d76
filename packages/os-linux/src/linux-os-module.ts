import type { EndState, OsContext, OsFeature, OsModule } from '@vlab/core';
import { waitForGuest } from '@vlab/core';
import { type LinuxOsConfig, linuxOsConfig } from './config.js';
import { Guest } from './guest.js';
import { postLoad } from './post-load.js';
import { guestResponds, rebootStarted, shutdownConfirmed } from './power.js';
import { preCapture } from './pre-capture.js';
import { postReservation, reserve, sanitize } from './reservation.js';
import { readStampFile } from './stamp-file.js';
import { userConnected } from './user-connected.js';
import { assertNetwork, assertPublicKey, assertServer } from './validate.js';

/** The end states `preCapture` reaches: all three. @public */
export const LINUX_END_STATES: readonly EndState[] = ['off', 'reboot', 'on'];

/**
 * Makes the Linux OS module from a validated config (what the package's default export's
 * `create` does). Checks the config's keys, networks and servers; touches no machine.
 * Throws `VLAB_ERR_CONFIG_INVALID`.
 * @public
 */
export function createLinuxOsModule(config: LinuxOsConfig = linuxOsConfig()): OsModule {
  config.managementKeys.forEach((key, index) => {
    assertPublicKey(key, '(config)', `managementKeys[${index}]`);
  });
  for (const network of config.managementNetworks)
    assertNetwork(network, '(config)', 'managementNetworks entry');
  for (const server of config.timeServers) assertServer(server, '(config)');

  const features: OsFeature[] = ['passwordLogin', 'adminUsers', 'userConnected', 'identityDisk'];
  if (config.firewall !== 'none') features.push('firewall');
  const guest = (ctx: OsContext): Guest => new Guest(ctx, config.sudo);

  return {
    name: 'os-linux',
    family: 'linux',
    shell: 'posix',
    capabilities: { endStates: LINUX_END_STATES, features },
    postLoad: (ctx) => postLoad(guest(ctx), config),
    reserve: (ctx, args) => reserve(guest(ctx), config, args),
    sanitize: (ctx) => sanitize(guest(ctx), config),
    postReservation: (ctx) => postReservation(guest(ctx)),
    preCapture: (ctx, args) => preCapture(guest(ctx), config, LINUX_END_STATES, args),
    isResponding: (ctx) => guestResponds(guest(ctx)),
    waitForResponse: (ctx, options = {}) => waitForGuest(ctx, options.timeoutMs),
    shutdown: (ctx, options = {}) =>
      shutdownConfirmed(guest(ctx), config.pollIntervalMs, options.timeoutMs),
    async reboot(ctx, options = {}) {
      const started = Date.now();
      await rebootStarted(guest(ctx), config.pollIntervalMs, options.timeoutMs);
      await waitForGuest(ctx, (options.timeoutMs ?? 300_000) - (Date.now() - started));
    },
    readStamp: (ctx) => readStampFile(guest(ctx)),
    userConnected: (ctx, args) => userConnected(guest(ctx), args),
  };
}
