import { isVlabError } from '@vlab/core';
import { imageKey } from '@vlab/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../src/manager.js';
import {
  type MemoryLabManager,
  pollUntil,
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
  // c3 (its loads fail) takes no test load here, but in the test that wants it to.
  await fixture.sql(
    "UPDATE computers SET state = 'maintenance', maintenance_reason = 'kept out' WHERE name = 'c3'",
  );
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
  return (await m.images.list()).find((i) => i.name === 'base')?.revisions ?? [];
}

describe('capture', () => {
  it('refuses a wrong mode and a reservation that is not ready, touching nothing', async () => {
    const m = fixture.manager;
    // alice was registered after the start: registering her gave her the image the
    // configuration says she owns.
    expect((await m.images.get('base'))?.owner).toBe('alice');
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
    const captured = (await revisions(m))[1];
    expect(captured).toMatchObject({ revision: 2, capturedFrom: 'c1', failure: undefined });
    // testing, then (newRevisionTest auto) loaded on a free computer, checked, in production.
    expect(await untilRevision(m, 2, ['production', 'failed'])).toMatchObject({
      state: 'production',
    });
    const [tested] = await fixture.sql<{ test_computer: string }>(
      "SELECT test_computer FROM revisions WHERE image = 'base' AND revision = 2",
    );
    const on = (await m.computers.list()).find((c) => c.name === tested?.test_computer);
    // Its test computer holds it, untainted: the next reservation of revision 2 starts there without a load.
    expect(on).toMatchObject({ state: 'available', loaded: { image: 'base', revision: 2 } });
    const stored = fixture.lab.storedImage('base', 2);
    expect(stored?.sha256).toBe((await revisions(m))[1]?.sha256);
    expect(fixture.lab.images.has(imageKey('base', 2))).toBe(true);
    const steps = await stepsOf(m, id);
    expect(steps).toContain('capture:ok');
    expect(steps).toContain('publish:ok');
    // The guest was generalised and left off: the reclaim only reloads it.
    expect(steps).not.toContain('sanitize:ok');
    if (tested?.test_computer !== 'c1') {
      expect((await m.computers.list()).find((c) => c.name === 'c1')).toMatchObject({
        state: 'available',
        loaded: { image: 'base', revision: 1 },
      });
    }
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
    expect((await revisions(m)).at(-1)).toMatchObject({ revision: 3, capturedFrom: 'c2' });
    expect((await m.computers.list()).find((c) => c.name === 'c2')).toMatchObject({
      state: 'reserved',
      loaded: { image: 'base', revision: 3 },
    });
    await m.reservations.end(id);
    expect(await untilState(m, id, ['ended', 'failed'])).toMatchObject({ state: 'ended' });
  });

  it('captures into a new image: the request makes it (same OS family, the owner named), revision 1 serves after its test', async () => {
    const m = fixture.manager;
    const id = await readyOn(m, 'capture-new-image', 'c1');
    fixture.lab.machine('c1').writeFile('/srv/mine.txt', Buffer.from('mine\n'));
    for (const bad of ['Lab-Work', 'lab..work', '../etc', 'a'.repeat(129), 'x;rm -rf /']) {
      const refused = await m.reservations
        .capture(id, { mode: 'image', image: bad })
        .catch((error: unknown) => error);
      expect(isVlabError(refused, 'VLAB_ERR_REQUEST_INVALID'), bad).toBe(true);
    }
    const before = (await revisions(m)).length;
    await m.reservations.capture(id, { mode: 'image', image: 'lab-work', owner: 'bob' });
    expect(await untilState(m, id, ['ended', 'failed'])).toMatchObject({
      state: 'ended',
      endReason: 'captured as lab-work revision 1 (testing)',
    });
    const made = await m.images.get('lab-work');
    expect(made).toMatchObject({ osFamily: 'linux', owner: 'bob', newRevisionTest: 'auto' });
    expect(made?.revisions[0]).toMatchObject({ revision: 1, capturedFrom: 'c1' });
    expect((await revisions(m)).length).toBe(before);
    expect(fixture.lab.storedImage('lab-work', 1)?.sha256).toBe(made?.revisions[0]?.sha256);
    await pollUntil(
      async () =>
        (await m.images.get('lab-work'))?.revisions[0]?.state === 'production' || undefined,
      async () => `lab-work revision 1 is ${(await m.images.get('lab-work'))?.revisions[0]?.state}`,
    );
    // Others reserve it like any image, and find the user's file.
    const again = await m.reservations.request({
      requestId: 'reserve-new-image',
      image: 'lab-work',
      minutes: 60,
      logins: ['alice'],
    });
    const ready = await untilState(m, again.id, ['ready', 'failed']);
    expect(ready).toMatchObject({ state: 'ready', image: 'lab-work', revision: 1 });
    expect(
      fixture.lab
        .machine(ready.computer as string)
        .files.get('/srv/mine.txt')
        ?.toString(),
    ).toBe('mine\n');
    await m.reservations.end(again.id);
    await untilState(m, again.id, ['ended']);
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
    // Reloaded with the newest production revision (the preload policy).
    const newest = Math.max(
      ...(await revisions(m)).filter((r) => r.state === 'production').map((r) => r.revision),
    );
    expect((await m.computers.list()).find((c) => c.name === 'c2')).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: newest },
    });
  });
});

describe('the test load of a new revision', () => {
  it('keeps the previous production revision when the new one fails its test, and records why', async () => {
    const m = fixture.manager;
    const productionBefore = (await revisions(m)).filter((r) => r.state === 'production');
    // c2 is held by a reservation, c1 captures: the only free computer is c3, whose loads fail.
    const holder = await readyOn(m, 'test-load-holder', 'c2');
    const id = await readyOn(m, 'test-load-capture', 'c1');
    await fixture.sql(
      "UPDATE computers SET state = 'available', maintenance_reason = NULL WHERE name = 'c3'",
    );
    await m.reservations.capture(id, { mode: 'image' });
    const ended = await untilState(m, id, ['ended', 'failed']);
    const revision = Number(/revision (\d+)/.exec(ended.endReason ?? '')?.[1]);
    const failed = await untilRevision(m, revision, ['production', 'failed']);
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatch(/^the test load failed: VLAB_ERR_\w+: /);
    // The revisions in production before still are; c3 is in maintenance with the reason.
    expect((await revisions(m)).filter((r) => r.state === 'production')).toEqual(productionBefore);
    const c3 = (await m.computers.list()).find((c) => c.name === 'c3');
    expect(c3?.state).toBe('maintenance');
    expect(c3?.maintenanceReason).toContain(`test load of base revision ${revision}`);
    await m.reservations.end(holder);
    await untilState(m, holder, ['ended']);
  });
});

/** Waits until revision `revision` of base is in one of `states`. */
async function untilRevision(m: Manager, revision: number, states: readonly string[]) {
  const find = async () => (await revisions(m)).find((r) => r.revision === revision);
  return pollUntil(
    async () => {
      const found = await find();
      return found !== undefined && states.includes(found.state) ? found : undefined;
    },
    async () => `base revision ${revision} is ${(await find())?.state}`,
  );
}

/** Waits until a capture of base has its mark (it began); returns its revision. */
async function untilCaptureBegan(): Promise<number> {
  return pollUntil(
    async () => {
      const [row] = await fixture.sql<{ revision: number }>(
        "SELECT revision FROM revisions WHERE image = 'base' AND state = 'capturing' AND capture_started_at IS NOT NULL",
      );
      return row?.revision;
    },
    () => 'no capture of base began',
  );
}
