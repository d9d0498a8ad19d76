import { coreError, type ProvisionerDefinition, type SecretRef } from '@vlab/core';
import { z } from 'zod';

const milliseconds = z.number().int().positive();
const absolute = z.string().startsWith('/');
const secretRef = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
/** A public key as pinned: `type base64`. */
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;
/** A host's name in the config, as computers' `libvirtHost` attributes name it. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const host = z
  .object({
    /** Where the host answers SSH. */
    address: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** The login; it runs `virsh` and `qemu-img`, so root or a member of the `libvirt` group. */
    user: z.string().min(1).default('root'),
    /** The host's SSH host key, `type base64`, pinned: nothing else is trusted. */
    hostKey: z
      .string()
      .transform((key) => key.trim().split(/\s+/).slice(0, 2).join(' '))
      .pipe(z.string().regex(HOST_KEY, 'is not an SSH public key ("type base64")')),
    /** The private key the host authorizes, as a reference (never the key itself). */
    key: secretRef,
    /** libvirt's connection URI on the host. */
    uri: z.string().min(1).default('qemu:///system'),
    /** The host's directory for master images and the VMs' disks; QEMU's user must read it. */
    dir: absolute.default('/var/lib/vlab/libvirt'),
    /** The libvirt network the VMs' NICs join. */
    network: z.string().min(1),
    /** `kvm` (hardware virtualization) or `qemu` (TCG emulation, where KVM does not work). */
    domainType: z.enum(['kvm', 'qemu']).default('kvm'),
  })
  .strict();

const schema = z
  .object({
    /** The image store: a directory on the manager's host. */
    store: z.object({ path: absolute }).strict(),
    /** The hypervisor hosts by name; a computer names its host with the `libvirtHost` attribute. */
    hosts: z
      .record(z.string().regex(HOST_NAME, 'is not a host name'), host)
      .refine((hosts) => Object.keys(hosts).length > 0, 'names no host'),
    /** The VMs' size, unless a computer's attributes say otherwise. */
    vm: z
      .object({
        vcpus: z.number().int().min(1).max(256).default(1),
        memoryMiB: z.number().int().min(128).default(1024),
        /** TCG's translation-block cache (`domainType: 'qemu'` only); QEMU's default takes ~490 MB. */
        tbCacheMiB: z.number().int().min(16).default(128),
        /**
         * Hands the computer's management address to the guest in fw_cfg (`opt/org.vlab/net`:
         * `MAC ADDRESS/PREFIX`) for images that read it; otherwise the network's DHCP gives it.
         */
        fwCfgAddress: z.boolean().default(false),
      })
      .strict()
      .default({ vcpus: 1, memoryMiB: 1024, tbCacheMiB: 128, fwCfgAddress: false }),
    /** Deadlines, in ms. */
    timeouts: z
      .object({
        /** One command on a host (`virsh`, `qemu-img create`). Default: 60 s. */
        commandMs: milliseconds.default(60_000),
        /** A power change confirmed through libvirt. Default: 60 s. */
        powerMs: milliseconds.default(60_000),
        /** From start until the guest's OS answers. Default: 10 min. */
        osBootMs: milliseconds.default(600_000),
        /** preCapture, shutdown included, until libvirt reads shut off. Default: 20 min. */
        preCaptureMs: milliseconds.default(1_200_000),
        /** A disk transfer or conversion. Default: 6 h. */
        transferMs: milliseconds.default(6 * 3_600_000),
        /** A transfer that moves no byte for this long fails. Default: 2 min. */
        transferIdleMs: milliseconds.default(120_000),
      })
      .strict()
      .default({
        commandMs: 60_000,
        powerMs: 60_000,
        osBootMs: 600_000,
        preCaptureMs: 1_200_000,
        transferMs: 6 * 3_600_000,
        transferIdleMs: 120_000,
      }),
    /** How often the domain state is read while a power change is confirmed, in ms. Default: 500. */
    pollIntervalMs: milliseconds.default(500),
  })
  .strict();

/** One hypervisor host of the config, defaults applied. @public */
export interface LibvirtHostConfig {
  /** Where the host answers SSH. */
  readonly address: string;
  /** Its SSH port. Default: 22. */
  readonly port: number;
  /** The login (root, or a member of the `libvirt` group). Default: root. */
  readonly user: string;
  /** The host's SSH host key, `type base64`, pinned. */
  readonly hostKey: string;
  /** The private key the host authorizes, as a reference. */
  readonly key: SecretRef;
  /** libvirt's URI on the host. Default: `qemu:///system`. */
  readonly uri: string;
  /** The host's directory for masters and VM disks. Default: `/var/lib/vlab/libvirt`. */
  readonly dir: string;
  /** The libvirt network the VMs join. */
  readonly network: string;
  /** `kvm`, or `qemu` (TCG). Default: `kvm`. */
  readonly domainType: 'kvm' | 'qemu';
}

/** The validated config of `provisioner-libvirt`, every default applied; see the README's table. @public */
export interface LibvirtConfig {
  /** The image store: a directory on the manager's host. */
  readonly store: { readonly path: string };
  /** The hypervisor hosts by name. */
  readonly hosts: Readonly<Record<string, LibvirtHostConfig>>;
  /** The VMs' default size and how their address reaches them. */
  readonly vm: {
    readonly vcpus: number;
    readonly memoryMiB: number;
    readonly tbCacheMiB: number;
    readonly fwCfgAddress: boolean;
  };
  /** Deadlines, in ms. */
  readonly timeouts: {
    readonly commandMs: number;
    readonly powerMs: number;
    readonly osBootMs: number;
    readonly preCaptureMs: number;
    readonly transferMs: number;
    readonly transferIdleMs: number;
  };
  /** How often the domain state is read while a power change is confirmed, in ms. */
  readonly pollIntervalMs: number;
}

/** A host as written in a config file: `address`, `hostKey`, `key` and `network` required. @public */
export type LibvirtHostConfigInput = Pick<
  LibvirtHostConfig,
  'address' | 'hostKey' | 'key' | 'network'
> &
  Partial<LibvirtHostConfig>;

/** The config as written in a config file: `store` and `hosts` required, the rest optional. @public */
export interface LibvirtConfigInput {
  /** The image store: a directory on the manager's host. */
  readonly store: { readonly path: string };
  /** The hypervisor hosts by name. */
  readonly hosts: Readonly<Record<string, LibvirtHostConfigInput>>;
  /** The VMs' default size. */
  readonly vm?: Partial<LibvirtConfig['vm']>;
  /** Deadlines, in ms. */
  readonly timeouts?: Partial<LibvirtConfig['timeouts']>;
  /** How often the domain state is read while a power change is confirmed, in ms. */
  readonly pollIntervalMs?: number;
}

/**
 * The config section's schema (Standard Schema) the manager validates the module's section with;
 * unknown keys are refused.
 * @public
 */
export const libvirtConfigSchema: ProvisionerDefinition<LibvirtConfig>['configSchema'] =
  schema as unknown as ProvisionerDefinition<LibvirtConfig>['configSchema'];

/**
 * The config with defaults applied, for embedding and tests. Throws `VLAB_ERR_CONFIG_INVALID`
 * naming the key.
 * @public
 */
export function libvirtConfig(input: LibvirtConfigInput): LibvirtConfig {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw coreError(
    'VLAB_ERR_CONFIG_INVALID',
    `provisioner-libvirt config: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
  );
}
