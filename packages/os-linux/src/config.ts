import { coreError, type OsModuleDefinition } from '@vlab/core';
import { z } from 'zod';

const schema = z
  .object({
    /**
     * OpenSSH public keys (one-line format) of the lab's management, which `postLoad` makes sure
     * root's `authorized_keys` holds. Default: none (the key the provisioner deployed stays).
     */
    managementKeys: z.array(z.string()).default([]),
    /**
     * Whether captured images keep `managementKeys`. With `false`, `preCapture` removes them and
     * the provisioner must put a key into every deployed image. Default: `true`.
     */
    keepManagementKeysInImage: z.boolean().default(true),
    /**
     * Addresses or CIDR prefixes from which the management reaches SSH whatever the reservation.
     * The address of the communicator's own connection is always added, so the module cannot
     * lock the management out. Default: none.
     */
    managementNetworks: z.array(z.string()).default([]),
    /** The guest's SSH port, for users and for the firewall. Default: 22. */
    sshPort: z.number().int().min(1).max(65535).default(22),
    /**
     * The guest firewall: `auto` picks nftables, else iptables, from what the image has; `none`
     * leaves the firewall alone (and the module does not declare the `firewall` feature).
     */
    firewall: z.enum(['auto', 'nftables', 'iptables', 'none']).default('auto'),
    /** NTP servers `postLoad` configures (systemd-timesyncd or chrony, whichever the image has). */
    timeServers: z.array(z.string()).default([]),
    /** Run every command through sudo: the management logs in as a user other than root. */
    sudo: z.boolean().default(false),
    /** How often power is polled while waiting for a shutdown or reboot, in ms. Default: 1000. */
    pollIntervalMs: z.number().int().positive().default(1000),
  })
  .strict();

/** The validated config of `os-linux`, every default applied; see the README's table. @public */
export interface LinuxOsConfig {
  /** OpenSSH public keys `postLoad` makes sure root's `authorized_keys` holds. Default: none. */
  readonly managementKeys: readonly string[];
  /** Whether captured images keep `managementKeys` (`false`: `preCapture` removes them). Default: true. */
  readonly keepManagementKeysInImage: boolean;
  /** Addresses or CIDR prefixes that always reach SSH, besides the module's own connection. Default: none. */
  readonly managementNetworks: readonly string[];
  /** The guest's SSH port, for users and for the firewall. Default: 22. */
  readonly sshPort: number;
  /** `auto` (nftables, else iptables), `nftables`, `iptables`, or `none`. Default: `auto`. */
  readonly firewall: 'auto' | 'nftables' | 'iptables' | 'none';
  /** NTP servers for systemd-timesyncd or chrony. Default: none. */
  readonly timeServers: readonly string[];
  /** Run every command through sudo (a management login other than root). Default: false. */
  readonly sudo: boolean;
  /** How often power is polled while a shutdown or reboot is confirmed, in ms. Default: 1000. */
  readonly pollIntervalMs: number;
}

/** The config as written in a config file: every field optional. @public */
export type LinuxOsConfigInput = Partial<LinuxOsConfig>;

/**
 * The config section's schema (Standard Schema), which the manager validates the `os-linux`
 * section of its config file with; unknown keys are refused.
 * @public
 */
export const linuxOsConfigSchema: OsModuleDefinition<LinuxOsConfig>['configSchema'] = schema;

/**
 * The config with defaults applied, for embedding and tests. Throws `VLAB_ERR_CONFIG_INVALID`
 * naming the key.
 * @public
 */
export function linuxOsConfig(input: LinuxOsConfigInput = {}): LinuxOsConfig {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw coreError(
    'VLAB_ERR_CONFIG_INVALID',
    `os-linux config: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
  );
}
