import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type ComputerRef,
  createOperationContext,
  createProvisionerContext,
  createSecretResolver,
  type Logger,
  type OperationContext,
  type OsModule,
  type Provisioner,
  type ProvisionerContext,
  Secret,
  silentLogger,
} from '@vlab/core';
import { ImageStore } from '@vlab/image-store';
import { createLinuxOsModule, identityDiskImageFiles, linuxOsConfig } from '@vlab/os-linux';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { type Sshd, startSshd } from '@vlab/test-peers';
import {
  ensureVmImage,
  type LibvirtHost,
  startLibvirtHost,
  type VmImage,
  vmAddress,
  vmBlackholePresent,
  vmPreflight,
} from '@vlab/testlab';
import { afterAll, beforeAll, expect } from 'vitest';
import { type LibvirtConfigInput, libvirtConfig } from '../src/config.js';
import { createLibvirtProvisioner } from '../src/libvirt-provisioner.js';

const exec = promisify(execFile);

/** The base image every lab test loads: the testlab's VM image with os-linux's identity-disk unit. */
export const BASE = { name: 'debian-bookworm-vm', revision: 1 } as const;

/** A libvirt host on this machine reached over SSH as root, a store, the provisioner, os-linux. */
export interface LibvirtLab {
  readonly host: LibvirtHost;
  readonly sshd: Sshd;
  readonly image: VmImage;
  readonly provisioner: Provisioner;
  readonly os: OsModule;
  readonly storeDir: string;
  /** The host's directory (`hosts.local.dir`). */
  readonly hostDir: string;
  /** Lab computer `n` (1…): its MAC, address and domain. */
  computer(n: number): ComputerRef;
  /** A provisioner context for computer `n` (10 minutes unless said otherwise). */
  ctx(
    n: number,
    phase: string,
    options?: {
      signal?: AbortSignal | undefined;
      timeoutMs?: number;
      os?: OsModule;
      /** Where its log goes (nowhere unless said). */
      log?: Logger;
    },
  ): ProvisionerContext;
  /** A store context. */
  storeCtx(): OperationContext;
  /** Runs a command in computer `n`'s guest as root, over the harness's own SSH identity. */
  guest(n: number, argv: readonly string[]): Promise<string>;
}

/** Lines the suite prints at its end (timings). */
export const figures: string[] = [];

/** A started {@link LibvirtLab} with what a conformance harness needs, and its teardown. */
export interface StartedLibvirtLab extends LibvirtLab {
  /** The VM image's management key (root of every guest authorizes it). */
  readonly managementKey: Secret;
  /** The provisioner's config as the lab's provisioner has it, with another store. */
  configInput(storePath: string): LibvirtConfigInput;
  /** Closes the provisioner, the SSH pools, the sshd and the libvirt host; removes the store. */
  close(): Promise<void>;
}

/** Options of {@link startLibvirtLab}. */
export interface StartLibvirtLabOptions {
  /** Seeds the lab's store with {@link BASE}. Default: true. */
  readonly seedBase?: boolean;
}

/**
 * The VM image (cached; built with os-linux's identity-disk files), a libvirt host (own daemons,
 * isolated network with its blackhole), an sshd on loopback for root (the provisioner's way to
 * the host), a store seeded with the base image (raw+zstd). Whatever it started is closed again
 * when it fails. Fails loudly, never skips.
 */
