import { isVlabError } from '@vlab/core';
import { imageKey } from '@vlab/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../src/manager.js';
import {
  type MemoryLabManager,
  startMemoryLabManager,
  stepsOf,
  untilState,
  untilSteps,
} from './memory-lab-manager.js';

// Capture through the manager, on the memory lab: the manager checks and asks, the provisioner
// runs the sequence (preCapture included), the new revision is recorded, and a capture that
// began is never started twice.

let fixture: MemoryLabManager;

beforeAll(async () => {
  fixture = await startMemoryLabManager('capture');
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

async function readyOn(m: Manager, requestId: string, computer: string): Promise<string> {
  const requested = await m.reservations.request({
    requestId,
    image: 'base',
    minutes: 60,
    logins: ['alice'],
    computer,
  });
  expect(await untilState(m, requested.id, ['ready', 'failed'])).toMatchObject({ state: 'ready' });
  return requested.id;
}

async function revisions(m: Manager) {
  return (await m.images()).find((i) => i.name === 'base')?.revisions ?? [];
}

describe('capture', () => {
  it('refuses a wrong mode and a reservation that is not ready, touching nothing', async () => {
    const m = fixture.manager;
    const id = await readyOn(m, 'capture-refused', 'c1');
    const wrong = await m.reservations
      .capture(id, { mode: 'snapshot' as never })
      .catch((error: unknown) => error);
    expect(isVlabError(wrong, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
    await m.reservations.end(id);
    await untilState(m, id, ['ended']);
    const late = await m.reservations
      .capture(id, { mode: 'image' })
      .catch((error: unknown) => error);
    expect(isVlabError(late, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
    expect((late as Error).message).toContain('ended');
    expect((await revisions(m)).map((r) => r.revision)).toEqual([1]);
  });

  it('captures an image: a new revision in testing, the reservation ends, the computer is reloaded', async () => {
    const m = fixture.manager;
    const id = await readyOn(m, 'capture-image', 'c1');
    // The user's work: a file on the machine, which the new revision must hold.
    fixture.lab.machine('c1').writeFile('/srv/work.txt', Buffer.from('results\n'));
    await m.reservations.capture(id, { mode: 'image' });
    const ended = await untilState(m, id, ['ended', 'failed']);
    expect(ended).toMatchObject({
      state: 'ended',
      endReason: 'captured as base revision 2 (testing)',
    });
    expect(await revisions(m)).toMatchObject([
      { revision: 1, state: 'production' },
      { revision: 2, state: 'testing', capturedFrom: 'c1', failure: undefined },
    ]);
    const stored = fixture.lab.storedImage('base', 2);
    expect(stored?.sha256).toBe((await revisions(m))[1]?.sha256);
    expect(fixture.lab.images.has(imageKey('base', 2))).toBe(true);
    const steps = await stepsOf(m, id);
    expect(steps).toContain('capture:ok');
    expect(steps).toContain('publish:ok');
    // The guest was generalised and left off: the reclaim only reloads it.
    expect(steps).not.toContain('sanitize:ok');
    expect((await m.computers()).find((c) => c.name === 'c1')).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: 1 },
    });
  });

  it('takes a checkpoint: the users get their computer back and go on', async () => {
    const m = fixture.manager;
    const id = await readyOn(m, 'capture-checkpoint', 'c2');
    await m.reservations.capture(id, { mode: 'checkpoint' });
    const steps = await untilSteps(
      m,
      id,
      (s) =>
        s.includes('reserve:ok') &&
        s.includes('publish:ok') &&
        s.lastIndexOf('reserve:ok') > s.indexOf('publish:ok'),
    );
    expect(steps.filter((s) => s === 'capture:ok')).toHaveLength(1);
    expect((await m.reservations.get(id))?.state).toBe('ready');
    expect(fixture.lab.machine('c2').userAccounts.map((a) => a.login)).toEqual(['alice']);
    expect((await revisions(m)).at(-1)).toMatchObject({
      revision: 3,
      state: 'testing',
      capturedFrom: 'c2',
    });
    expect((await m.computers()).find((c) => c.name === 'c2')).toMatchObject({
      state: 'reserved',
      loaded: { image: 'base', revision: 3 },
    });
    await m.reservations.end(id);
    expect(await untilState(m, id, ['ended', 'failed'])).toMatchObject({ state: 'ended' });
  });

  it('never starts a capture twice: one the manager stopped in fails, its data removed, the computer reloaded', async () => {
    // Once the guest steps before the capture are done, c2 stops answering: the capture begins
    // (its mark is written before provisioner.capture is called) and hangs in preCapture.
    const machine = fixture.lab.machine('c2');
    let resume: (() => void) | undefined;
    await fixture.stop();
    let m = await fixture.start({
      onStepDone: (step) => {
        if (step.step === 'post-reservation' && resume === undefined) resume = machine.stall();
      },
    });
    const id = await readyOn(m, 'capture-interrupted', 'c2');
    await m.reservations.capture(id, { mode: 'image' });
    const revision = await untilCaptureBegan();
    await fixture.stop();
    resume?.();
    m = await fixture.start();
    const ended = await untilState(m, id, ['ended', 'failed']);
    expect(ended.state).toBe('failed');
    expect(ended.endReason).toMatch(/^capture failed: VLAB_ERR_CAPTURE_INTERRUPTED: /);
    expect((await revisions(m)).at(-1)).toMatchObject({ revision, state: 'failed' });
    expect(fixture.lab.images.has(imageKey('base', revision))).toBe(false);
    const steps = await stepsOf(m, id);
    expect(steps).toContain('capture:failed');
    expect(steps).toContain('discard:ok');
    expect(steps).toContain('reload:ok');
    expect((await m.computers()).find((c) => c.name === 'c2')).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: 1 },
    });
  });
});

/** Waits until a capture of base has its mark (it began); returns its revision. */
async function untilCaptureBegan(): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [row] = await fixture.sql<{ revision: number }>(
      "SELECT revision FROM revisions WHERE image = 'base' AND state = 'capturing' AND capture_started_at IS NOT NULL",
    );
    if (row !== undefined) return row.revision;
    if (Date.now() > deadline) throw new Error('no capture of base began');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
