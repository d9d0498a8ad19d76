import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildIdentityDisk,
  type ComputerContext,
  generateHostKey,
  identityDiskFiles,
  type ProvisionerContext,
  type StepOutcome,
} from '@vlab/core';
import type { LibvirtConfig } from './config.js';
import { domainXml, vmPaths } from './domain-xml.js';
import { libvirtError } from './errors.js';
import {
  CREATE_OVERLAY,
  DROP_IDENTITY_DISK,
  REMOVE_DOMAIN,
  REMOVE_FILE,
  REMOVE_VM_DIR,
} from './host-scripts.js';
import type { HostCall, Hypervisor } from './hypervisor.js';
import type { VmFacts } from './vm-facts.js';

/** One VM of one operation: its facts, its host, the config. */
export interface VmTarget {
  readonly facts: VmFacts;
  readonly hypervisor: Hypervisor;
  readonly config: LibvirtConfig;
}

/**
 * Whether the VM's domain is defined, refusing one of that name that vlab did not define for this
 * computer (no mark, or another computer's): `VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN`, and the caller
 * leaves it alone. Every operation that changes a domain asks first (one `virsh metadata` call).
 */
export async function domainIsOurs(ctx: ComputerContext, vm: VmTarget): Promise<boolean> {
  const { hypervisor, facts } = vm;
  const owner = await hypervisor.domainOwner(ctx, facts.domain);
  if (owner === undefined) return false;
  if (owner !== facts.name)
    throw libvirtError(
      'VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN',
      `domain ${facts.domain} on host ${hypervisor.hostName} was not defined by vlab for ${facts.name} (${owner === null ? 'it has no vlab mark' : `its mark names ${owner}`}); it was left as it is`,
      { computer: facts.name, details: { host: hypervisor.hostName, domain: facts.domain, owner } },
    );
  return true;
}

/**
 * Destroys and undefines the VM's domain when it is defined; idempotent. Its files stay. A
 * foreign domain of that name is left alone ({@link domainIsOurs}).
 */
export async function undefineDomain(ctx: ComputerContext, vm: VmTarget): Promise<void> {
  const { hypervisor, facts } = vm;
  if (!(await domainIsOurs(ctx, vm))) return;
  await hypervisor.run(ctx, `removing domain ${facts.domain}`, REMOVE_DOMAIN, [
    hypervisor.host.uri,
    facts.domain,
  ]);
}

/** Removes the VM: its domain, then its directory (overlay, identity disk, console log). */
export async function removeVm(ctx: ComputerContext, vm: VmTarget): Promise<void> {
  await undefineDomain(ctx, vm);
  await vm.hypervisor.run(ctx, 'removing the VM directory', REMOVE_VM_DIR, [vmPaths(vm.facts).dir]);
}

/** A fresh copy-on-write overlay of `master` as the VM's disk. */
export async function createOverlay(
  ctx: ProvisionerContext,
  vm: VmTarget,
  master: string,
): Promise<void> {
  await vm.hypervisor.run(ctx, 'creating the overlay disk', CREATE_OVERLAY, [
    master,
    vmPaths(vm.facts).dir,
  ]);
}

/**
 * First contact (contract 1.1's identity disk): fresh host keys made here, put on an identity
 * disk built here and copied to the VM's directory (mode 0600: libvirt gives it to QEMU's user
 * while the VM runs), pinned with `trustHostKeys` before the first boot. The private key never
 * leaves this host but inside the disk image.
 */
export async function putIdentityDisk(ctx: ProvisionerContext, vm: VmTarget): Promise<void> {
  const key = generateHostKey(ctx.computer.name);
  const work = await mkdtemp(join(tmpdir(), 'vlab-libvirt-'));
  try {
    const image = join(work, 'identity.img');
    await buildIdentityDisk(identityDiskFiles([key]), image, { work, signal: ctx.signal });
    await vm.hypervisor.writeFile(vmPaths(vm.facts).identity, await readFile(image), {
      mode: 0o600,
      signal: ctx.signal,
      timeoutMs: vm.config.timeouts.commandMs,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  await ctx.communicator.trustHostKeys([key.publicKey], { signal: ctx.signal });
}

/**
 * Defines the VM's domain from the template, undefining an old definition first unless the caller
 * has just done so (`oldRemoved`: a load's first step).
 */
export async function defineDomain(
  ctx: ProvisionerContext,
  vm: VmTarget,
  options: { readonly identityDisk: boolean; readonly oldRemoved?: boolean },
): Promise<void> {
  if (options.oldRemoved !== true) await undefineDomain(ctx, vm);
  const { xml } = vmPaths(vm.facts);
  await vm.hypervisor.writeFile(xml, domainXml(vm.facts, vm.config, options), {
    signal: ctx.signal,
    timeoutMs: vm.config.timeouts.commandMs,
  });
  await vm.hypervisor.virsh(ctx, `defining domain ${vm.facts.domain}`, ['define', xml]);
}

/** Starts the VM and waits until its OS answers through the communicator (its pinned key). */
export async function bootVm(ctx: ProvisionerContext, vm: VmTarget): Promise<void> {
  await vm.hypervisor.start(ctx, vm.facts.domain);
  await ctx.communicator.waitUntilReachable({
    signal: ctx.signal,
    timeoutMs: Math.min(vm.config.timeouts.osBootMs, ctx.remainingMs()),
  });
}

/**
 * The identity disk has done its work once the guest answered with its keys: out of the
 * domain's persistent definition (the next boot has none) and off the host's disk (it holds
 * private keys). The running guest keeps the device until it powers off; it holds the same keys.
 */
export async function dropIdentityDisk(ctx: ProvisionerContext, vm: VmTarget): Promise<void> {
  const { hypervisor, facts } = vm;
  await hypervisor.run(
    ctx,
    `detaching and removing the identity disk of domain ${facts.domain}`,
    DROP_IDENTITY_DISK,
    [hypervisor.host.uri, facts.domain, vmPaths(facts).identity],
  );
}

/**
 * The cleanup of the identity disk's step when the sequence did not finish: the disk holds
 * private host keys, so it does not stay on the host (after `leaveOff`: cleanups run in reverse).
 */
export async function discardIdentityDisk(
  _ctx: ProvisionerContext,
  vm: VmTarget,
  outcome: StepOutcome,
): Promise<void> {
  if (outcome === 'succeeded') return;
  await vm.hypervisor.run(cleanupCall(vm.config), 'removing the identity disk', REMOVE_FILE, [
    vmPaths(vm.facts).identity,
  ]);
}

/**
 * The cleanup of a load or capture that did not finish: the VM is left off (a hard power-off is
 * quick; after an abort too).
 */
export async function leaveOff(
  _ctx: ProvisionerContext,
  vm: VmTarget,
  outcome: StepOutcome,
): Promise<void> {
  if (outcome === 'succeeded') return;
  await vm.hypervisor.destroy(cleanupCall(vm.config), vm.facts.domain);
}

/**
 * A host call for a cleanup: its own deadline (the command deadline), not the operation's signal
 * or deadline, which may be spent already when the cleanup runs.
 */
export function cleanupCall(config: LibvirtConfig): HostCall {
  return {
    signal: AbortSignal.timeout(config.timeouts.commandMs),
    remainingMs: () => config.timeouts.commandMs,
  };
}
