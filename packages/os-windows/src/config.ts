import { coreError, type OsModuleDefinition, type SecretRef } from '@vlab/core';
import { z } from 'zod';

const secretRef = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

const schema = z
  .object({
    administrator: z
      .object({
        name: z.string().default('Administrator'),
        imagePassword: secretRef.optional(),
        passwordDirectory: z.string().optional(),
      })
      .strict()
      .default({ name: 'Administrator' }),
    managementKeys: z.array(z.string()).default([]),
    managementNetworks: z.array(z.string()).default([]),
    domainGroup: z.string().optional(),
    pageFile: z.enum(['keep', 'clearAtCapture', 'clearAtShutdown']).default('clearAtCapture'),
    unattend: z
      .object({
        locale: z.string().default('en-US'),
        timeZone: z.string().default('UTC'),
      })
      .strict()
      .default({ locale: 'en-US', timeZone: 'UTC' }),
    ports: z
      .object({
        rdp: z.number().int().min(1).max(65535).default(3389),
        ssh: z.number().int().min(1).max(65535).default(22),
      })
      .strict()
      .default({ rdp: 3389, ssh: 22 }),
    pollIntervalMs: z.number().int().positive().default(1000),
    setupTimeoutMs: z.number().int().positive().default(1_800_000),
    sysprepTimeoutMs: z.number().int().positive().default(1_800_000),
  })
  .strict();

/** The local administrator account and its password (never a value: references only). @public */
export interface WindowsAdministratorConfig {
  /** The account the management logs in as and `postLoad` rotates the password of. Default: `Administrator`. */
  readonly name: string;
  /**
   * The password a captured image's administrator has when it first boots (the answer file's
   * oobeSystem pass), as a secret reference resolved through the context's secret resolver.
   * Absent: `preCapture` generates one per capture and keeps it nowhere (`postLoad` replaces it
   * anyway, and the management logs in with its key).
   */
  readonly imagePassword?: SecretRef | undefined;
  /**
   * A directory on the manager's host where `postLoad` keeps the administrator password it
   * generates, one file per computer (`<directory>/<computer name>`, mode 0600), written before
   * the machine gets the password; read it back as the secret reference `{ file }`. Absent: the
   * generated password is kept nowhere (as Apache VCL does: the management logs in with keys).
   */
  readonly passwordDirectory?: string | undefined;
}

/** The validated config of `os-windows`, every default applied; see the README's table. @public */
export interface WindowsOsConfig {
  /** The local administrator account and where its passwords come from and go. */
  readonly administrator: WindowsAdministratorConfig;
  /** OpenSSH public keys of the lab's management: kept in `administrators_authorized_keys`. Default: none. */
  readonly managementKeys: readonly string[];
  /** Addresses or CIDR prefixes that always reach SSH and RDP, besides the module's own connection. Default: none. */
  readonly managementNetworks: readonly string[];
  /** A domain group (`DOMAIN\Group`) `postLoad` makes a member of Administrators (domain-joined images). Default: none. */
  readonly domainGroup?: string | undefined;
  /**
   * The page file: `clearAtCapture` (default) zeroes it at the capture's shutdown so no
   * reservation's memory travels in an image; `clearAtShutdown` at every shutdown; `keep` never.
   */
  readonly pageFile: 'keep' | 'clearAtCapture' | 'clearAtShutdown';
  /** What the answer file sets at the first boot of a captured image. */
  readonly unattend: {
    /** UI, system, user and input locale (`en-US`). Default: `en-US`. */
    readonly locale: string;
    /** Windows time zone id (`W. Europe Standard Time`). Default: `UTC`. */
    readonly timeZone: string;
  };
  /** The ports users connect to. Defaults: RDP 3389, SSH 22. */
  readonly ports: { readonly rdp: number; readonly ssh: number };
  /** How often power and setup state are polled, in ms. Default: 1000. */
  readonly pollIntervalMs: number;
  /** How long `postLoad` waits for specialize and OOBE to finish, in ms. Default: 1800000 (VCL's 30 min). */
  readonly setupTimeoutMs: number;
  /** How long sysprep may run, in ms. Default: 1800000 (VCL's 30 min). */
  readonly sysprepTimeoutMs: number;
}

/** The config as written in a config file: every field optional. @public */
export type WindowsOsConfigInput = {
  readonly [K in keyof WindowsOsConfig]?: K extends 'administrator' | 'unattend' | 'ports'
    ? Partial<WindowsOsConfig[K]>
    : WindowsOsConfig[K];
};

/**
 * The config section's schema (Standard Schema), which the manager validates the `os-windows`
 * section of its config file with; unknown keys are refused.
 * @public
 */
export const windowsOsConfigSchema: OsModuleDefinition<WindowsOsConfig>['configSchema'] = schema;

/**
 * The config with defaults applied, for embedding and tests. Throws `VLAB_ERR_CONFIG_INVALID`
 * naming the key.
 * @public
 */
export function windowsOsConfig(input: WindowsOsConfigInput = {}): WindowsOsConfig {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw coreError(
    'VLAB_ERR_CONFIG_INVALID',
    `os-windows config: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    {
      hint: 'Fix that key of the os-windows section (see the README of @vlab/os-windows for each key and its default).',
    },
  );
}
