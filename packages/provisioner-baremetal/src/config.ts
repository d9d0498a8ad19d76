import { coreError, type ProvisionerDefinition } from '@vlab/core';
import { z } from 'zod';

const milliseconds = z.number().int().positive();

const schema = z
  .object({
    /** The image store: a directory on the manager's host. */
    store: z.object({ path: z.string().startsWith('/') }).strict(),
    /**
     * RMCP+ cipher suites the BMC sessions may use, in order of preference. Suite 3 (SHA-1) only
     * where the operator allows it. Default: `[17]`.
     */
    cipherSuites: z
      .array(z.union([z.literal(17), z.literal(3)]))
      .min(1)
      .default([17]),
    /** The deploy environment's login (its authorized key is the computer's `deployKey`). Default: root. */
    deployUser: z.string().min(1).default('root'),
    /** The computer's disk as the deploy environment sees it; a computer's `deployDisk` attribute wins. */
    deployDisk: z.string().startsWith('/').default('/dev/sda'),
    /**
     * Write only the image's non-zero blocks after discarding the disk (the disk must read zeroes
     * after `blkdiscard`; the read-back checksum fails a load where it does not). Default: true.
     */
    sparseWrites: z.boolean().default(true),
    /** zstd level the deploy environment compresses captured disks with. Default: 3. */
    compressionLevel: z.number().int().min(1).max(19).default(3),
    /** Deadlines of the steps, in ms. */
    timeouts: z
      .object({
        /** One BMC command (a power read, a boot flag). Default: 20 s. */
        bmcCommandMs: milliseconds.default(20_000),
        /** A power change confirmed through the BMC. Default: 60 s. */
        powerMs: milliseconds.default(60_000),
        /** From power on until the deploy environment answers SSH. Default: 10 min. */
        deployBootMs: milliseconds.default(600_000),
        /** From power on until the installed OS answers. Default: 10 min. */
        osBootMs: milliseconds.default(600_000),
        /** preCapture, shutdown included, until the BMC reads off. Default: 20 min. */
        preCaptureMs: milliseconds.default(1_200_000),
        /** A disk transfer (write and verify, or read). Default: 6 h. */
        transferMs: milliseconds.default(6 * 3_600_000),
        /** A transfer that moves no byte for this long fails. Default: 2 min. */
        transferIdleMs: milliseconds.default(120_000),
      })
      .strict()
      .default({
        bmcCommandMs: 20_000,
        powerMs: 60_000,
        deployBootMs: 600_000,
        osBootMs: 600_000,
        preCaptureMs: 1_200_000,
        transferMs: 6 * 3_600_000,
        transferIdleMs: 120_000,
      }),
    /** How often power is read while a change is confirmed, in ms. Default: 1000. */
    pollIntervalMs: milliseconds.default(1000),
  })
  .strict();

/** The validated config of `provisioner-baremetal`, every default applied; see the README's table. @public */
export interface BaremetalConfig {
  /** The image store: a directory on the manager's host. */
  readonly store: { readonly path: string };
  /** RMCP+ cipher suites, in order of preference (17; 3 where allowed). Default: `[17]`. */
  readonly cipherSuites: readonly (17 | 3)[];
  /** The deploy environment's login. Default: root. */
  readonly deployUser: string;
  /** The computer's disk in the deploy environment, unless its `deployDisk` attribute says otherwise. Default: /dev/sda. */
  readonly deployDisk: string;
  /** Discard the disk, then write only non-zero blocks. Default: true. */
  readonly sparseWrites: boolean;
  /** zstd level of captured disks. Default: 3. */
  readonly compressionLevel: number;
  /** Deadlines of the steps, in ms. */
  readonly timeouts: {
    readonly bmcCommandMs: number;
    readonly powerMs: number;
    readonly deployBootMs: number;
    readonly osBootMs: number;
    readonly preCaptureMs: number;
    readonly transferMs: number;
    readonly transferIdleMs: number;
  };
  /** How often power is read while a change is confirmed, in ms. Default: 1000. */
  readonly pollIntervalMs: number;
}

/** The config as written in a config file: `store` required, the rest optional. @public */
export type BaremetalConfigInput = { readonly store: { readonly path: string } } & Partial<
  Omit<BaremetalConfig, 'store' | 'timeouts'>
> & { readonly timeouts?: Partial<BaremetalConfig['timeouts']> };

/**
 * The config section's schema (Standard Schema) the manager validates the module's section with;
 * unknown keys are refused.
 * @public
 */
export const baremetalConfigSchema: ProvisionerDefinition<BaremetalConfig>['configSchema'] =
  schema as unknown as ProvisionerDefinition<BaremetalConfig>['configSchema'];

/**
 * The config with defaults applied, for embedding and tests. Throws `VLAB_ERR_CONFIG_INVALID`
 * naming the key.
 * @public
 */
export function baremetalConfig(input: BaremetalConfigInput): BaremetalConfig {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw coreError(
    'VLAB_ERR_CONFIG_INVALID',
    `provisioner-baremetal config: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
  );
}
