import {
  type ComputerContext,
  type ModuleDeps,
  nodeStatusFromPower,
  type Provisioner,
} from '@vlab/core';
import { ImageStore, storedImage } from '@vlab/image-store';
import { capture } from './capture.js';
import type { LibvirtConfig } from './config.js';
import { HypervisorConnections } from './hypervisor.js';
import { load } from './load.js';
import type { ProvisionerDeps } from './provisioner-deps.js';
import { domainIsOurs, removeVm } from './vm.js';
import { vmFacts } from './vm-facts.js';

/**
 * Makes the provisioner: VMs on KVM/QEMU hosts reached over SSH (`@vlab/ssh`), driven with
 * `virsh` and `qemu-img` there; images in an `@vlab/image-store` directory, each host keeping
 * a cache of master images.
 * @public
 */
export function createLibvirtProvisioner(config: LibvirtConfig, deps?: ModuleDeps): Provisioner {
  const hosts = new HypervisorConnections(config, deps?.log);
  const shared: ProvisionerDeps = {
    config,
    store: ImageStore.local(config.store.path, { transferTimeoutMs: config.timeouts.transferMs }),
    hosts,
    async vmTarget(ctx) {
      const facts = vmFacts(ctx.computer, config);
      return { facts, config, hypervisor: await hosts.forVm(facts, ctx.secrets) };
    },
  };
  const call = (ctx: { readonly signal: AbortSignal }) => ({ signal: ctx.signal });
  const domainOf = async (ctx: ComputerContext) => {
    const vm = await shared.vmTarget(ctx);
    return { hypervisor: vm.hypervisor, domain: vm.facts.domain };
  };
  /** The VM's domain for a power operation, refusing a foreign one (not vlab's for this computer). */
  const ownDomainOf = async (ctx: ComputerContext) => {
    const vm = await shared.vmTarget(ctx);
    await domainIsOurs(ctx, vm);
    return { hypervisor: vm.hypervisor, domain: vm.facts.domain };
  };

  return {
    name: 'provisioner-libvirt',
    capabilities: {
      features: [
        'capture',
        'checkpoint',
        'powerCycle',
        'imageSize',
        'deleteImage',
        'importImage',
        'release',
      ],
      captureEndState: 'off',
      // Nothing writes into a qcow2 from outside: first contact is the identity disk's, which
      // the image's OS module installs (its `identityDisk` feature).
      osFamilies: 'any',
      requiredOsFeatures: ['identityDisk'],
    },
    load: (ctx, args) => load(shared, ctx, args),
    capture: (ctx, args) => capture(shared, ctx, args),
    async powerOn(ctx) {
      const { hypervisor, domain } = await ownDomainOf(ctx);
      await hypervisor.start(ctx, domain);
    },
    async powerOff(ctx) {
      const { hypervisor, domain } = await ownDomainOf(ctx);
      await hypervisor.destroy(ctx, domain);
    },
    async powerCycle(ctx) {
      const { hypervisor, domain } = await ownDomainOf(ctx);
      await hypervisor.destroy(ctx, domain);
      await hypervisor.start(ctx, domain);
    },
    async powerStatus(ctx) {
      const { hypervisor, domain } = await domainOf(ctx);
      return hypervisor.power(ctx, domain);
    },
    async nodeStatus(ctx) {
      const { hypervisor, domain } = await domainOf(ctx);
      const power = await hypervisor.power(ctx, domain);
      return nodeStatusFromPower(ctx, power, `domain ${domain} is off or not defined`);
    },
    imageExists: (ctx, query) => shared.store.exists(query, call(ctx)),
    imageSize: (ctx, ref) => shared.store.size(ref, call(ctx)),
    async listImages(ctx) {
      return (await shared.store.list(call(ctx))).map(storedImage);
    },
    deleteImage: (ctx, ref) => shared.store.delete(ref, call(ctx)),
    async importImage(ctx, args) {
      const manifest = await shared.store.importRaw(args, {
        signal: ctx.signal,
        onProgress: (done) => ctx.progress.report({ done, unit: 'bytes' }),
      });
      return storedImage(manifest);
    },
    async release(ctx) {
      await removeVm(ctx, await shared.vmTarget(ctx));
    },
    async close() {
      await hosts.close();
    },
  };
}
