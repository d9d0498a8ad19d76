import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildIdentityDisk, generateHostKey, IDENTITY_DISK, identityDiskFiles } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runChecked } from '../src/exec.js';
import { type LibvirtHost, startLibvirtHost } from '../src/libvirt-host.js';
import { rootLinks } from '../src/net.js';
import { vmPreflight } from '../src/preflight.js';
import { vmDomainXml } from '../src/vm-domain.js';
import { ensureVmImage, type VmImage } from '../src/vm-image.js';
import { VM_NET, vmAddress, vmBlackholePresent } from '../src/vm-net.js';

// A real QEMU guest under libvirt, from the cached VM image: boot to SSH on its fw_cfg address, a
// command, an identity disk seen by its label, ACPI shutdown to `shut off`, a compressed flatten
// of its disk; then nothing left and IP forwarding still off. Needs root and the Debian packages
// of scripts/lib/machine-setup.sh; fails, never skips, without them. Prints its measurements.

const MAC = '52:54:00:c6:12:0b';
const NAME = 'vlab-smoke-vm1';
const forwarding = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
/** libvirt's cache of what each QEMU binary can do, rewritten whenever libvirt probes QEMU. */
const CAPS_CACHE = '/var/cache/libvirt/qemu/capabilities';
const capsWritten = async () => {
  const files = existsSync(CAPS_CACHE) ? await readdir(CAPS_CACHE) : [];
  return Object.fromEntries(files.map((f) => [f, statSync(join(CAPS_CACHE, f)).mtimeMs]));
};
const kvmDevice = () => {
  const st = existsSync('/dev/kvm') ? statSync('/dev/kvm') : undefined;
  return st && { uid: st.uid, gid: st.gid, mode: st.mode };
};