export async function startLibvirtLab(
  config: Partial<LibvirtConfigInput> = {},
  options: StartLibvirtLabOptions = {},
): Promise<StartedLibvirtLab> {
  let host: LibvirtHost | undefined;
  let sshd: Sshd | undefined;
  let provisioner: Provisioner | undefined;
  let work: string | undefined;
  const pools: SshPool[] = [];
  const os = createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 200 }));
  const close = async (): Promise<void> => {
    await provisioner?.close?.();
    for (const pool of pools) await pool.close();
    await sshd?.[Symbol.asyncDispose]();
    const bridge = host?.network.bridge;
    await host?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    // Everything it started is gone: daemons, QEMU, bridge, blackhole; and still no forwarding.
    expect(existsSync('/run/libvirtd.pid') || existsSync('/run/virtlogd.pid')).toBe(false);
    const qemu = await exec('pgrep', ['-x', 'qemu-system-x86']).catch(() => ({ stdout: '' }));
    expect(qemu.stdout).toBe('');
    if (bridge !== undefined) expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    expect(await vmBlackholePresent()).toBe(false);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
  };
  let image: VmImage;
  let managementKey: Secret;
  let configInput: (storePath: string) => LibvirtConfigInput;
  try {
    await vmPreflight();
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
    image = await ensureVmImage({ files: identityDiskImageFiles() });
    figures.push(
      `VM image ${image.cached ? 'cached' : `built in ${(image.buildMs / 1000).toFixed(1)} s`}`,
    );
    managementKey = new Secret(await readFile(image.managementKeyPath, 'utf8'), 'management key');
    const libvirtHost = await startLibvirtHost({ kernel: image.kernelPath });
    host = libvirtHost;
    figures.push(`accelerator ${libvirtHost.domainType} (${libvirtHost.accelerator.reason})`);
    const server = await startSshd({ user: 'root', hostKeyTypes: ['ed25519'] });
    sshd = server;
    work = await mkdtemp(join(tmpdir(), 'vlab-libvirt-store-'));
    configInput = (storePath) => ({
      store: { path: storePath },
      hosts: {
        local: {
          address: server.host,
          port: server.port,
          user: 'root',
          hostKey: server.hostPublicKeys[0] as string,
          key: { file: server.clientKey.path },
          network: libvirtHost.network.name,
          domainType: libvirtHost.domainType,
          dir: join(libvirtHost.dir, 'hv'),
        },
      },
      vm: { memoryMiB: 768, fwCfgAddress: true },
      pollIntervalMs: 200,
      ...config,
    });
    provisioner = createLibvirtProvisioner(libvirtConfig(configInput(join(work, 'store'))));
    if (options.seedBase ?? true) await seed(join(work, 'store'), image, work);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  const libvirtHost = host;
  const server = sshd;
  const storeWork = work;
  const lab: LibvirtLab = labOf({
    host: libvirtHost,
    sshd: server,
    image,
    provisioner,
    os,
    storeDir: join(storeWork, 'store'),
    managementKey,
    pools,
  });
  return Object.assign(lab, { managementKey, configInput, close });
}

/**
 * Before the file's tests: {@link startLibvirtLab}. After them: everything closed and removed, IP
 * forwarding still off.
 */
export function useLibvirtLab(config: Partial<LibvirtConfigInput> = {}): LibvirtLab {
  let lab: StartedLibvirtLab | undefined;
  const os = createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 200 }));
  const started = performance.now();

  beforeAll(async () => {
    lab = await startLibvirtLab(config);
  }, 900_000);

  afterAll(async () => {
    try {
      await lab?.close();
    } finally {
      figures.push(`suite took ${((performance.now() - started) / 1000).toFixed(1)} s`);
      console.log(`libvirt lab figures:\n- ${figures.join('\n- ')}`);
    }
  }, 300_000);

  const the = (): StartedLibvirtLab => {
    if (lab === undefined) throw new Error('the libvirt lab is not started (beforeAll failed?)');
    return lab;
  };
  return {
    get host() {
      return the().host;
    },
    get sshd() {
      return the().sshd;
    },
    get image() {
      return the().image;
    },
    get provisioner() {
      return the().provisioner;
    },
    // The lab's own module once started; this one before (the same config).
    get os() {
      return lab?.os ?? os;
    },
    get storeDir() {
      return the().storeDir;
    },
    get hostDir() {
      return the().hostDir;
    },
    computer: (n) => labComputer(n),
    ctx: (n, phase, options) => the().ctx(n, phase, options),
    storeCtx: () => the().storeCtx(),
    guest: (n, argv) => the().guest(n, argv),
  };
}

