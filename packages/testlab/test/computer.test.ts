import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/exec.js';
import { type Lab, labLeftovers, startLab } from '../src/lab.js';

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// One computer, booted from its own disk by its BMC: SSH, systemd, in-guest reboot and poweroff
// as seen by the BMC over RMCP+ (ipmitool -C 3), hard power through the BMC.
describe('a lab computer', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ computers: 1, clients: 0 });
  });
  afterAll(async () => {
    if (lab === undefined) return;
    const { id, record } = lab;
    await lab.down();
    const left = await labLeftovers(id, record.blackhole);
    expect(Object.values(left).flat()).toEqual([]);
  });

  it('boots from its disk to "running"; SSH logs in with the host key pinned before first boot', async () => {
    const c1 = lab.computer('c1');
    expect(await c1.power()).toBe('on');
    expect(c1.booted()).toBe('disk');
    const out = await c1.sshChecked(
      'systemctl is-system-running --wait; hostname; cat /etc/ssh/ssh_host_ed25519_key.pub; id -un',
    );
    const [state, hostname, hostKey, user] = out.trim().split('\n');
    expect(state).toBe('running');
    expect(hostname).toBe('c1');
    expect(hostKey?.split(' ').slice(0, 2).join(' ')).toBe(c1.hostKeys[0]);
    expect(user).toBe('root');
    expect(await readFile(c1.knownHostsPath, 'utf8')).toContain(`${c1.ip} ${c1.hostKeys[0]}`);
  });

  it('refuses a host that is not the pinned one (the pin is really checked)', async () => {
    const c1 = lab.computer('c1');
    const args = c1
      .sshArgs({ deploy: true }) // the deploy environment's key, not this system's
      .concat('true');
    const out = await run('ssh', args);
    expect(out.code).toBe(255);
    expect(out.stderr).toMatch(
      /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/,
    );
  });

  it('reboots when the guest says reboot, with a new boot id, and the BMC stays on', async () => {
    const c1 = lab.computer('c1');
    const bootId = c1.bootId();
    expect(bootId).toMatch(/^[0-9a-f-]{36}$/);
    // /run is a tmpfs of this boot: the marker is gone once the guest has really rebooted.
    await c1.sshChecked('echo before > /run/vlab-marker');
    await c1.ssh('systemctl reboot');
    // nspawn exits with 133 and the power program boots the disk again.
    const deadline = Date.now() + 60_000;
    let marker = 'before';
    while (marker !== 'gone' && Date.now() < deadline) {
      const out = await c1.ssh('cat /run/vlab-marker 2>/dev/null || echo gone', {
        timeoutMs: 10_000,
      });
      if (out.code === 0) marker = out.stdout.trim();
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(marker).toBe('gone');
    expect(c1.bootId()).not.toBe(bootId);
    expect(await c1.power()).toBe('on');
    expect((await c1.sshChecked('systemctl is-system-running --wait')).trim()).toBe('running');
  });

  it('reads as off at its BMC after an in-guest poweroff', async () => {
    const c1 = lab.computer('c1');
    await c1.ssh('systemctl poweroff');
    const waited = await c1.waitForPower('off', 20_000);
    expect(waited).toBeLessThan(20_000);
    expect(await c1.sshAnswers()).toBe(false);
    const power = await c1.ipmitool(['power', 'status']);
    expect(power.stdout).toMatch(/Chassis Power is off/);
  });

  it('powers on and hard off through ipmitool -C 3', async () => {
    const c1 = lab.computer('c1');
    const on = await c1.ipmitool(['power', 'on']);
    expect(on.stdout).toMatch(/Up\/On/);
    await c1.waitForSsh();
    expect(await c1.power()).toBe('on');
    const off = await c1.ipmitool(['power', 'off']);
    expect(off.stdout).toMatch(/Down\/Off/);
    await c1.waitForPower('off', 10_000);
    expect(c1.pids()).toEqual([]);
    expect(await c1.sshAnswers()).toBe(false);
  });

  it('power-cycles and resets through the BMC (new boot id each time), and soft-offs cleanly', async () => {
    const c1 = lab.computer('c1');
    if ((await c1.power()) === 'off') {
      await c1.powerOn();
      await c1.waitForSsh();
    }
    const first = c1.bootId();
    const cycle = await c1.ipmitool(['power', 'cycle']);
    expect(cycle.stdout).toMatch(/Cycle/);
    await until(() => c1.bootId() !== undefined && c1.bootId() !== first);
    await c1.waitForSsh();
    const second = c1.bootId();
    await c1.reset();
    await until(() => c1.bootId() !== undefined && c1.bootId() !== second);
    await c1.waitForSsh();
    expect(await c1.power()).toBe('on');
    await c1.softOff();
    await c1.waitForPower('off', 30_000);
    const log = await readFile(join(c1.dir, 'power.log'), 'utf8');
    expect(log).toMatch(/soft power off\n.*disk boot ended with exit code 0\n/);
  });

  it('runs in its own cgroup, where its memory is measured', async () => {
    const c1 = lab.computer('c1');
    await c1.powerOn();
    await c1.waitForSsh();
    const pids = c1.pids();
    expect(pids.length).toBeGreaterThan(3); // power program, nspawn, the guest's systemd, sshd …
    const cgroup = await readFile(join('/proc', String(pids[0]), 'cgroup'), 'utf8');
    expect(cgroup).toContain(`/${c1.cgroup}`);
    const memory = c1.memory();
    expect(memory?.usageBytes).toBeGreaterThan(1_000_000);
  });
});
