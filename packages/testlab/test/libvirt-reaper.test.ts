import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { descendants, isAlive } from '@vlab/test-peers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run } from '../src/exec.js';
import { removeLibvirtChains } from '../src/libvirt-chains.js';
import { startLibvirtDaemons } from '../src/libvirt-daemons.js';
import { rootLinks } from '../src/net.js';
import { vmPreflight } from '../src/preflight.js';
import {
  removeStaleVmNetworks,
  VM_NET,
  VM_ROUTE_PROTO,
  vmBlackholePresent,
} from '../src/vm-net.js';

// What a harness that is signalled or killed outright leaves of libvirt. A `timeout` or a Ctrl-C
// signals the whole process group: the test process ends, and the reaper must tear down what
// close() would have (once, it did not: libvirtd, its QEMUs, the bridge and the blackhole stayed,
// and the network's status file made the next libvirtd crash at start). Root and the Debian
// packages of scripts/lib/machine-setup.sh; fails, never skips.

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hold-libvirt.ts');
const DOMAIN_CONFIGS = '/etc/libvirt/qemu';
const QEMU_LOGS = '/var/log/libvirt/qemu';
const forwarding = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
const pidIn = (file: string) => Number(readFileSync(file, 'utf8').trim());

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Removes what a failed test left (a harness this test could not stop otherwise). */
async function sweep(): Promise<void> {
  for (const file of ['/run/libvirtd.pid', '/run/virtlogd.pid']) {
    if (existsSync(file) && isAlive(pidIn(file))) process.kill(pidIn(file), 'SIGKILL');
  }
  await removeStaleVmNetworks();
  for (const dir of [DOMAIN_CONFIGS, QEMU_LOGS]) {
    for (const file of existsSync(dir) ? readdirSync(dir) : []) {
      if (/^(vlab-reaper-|reaper-foreign-)/.test(file)) await rm(join(dir, file), { force: true });
    }
  }
}

describe('libvirt teardown when the test process does not stop the harness', () => {
  afterEach(sweep);
  afterAll(async () => {
    expect(await removeLibvirtChains()).toEqual([]);
    expect(forwarding()).toBe('0');
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    '%s to the process group: QEMU, daemons, vlab domains, network, status file, bridge, blackhole and directory are gone; other domains stay',
    async (signal) => {
      await vmPreflight();
      const id = randomBytes(3).toString('hex');
      const foreign = `reaper-foreign-${id}`;
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, id, foreign], {
        detached: true, // its own process group, signalled as a whole as a terminal would
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await until(() => /^READY /m.test(output) || child.exitCode !== null, 120_000, 'READY');
        const ready = /^READY (.*)$/m.exec(output);
        if (ready?.[1] === undefined) throw new Error(`the fixture failed:\n${output}`);
        const made = JSON.parse(ready[1]) as { reaperPid: number; dir: string; domain: string };
        const network = `vlab-vm-${id}`;
        const bridge = `vlvm${id}`;
        const statusFile = `/run/libvirt/network/${network}.xml`;
        const daemons = [pidIn('/run/libvirtd.pid'), pidIn('/run/virtlogd.pid')];
        const qemu = pidIn(`/run/libvirt/qemu/${made.domain}.pid`);
        // What the teardown must remove is there before the signal.
        expect(descendants(made.reaperPid)).toEqual(expect.arrayContaining([...daemons, qemu]));
        expect(existsSync(statusFile)).toBe(true);
        expect(await rootLinks()).toContain(bridge);
        expect(await vmBlackholePresent()).toBe(true);
        expect(existsSync(join(DOMAIN_CONFIGS, `${made.domain}.xml`))).toBe(true);

        process.kill(-(child.pid ?? 0), signal);
        await exited;
        await until(() => !isAlive(made.reaperPid), 60_000, 'the reaper ends');

        for (const pid of [...daemons, qemu]) expect(isAlive(pid)).toBe(false);
        expect(existsSync(join(DOMAIN_CONFIGS, `${made.domain}.xml`))).toBe(false);
        expect(existsSync(join(DOMAIN_CONFIGS, `${foreign}.xml`))).toBe(true);
        expect(existsSync(statusFile)).toBe(false);
        expect(await rootLinks()).not.toContain(bridge);
        expect(await vmBlackholePresent()).toBe(false);
        expect(existsSync(made.dir)).toBe(false);
        expect(forwarding()).toBe('0');
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        }
      }
    },
  );

  it('a harness killed outright: the next start removes the status file, bridge, firewall rules and blackhole it left', async () => {
    await vmPreflight();
    const id = randomBytes(3).toString('hex');
    const bridge = `vlvm${id}`;
    const statusFile = `/run/libvirt/network/vlab-vm-${id}.xml`;
    await mkdir('/run/libvirt/network', { recursive: true });
    await writeFile(statusFile, `<networkstatus><network><name>vlab-vm-${id}</name></network>\n`);
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['route', 'add', 'blackhole', VM_NET.blackhole, 'proto', VM_ROUTE_PROTO]);
    await run('iptables', ['-w', '-N', 'LIBVIRT_FWI']); // fails when it exists: fine
    const rule = ['LIBVIRT_FWI', '-o', bridge, '-j', 'REJECT'];
    await run('iptables', ['-w', '-A', ...rule]);
    const dir = `/tmp/vlab-libvirt-stale-${id}`;
    const lines: string[] = [];
    const daemons = await startLibvirtDaemons({
      orphanTeardown: { network: `vlab-vm-${id}`, bridge, dir },
      log: (line) => lines.push(line),
    });
    await daemons.stop();
    expect(lines).toHaveLength(1);
    for (const removed of [statusFile, `bridge ${bridge}`, 'firewall rules', 'blackhole']) {
      expect(lines[0]).toContain(removed);
    }
    expect((await run('iptables', ['-w', '-C', ...rule])).code).not.toBe(0);
    expect(existsSync(statusFile)).toBe(false);
    expect(await rootLinks()).not.toContain(bridge);
    expect(await vmBlackholePresent()).toBe(false);
  });
});