/** Lab computer `n` (1…): its MAC, address and domain. */
export function labComputer(n: number): ComputerRef {
  return {
    name: `vm${n}`,
    hostname: `vm${n}`,
    addresses: { management: vmAddress(n) },
    credentials: {},
    attributes: {
      mac: `52:54:00:00:64:${n.toString(16).padStart(2, '0')}`,
      domain: `vlab-lab-vm${n}`,
    },
  };
}

/** The lab's operations on its started parts. */
function labOf(parts: {
  host: LibvirtHost;
  sshd: Sshd;
  image: VmImage;
  provisioner: Provisioner;
  os: OsModule;
  storeDir: string;
  managementKey: Secret;
  pools: SshPool[];
}): LibvirtLab {
  const { host, os, managementKey, pools } = parts;
  const computer = labComputer;
  // One communicator per computer, pinned by the provisioner (trustHostKeys) at each load.
  const communicators = new Map<number, SshCommunicator>();
  const communicator = (n: number): SshCommunicator => {
    let found = communicators.get(n);
    if (found === undefined) {
      const pool = new SshPool({ hostKeys: new MemoryHostKeyStore() });
      pools.push(pool);
      found = new SshCommunicator(
        pool.client({
          host: vmAddress(n),
          user: 'root',
          auth: { kind: 'key', privateKey: managementKey },
          computer: `vm${n}`,
        }),
      );
      communicators.set(n, found);
    }
    return found;
  };
  return {
    host,
    sshd: parts.sshd,
    image: parts.image,
    provisioner: parts.provisioner,
    os,
    storeDir: parts.storeDir,
    hostDir: join(host.dir, 'hv'),
    computer,
    ctx(n, phase, options = {}) {
      return createProvisionerContext({
        log: options.log ?? silentLogger,
        deadline: Date.now() + (options.timeoutMs ?? 600_000),
        signal: options.signal,
        phase,
        secrets: createSecretResolver(),
        computer: computer(n),
        image: { name: BASE.name, revision: BASE.revision, osFamily: 'linux' },
        communicator: communicator(n),
        power: { status: async () => 'unknown' },
        os: options.os ?? os,
      });
    },
    storeCtx: () =>
      createOperationContext({
        log: silentLogger,
        deadline: Date.now() + 600_000,
        phase: 'store',
      }),
    async guest(n, argv) {
      const result = await communicator(n).run(argv, { timeoutMs: 60_000 });
      if (result.code !== 0) throw new Error(`${argv.join(' ')} in vm${n}: exit ${result.code}`);
      return result.stdout.toString();
    },
  };
}

/**
 * Puts the VM image into the store as {@link BASE}, `raw+zstd` (what a capture stores): its raw
 * disk hashed and compressed here, written through a reservation.
 */
async function seed(storeDir: string, image: VmImage, work: string): Promise<void> {
  const store = ImageStore.local(storeDir);
  if (await store.exists(BASE)) return;
  const t0 = performance.now();
  const raw = join(work, 'base.raw');
  await exec('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', image.path, raw]);
  const sha256 = (await exec('sha256sum', [raw])).stdout.split(' ')[0] as string;
  const sizeBytes = Number((await exec('stat', ['-c', '%s', raw])).stdout.trim());
  const zst = `${raw}.zst`;
  await exec('zstd', ['-q', '-3', '-T0', raw, '-o', zst]);
  await rm(raw);
  const reservation = await store.reserve(BASE);
  await reservation.write(createReadStream(zst));
  await reservation.publish({ format: 'raw+zstd', sizeBytes, sha256, osFamily: 'linux' });
  await rm(zst);
  figures.push(`base image stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
