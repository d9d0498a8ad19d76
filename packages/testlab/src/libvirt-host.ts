import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunOutput, run, runChecked } from './exec.js';
import { grantKvmToQemu } from './kvm-device.js';
import { type AcceleratorProbe, probeAccelerator } from './kvm-probe.js';
import { removeLibvirtChains } from './libvirt-chains.js';
import { LIBVIRT_URI, type LibvirtDaemons, startLibvirtDaemons } from './libvirt-daemons.js';
import type { DomainType } from './vm-domain.js';
import { createVmNetwork, type VmNetwork, vmNetworkNames } from './vm-net.js';

/**
 * A KVM/QEMU host for tests on this machine: libvirt's daemons (this process's own), an isolated
 * network, and the accelerator that really works here. Everything it made goes with `close()`,
 * and a failing start removes what it had made before it throws.
 */
export interface LibvirtHost {
  readonly uri: string;
  /** `kvm` or `qemu` (TCG), from {@link probeAccelerator}. */
  readonly domainType: DomainType;
  readonly accelerator: AcceleratorProbe;
  readonly network: VmNetwork;
  /** A directory QEMU's user can read (and libvirt write into): disks, consoles, XML. */
  readonly dir: string;
  /** `virsh -c qemu:///system …`, rejecting on a non-zero exit. */
  virsh(args: readonly string[], timeoutMs?: number): Promise<RunOutput>;
  /** `virsh domstate` of `name` (`running`, `shut off`, …). */
  domState(name: string): Promise<string>;
  /** Waits until `name` is in `state`; rejects after `timeoutMs` with the state it was in. */
  waitForState(name: string, state: string, timeoutMs: number): Promise<void>;
  /** QEMU's pid for a running domain (libvirt's pid file). */
  qemuPid(name: string): number;
  /**
   * Destroys and undefines every `vlab-…` domain, removes the network and its blackhole, stops the
   * daemons, removes libvirt's (then empty) iptables chains, the per-domain logs this run added
   * and the directory. Should this process die first, the reaper does the same, but for the
   * chains and the logs (see `startLibvirtDaemons`).
   */
  close(): Promise<void>;
}

/** Options of {@link startLibvirtHost}. */
export interface LibvirtHostOptions {
  /** A Linux kernel to probe KVM with (the VM image's `kernelPath`). */
  readonly kernel: string;
  readonly log?: (line: string) => void;
}

export async function startLibvirtHost(options: LibvirtHostOptions): Promise<LibvirtHost> {
  const log = options.log ?? (() => undefined);
  const undo: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'tearing the libvirt host down failed');
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'vlab-libvirt-'));
    undo.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755); // QEMU runs as libvirt-qemu
    // QEMU's per-domain logs that this run adds (the daemon is ours alone: it refuses to share).
    const logsBefore = new Set(existsSync(QEMU_LOGS) ? await readdir(QEMU_LOGS) : []);
    undo.push(async () => {
      for (const file of existsSync(QEMU_LOGS) ? await readdir(QEMU_LOGS) : []) {
        if (!logsBefore.has(file)) await rm(join(QEMU_LOGS, file), { force: true });
      }
    });
    undo.push(async () => {
      const left = await removeLibvirtChains();
      if (left.length > 0) throw new Error(`libvirt's chains still have rules: ${left.join(', ')}`);
    });
    const kvm = await grantKvmToQemu();
    undo.push(() => kvm.restore());
    if (kvm.note !== '') log(kvm.note);
    const names = vmNetworkNames(randomBytes(3).toString('hex'));
    // Named before the daemons start: the reaper removes them too if this process dies.
    const daemons: LibvirtDaemons = await startLibvirtDaemons({
      orphanTeardown: { network: names.name, bridge: names.bridge, dir },
      log,
    });
    undo.push(() => daemons.stop());
    log(`libvirtd and virtlogd started (reaper pid ${daemons.reaperPid})`);
    const network = await createVmNetwork(names);
    undo.push(() => network.remove());
    undo.push(() => removeAllDomains()); // before the network goes
    log(`network ${network.name} on bridge ${network.bridge}`);
    const accelerator = await probeAccelerator(dir, options.kernel);
    log(`accelerator: ${accelerator.type} (${accelerator.reason}; ${accelerator.tookMs} ms)`);
    const virsh = (args: readonly string[], timeoutMs = 60_000) =>
      runChecked('virsh', ['-c', LIBVIRT_URI, ...args], { timeoutMs });
    const domState = async (name: string) => (await virsh(['domstate', name])).stdout.trim();
    return {
      uri: LIBVIRT_URI,
      domainType: accelerator.type,
      accelerator,
      network,
      dir,
      virsh,
      domState,
      async waitForState(name, state, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        let now = await domState(name);
        while (now !== state) {
          if (Date.now() > deadline) {
            throw new Error(`domain ${name} is ${now}, not ${state}, after ${timeoutMs} ms`);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
          now = await domState(name);
        }
      },
      qemuPid(name) {
        return Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim());
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** Where libvirt's QEMU driver writes one log per domain. */
const QEMU_LOGS = '/var/log/libvirt/qemu';

/**
 * Every `vlab-…` domain of this (the harness's own) libvirtd: destroyed, then undefined. Others
 * are an administrator's, loaded from their configuration: never touched.
 */
async function removeAllDomains(): Promise<void> {
  const out = await run('virsh', ['-c', LIBVIRT_URI, 'list', '--all', '--name']);
  for (const name of out.stdout.split('\n').map((line) => line.trim())) {
    if (!name.startsWith('vlab-')) continue;
    await run('virsh', ['-c', LIBVIRT_URI, 'destroy', name]);
    await run('virsh', ['-c', LIBVIRT_URI, 'undefine', name]);
  }
}
