import { parseStamp } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { LAB_HARNESS_IMAGE } from '../src/harness.js';
import { DEPLOY_DISK_PATH } from '../src/image.js';
import { useHarnessLab } from './fixtures/harness-lab.js';

const CONTEXT = { phase: 'harness-test', timeoutMs: 30_000 };

// The conformance-kit harness of a lab computer, exercised without an OS module: reset deploys
// the base image through the deploy environment, and every observation comes from outside.
describe('the lab harness', () => {
  // Nothing may be left after down: loop devices (identity disks) and snapshot mounts included.
  const setup = useHarnessLab();

  it('resets to the image with a captured stamp, on and answering, nothing seen yet', async () => {
    const started = performance.now();
    await setup.harness.reset();
    console.log(`reset took ${Math.round(performance.now() - started)} ms`);
    expect(await setup.harness.power()).toBe('on');
    const bytes = await setup.harness.readFile(setup.harness.stampPath);
    const stamp = parseStamp(bytes?.toString('utf8') ?? '', 'c1');
    expect(stamp).toMatchObject({
      state: 'captured',
      image: LAB_HARNESS_IMAGE.name,
      revision: LAB_HARNESS_IMAGE.revision,
    });
    expect(setup.harness.powerEvents()).toEqual([]);
    expect(setup.harness.diskReads()).toEqual([]);
    expect(await setup.harness.accounts()).toEqual([]);
    const ctx = setup.harness.osContext(CONTEXT);
    const out = await ctx.communicator.run(['hostname']);
    expect(out.stdout.toString().trim()).toBe('c1');
    expect(await ctx.power.status()).toBe('on');
  });

  it('reads accounts and files from the running guest, and from the disk when off', async () => {
    const ctx = setup.harness.osContext(CONTEXT);
    await ctx.communicator.runChecked(['useradd', '-m', '-u', '1500', 'kit1']);
    expect(await setup.harness.accounts()).toEqual(['kit1']);
    expect((await setup.harness.readFile('/etc/hostname'))?.toString()).toBe('c1\n');
    expect(await setup.harness.readFile('/etc/no-such-file')).toBeUndefined();
    await setup.harness.labComputer.powerOff();
    await setup.harness.labComputer.waitForPower('off');
    expect(await setup.harness.power()).toBe('off');
    expect(setup.harness.powerEvents().map((e) => e.state)).toContain('off');
    expect(await setup.harness.accounts()).toEqual(['kit1']);
    expect((await setup.harness.readFile(setup.harness.stampPath))?.toString()).toContain(
      '"captured"',
    );
    expect(await setup.harness.readFile('/etc/no-such-file')).toBeUndefined();
    await setup.harness.reset();
    expect(await setup.harness.accounts()).toEqual([]);
    expect(setup.harness.powerEvents()).toEqual([]);
  });

  it('sees a warm reboot as off then on', async () => {
    const ctx = setup.harness.osContext(CONTEXT);
    const since = performance.now();
    await ctx.communicator.run(['systemctl', 'reboot']).catch(() => undefined);
    await setup.harness.labComputer.waitForSsh();
    const states = setup.harness
      .powerEvents()
      .filter((e) => e.at >= since)
      .map((e) => e.state);
    expect(states.slice(0, 2)).toEqual(['off', 'on']);
    expect(await setup.harness.power()).toBe('on');
  });

  it('stalls the machine until resumed', async () => {
    const c1 = setup.harness.labComputer;
    const resume = await setup.harness.stall();
    try {
      // Commands hang: OpenSSH gets no banner, and is killed after 3 s.
      const started = performance.now();
      const out = await c1.ssh('true', { timeoutMs: 3000 });
      expect(out.code).not.toBe(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(2900);
      expect(await setup.harness.power()).toBe('on'); // the BMC still answers
    } finally {
      await resume();
    }
    expect((await c1.sshChecked('echo back')).trim()).toBe('back');
  });

  it('records reads of the disk in the deploy environment', async () => {
    await setup.harness.reset();
    const c1 = setup.harness.labComputer;
    await c1.powerOff();
    await c1.waitForPower('off');
    await c1.setBootDevice('pxe');
    await c1.powerOn();
    await c1.waitForSsh({ deploy: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(setup.harness.diskReads()).toEqual([]);
    const before = performance.now();
    await c1.sshChecked(`dd if=${DEPLOY_DISK_PATH} of=/dev/null bs=1M count=16 status=none`, {
      deploy: true,
    });
    const reads = setup.harness.diskReads();
    expect(reads.length).toBeGreaterThan(0);
    expect(reads[0]?.at).toBeGreaterThanOrEqual(before);
  });

  it('keeps secrets out of its logs and lists them', () => {
    const secrets = setup.harness.secrets().map((s) => s.reveal());
    expect(secrets).toHaveLength(5);
    const logged = JSON.stringify(setup.harness.logs());
    for (const secret of secrets) expect(logged).not.toContain(secret);
  });
});
