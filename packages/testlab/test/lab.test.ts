import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, labLeftovers, startLab } from '../src/lab.js';

/** Whether `client` opens TCP port 22 of `address` and reads an SSH banner (bash's /dev/tcp). */
async function bannerFrom(lab: Lab, client: string, address: string): Promise<string> {
  const out = await lab.clients
    .find((c) => c.name === client)
    ?.exec('timeout', [
      '3',
      'bash',
      '-c',
      'exec 3<>"/dev/tcp/$1/22"; head -c 8 <&3',
      'banner',
      address,
    ]);
  return out?.code === 0 ? out.stdout : `(no banner: exit ${out?.code})`;
}

// Three computers and two client namespaces at once, each computer in its own namespace and
// cgroup; one powered off or rebooted leaves the others alone; a guest firewall tells clients apart.
describe('a lab of three computers', () => {
  let lab: Lab;
  const started = performance.now();
  beforeAll(async () => {
    lab = await startLab({ computers: 3, clients: 2 });
    console.log(`3 computers up in ${Math.round(performance.now() - started)} ms`);
  });
  afterAll(async () => {
    if (lab === undefined) return;
    const { id, record } = lab;
    await lab.down();
    expect(Object.values(await labLeftovers(id, record.blackhole)).flat()).toEqual([]);
  });

  it('runs all three to "running", each with its own address, name and cgroup', async () => {
    const results = await Promise.all(
      lab.computers.map((c) => c.sshChecked('systemctl is-system-running --wait; hostname')),
    );
    expect(results.map((r) => r.trim().split('\n'))).toEqual([
      ['running', 'c1'],
      ['running', 'c2'],
      ['running', 'c3'],
    ]);
    expect(new Set(lab.computers.map((c) => c.ip)).size).toBe(3);
    for (const c of lab.computers) {
      const memory = c.memory();
      expect(memory?.usageBytes).toBeGreaterThan(1_000_000);
      console.log(
        `${c.name}: ${((memory?.usageBytes ?? 0) / 2 ** 20) | 0} MiB charged (anon ${((memory?.anonBytes ?? 0) / 2 ** 20) | 0} MiB, page cache ${((memory?.fileBytes ?? 0) / 2 ** 20) | 0} MiB), ${c.pids().length} processes`,
      );
      const others = lab.computers.filter((o) => o !== c).flatMap((o) => o.pids());
      expect(c.pids().some((pid) => others.includes(pid))).toBe(false);
    }
  });

  it('lets both clients reach every computer, and a guest firewall keeps one of them out', async () => {
    const [client1, client2] = lab.clients;
    const c1 = lab.computer('c1');
    for (const c of lab.computers) {
      expect(await bannerFrom(lab, 'client1', c.ip)).toBe('SSH-2.0-');
      expect(await bannerFrom(lab, 'client2', c.ip)).toBe('SSH-2.0-');
    }
    await c1.sshChecked(
      `nft add table inet vlabtest && nft 'add chain inet vlabtest input { type filter hook input priority 0; }' && nft add rule inet vlabtest input ip saddr ${client2?.ip} tcp dport 22 drop`,
    );
    expect(await bannerFrom(lab, 'client1', c1.ip)).toBe('SSH-2.0-');
    expect(await bannerFrom(lab, 'client2', c1.ip)).toMatch(/no banner/);
    expect(await bannerFrom(lab, 'client2', lab.computer('c2').ip)).toBe('SSH-2.0-');
    expect(client1?.ip).not.toBe(client2?.ip);
    await c1.sshChecked('nft delete table inet vlabtest');
    expect(await bannerFrom(lab, 'client2', c1.ip)).toBe('SSH-2.0-');
  });

  it('keeps computers apart from each other’s power: off and reboot leave the others running', async () => {
    const [c1, c2, c3] = lab.computers;
    if (c1 === undefined || c2 === undefined || c3 === undefined) throw new Error('3 computers');
    const c3Boot = c3.bootId();
    await c1.powerOff();
    await c2.ssh('systemctl reboot');
    await c1.waitForPower('off');
    await c2.waitForSsh();
    expect(await c1.power()).toBe('off');
    expect(await c2.power()).toBe('on');
    expect(await c3.power()).toBe('on');
    expect(c3.bootId()).toBe(c3Boot);
    expect((await c3.sshChecked('systemctl is-system-running')).trim()).toBe('running');
  });
});