describe('a VM under libvirt', () => {
  const figures: string[] = [];
  let image: VmImage;
  let host: LibvirtHost | undefined;
  let bridge = '';
  const started = performance.now();
  const kvmBefore = kvmDevice();

  beforeAll(async () => {
    await vmPreflight();
    expect(forwarding()).toBe('0');
    image = await ensureVmImage({ log: (line) => console.log(`vm image: ${line}`) });
    const again = await ensureVmImage();
    expect(again.cached).toBe(true);
    figures.push(
      `VM image ${image.path}: ${image.cached ? 'cached' : 'built'}; build took ${seconds(image.buildMs)} ` +
        `(kernel ${image.kernel}); qcow2 ${mib(image.fileBytes)} on disk, ${mib(image.virtualBytes)} virtual; ` +
        `this lookup ${image.tookMs} ms, a cached one ${again.tookMs} ms`,
    );
    host = await startLibvirtHost({
      kernel: image.kernelPath,
      log: (line) => console.log(`libvirt: ${line}`),
    });
    bridge = host.network.bridge;
    figures.push(`accelerator ${host.domainType}: ${host.accelerator.reason}`);
  });

  afterAll(async () => {
    try {
      await host?.close();
      // Everything it made is gone: daemons, bridge, blackhole; and the host still does not forward.
      expect(existsSync('/run/libvirtd.pid') || existsSync('/run/virtlogd.pid')).toBe(false);
      const chains = await run('iptables', ['-w', '-S']);
      expect(chains.stdout).not.toContain('LIBVIRT_');
      if (bridge !== '') expect(await rootLinks()).not.toContain(bridge);
      expect(await vmBlackholePresent()).toBe(false);
      expect(forwarding()).toBe('0');
      // /dev/kvm as the suite found it.
      expect(kvmDevice()).toEqual(kvmBefore);
    } finally {
      figures.push(`suite took ${seconds(performance.now() - started)}`);
      console.log(`VM smoke figures:\n- ${figures.join('\n- ')}`);
    }
  });

  it('defines domains without libvirt probing QEMU again (its capability cache stays valid)', async () => {
    if (host === undefined) throw new Error('no libvirt host');
    const xml = join(host.dir, 'vlab-smoke-caps.xml');
    await writeFile(
      xml,
      vmDomainXml({
        name: 'vlab-smoke-caps',
        type: host.domainType,
        memoryMiB: 256,
        vcpus: 1,
        disk: join(host.dir, 'never-started.qcow2'),
        network: host.network.name,
        mac: '52:54:00:c6:12:0c',
        address: `${vmAddress(3)}/${VM_NET.prefixLength}`,
        consoleLog: join(host.dir, 'vlab-smoke-caps.log'),
      }),
    );
    const define = async () => {
      const t = performance.now();
      await host?.virsh(['define', xml]);
      await host?.virsh(['undefine', 'vlab-smoke-caps']);
      return performance.now() - t;
    };
    const first = await define();
    const cache = await capsWritten();
    expect(Object.keys(cache).length).toBeGreaterThan(0);
    const second = await define();
    // A probe rewrites the cache file of the binary it probed: none did.
    expect(await capsWritten()).toEqual(cache);
    figures.push(`virsh define + undefine: ${Math.round(first)} ms, then ${Math.round(second)} ms`);
  });

  it('boots to SSH on its fw_cfg address, runs a command and shuts off through ACPI', async () => {
    if (host === undefined) throw new Error('no libvirt host');
    expect(await vmBlackholePresent()).toBe(true);
    const overlay = join(host.dir, `${NAME}.qcow2`);
    await runChecked('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      image.path,
      '-F',
      'qcow2',
      overlay,
    ]);
    // An identity disk as a provisioner attaches one (the image has no unit that reads it yet:
    // the guest is only asked whether it sees the disk by its label, as os-linux's unit looks).
    const identity = join(host.dir, `${NAME}.identity.img`);
    await buildIdentityDisk(identityDiskFiles([generateHostKey('vm1')]), identity, {
      work: join(host.dir, 'identity-work'),
    });
    const address = vmAddress(1);
    const consoleLog = join(host.dir, `${NAME}.console.log`);
    const xml = join(host.dir, `${NAME}.xml`);
    await writeFile(
      xml,
      vmDomainXml({
        name: NAME,
        type: host.domainType,
        memoryMiB: 1024,
        vcpus: 1,
        disk: overlay,
        identityDisk: identity,
        network: host.network.name,
        mac: MAC,
        address: `${address}/${VM_NET.prefixLength}`,
        consoleLog,
      }),
    );
    await host.virsh(['define', xml]);
    const bootStarted = performance.now();
    await host.virsh(['start', NAME]);

    const knownHosts = join(host.dir, 'known_hosts');
    const ssh = (command: readonly string[], timeoutMs = 60_000) =>
      run(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-i',
          image.managementKeyPath,
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          // First contact with keys the guest made at its first boot (no identity disk here).
          '-o',
          'StrictHostKeyChecking=accept-new',
          '-o',
          'ConnectTimeout=5',
          `root@${address}`,
          '--',
          ...command,
        ],
        { timeoutMs },
      );
    let attempts = 0;
    const deadline = Date.now() + 300_000;
    for (;;) {
      attempts += 1;
      const probe = await ssh(['true'], 30_000);
      if (probe.code === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `no SSH on ${address} within 300 s (${attempts} attempts, last: ${probe.stderr.trim()}); ` +
            `console:\n${readFileSync(consoleLog, 'utf8').slice(-3000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const bootMs = performance.now() - bootStarted;
    figures.push(`start → SSH answers: ${seconds(bootMs)} (${attempts} attempts)`);

    // One argument: ssh hands the remote command to the guest's shell as one string anyway.
    const out = await ssh(['uname -r; ip -4 -o address show; systemctl is-system-running --wait']);
    expect(out.stderr).toBe('');
    const [kernel, ...rest] = out.stdout.trim().split('\n');
    expect(kernel).toBe(image.kernel);
    expect(rest.join('\n')).toContain(`${address}/${VM_NET.prefixLength}`);
    expect(rest.at(-1)).toBe('running');
    figures.push(
      `systemctl is-system-running --wait: running at ${seconds(performance.now() - bootStarted)}`,
    );
    // The guest's own account of its boot (kernel and userspace; SeaBIOS and GRUB not counted).
    const analyzed = await ssh(['systemd-analyze time']);
    figures.push(`in the guest: ${analyzed.stdout.split('\n')[0]?.trim()}`);
    const console_ = readFileSync(consoleLog, 'utf8');
    expect(console_).toContain('Linux version');
    expect(console_).toContain(`(${MAC}): ${address}/${VM_NET.prefixLength}`);

    // A fixed text (ssh hands the guest's shell one string): the protocol's label and manifest.
    expect([IDENTITY_DISK.label, IDENTITY_DISK.manifestPath]).toEqual([
      'VLAB-ID',
      'vlab-identity.json',
    ]);
    const seen = await ssh([
      `dev=$(blkid -L VLAB-ID) && echo "$dev" && debugfs -R 'cat /vlab-identity.json' "$dev" 2>/dev/null`,
    ]);
    expect(seen.stdout.split('\n')[0]).toBe('/dev/vdb');
    expect(JSON.parse(seen.stdout.split('\n').slice(1).join('\n'))).toEqual({ version: 1 });

    const status = readFileSync(`/proc/${host.qemuPid(NAME)}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) * 1024;
    expect(rss).toBeGreaterThan(0);
    figures.push(`QEMU RSS (1024 MiB guest, ${host.domainType}): ${mib(rss)}`);

    const shutdownStarted = performance.now();
    await host.virsh(['shutdown', NAME]);
    await host.waitForState(NAME, 'shut off', 120_000);
    figures.push(`virsh shutdown → shut off: ${seconds(performance.now() - shutdownStarted)}`);

    const flat = join(host.dir, `${NAME}-flat.qcow2`);
    const convertStarted = performance.now();
    await runChecked('qemu-img', ['convert', '-c', '-O', 'qcow2', overlay, flat], {
      timeoutMs: 600_000,
    });
    figures.push(
      `qemu-img convert -c (overlay + master → one qcow2): ${seconds(performance.now() - convertStarted)}, ` +
        `${mib(statSync(flat).size)} (overlay was ${mib(statSync(overlay).blocks * 512)})`,
    );
    await runChecked('qemu-img', ['check', '-q', flat]);
    await host.virsh(['undefine', NAME]);
  });
});
