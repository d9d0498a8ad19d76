import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../src/manager.js';
import {
  type MemoryLabManager,
  pollUntil,
  requestBase,
  startMemoryLabManager,
  untilState,
} from './memory-lab-manager.js';

// An admin's actions on computers and revisions, on the memory lab: maintenance in and out (also
// asked while the computer is reserved), reload, and the hand marking of revisions
// (`newRevisionTest: manual`).

let fixture: MemoryLabManager;

beforeAll(async () => {
  fixture = await startMemoryLabManager('computer-admin', { newRevisionTest: 'manual' });
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

async function computer(m: Manager, name: string) {
  const status = await m.computers.get(name);
  if (status === undefined) throw new Error(`no computer ${name}`);
  return status;
}

/** Follows computer `name` until `done` says so. */
async function untilComputer(
  m: Manager,
  name: string,
  done: (status: Awaited<ReturnType<typeof computer>>) => boolean,
) {
  return pollUntil(
    async () => {
      const status = await computer(m, name);
      return done(status) ? status : undefined;
    },
    async () => `computer ${name}: ${JSON.stringify(await computer(m, name))}`,
  );
}

/** The `kind:outcome` of the step events on `name`, oldest first. */
async function stepsOn(m: Manager, name: string): Promise<string[]> {
  return (await m.events({ computer: name, limit: 1000 }))
    .filter((e) => e.outcome !== null)
    .map((e) => `${e.kind}:${e.outcome}`);
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('it did not fail'),
    (error: unknown) => error,
  );
}

describe('maintenance', () => {
  it('takes an idle computer out of service at once, with the reason, until an admin releases it', async () => {
    const m = fixture.manager;
    const before = await computer(m, 'c2');
    const status = await m.computers.maintenance('c2', 'replacing a fan');
    expect(status).toMatchObject({ state: 'maintenance', maintenanceReason: 'replacing a fan' });
    const refused = await failure(requestBase(m, 'maintenance-named', { computer: 'c2' }));
    expect(isVlabError(refused, 'VLAB_ERR_COMPUTER_UNAVAILABLE')).toBe(true);
    expect((refused as Error).message).toContain('replacing a fan');
    // Asked again: the reason is replaced.
    expect(await m.computers.maintenance('c2', 'fan replaced, testing')).toMatchObject({
      state: 'maintenance',
      maintenanceReason: 'fan replaced, testing',
    });

    const released = await m.computers.release('c2');
    // Nobody knows what was done to its disk: the next reservation loads it.
    expect(released).toMatchObject({
      state: 'available',
      maintenanceReason: undefined,
      tainted: true,
      loaded: before.loaded,
    });
    expect(
      (await m.events({ computer: 'c2', limit: 1000 }))
        .filter((e) => e.kind.startsWith('computer.'))
        .map((e) => `${e.kind} ${e.message ?? ''}`.trim()),
    ).toEqual([
      'computer.maintenance replacing a fan',
      'computer.maintenance fan replaced, testing',
      'computer.release',
    ]);
  });

  it('waits for a reserved computer: the reservation goes on, and its reclaim ends in maintenance, not in a preload', async () => {
    const m = fixture.manager;
    const requested = await requestBase(m, 'maintenance-while-reserved', { computer: 'c1' });
    await untilState(m, requested.id, ['ready']);
    const asked = await m.computers.maintenance('c1', 'disk errors in the log');
    expect(asked).toMatchObject({
      state: 'reserved',
      maintenanceReason: undefined,
      maintenanceRequested: 'disk errors in the log',
    });
    expect((await m.reservations.get(requested.id))?.state).toBe('ready');

    const loadsBefore = (await stepsOn(m, 'c1')).filter((s) => s.startsWith('reload:')).length;
    await m.reservations.end(requested.id, 'done');
    expect(await untilState(m, requested.id, ['ended', 'failed'])).toMatchObject({
      state: 'ended',
    });
    expect(await computer(m, 'c1')).toMatchObject({
      state: 'maintenance',
      maintenanceReason: 'disk errors in the log',
      maintenanceRequested: undefined,
    });
    // The guest steps ran; the preload did not.
    const steps = await stepsOn(m, 'c1');
    expect(steps).toContain('sanitize:ok');
    expect(steps.filter((s) => s.startsWith('reload:')).length).toBe(loadsBefore);
    expect(steps.slice(-2)).toEqual(['release:ok', 'ended:ok']);
  });

  it('withdraws a waiting request on release', async () => {
    const m = fixture.manager;
    await m.computers.release('c1');
    const requested = await requestBase(m, 'maintenance-withdrawn', { computer: 'c1' });
    await untilState(m, requested.id, ['ready']);
    await m.computers.maintenance('c1', 'maybe later');
    expect(await m.computers.release('c1')).toMatchObject({
      state: 'reserved',
      maintenanceRequested: undefined,
    });
    await m.reservations.end(requested.id);
    await untilState(m, requested.id, ['ended']);
    expect(await computer(m, 'c1')).toMatchObject({
      state: 'available',
      maintenanceReason: undefined,
    });
  });

  it('refuses bad input with typed errors, changing nothing', async () => {
    const m = fixture.manager;
    const before = await m.computers.list();
    for (const name of ['nope', "c1'; DROP TABLE computers; --", '', 'c1\n']) {
      const error = await failure(m.computers.maintenance(name, 'x'));
      expect(isVlabError(error, 'VLAB_ERR_COMPUTER_UNAVAILABLE')).toBe(true);
      expect(await m.computers.get(name)).toBeUndefined();
    }
    for (const reason of ['', 'a'.repeat(501), 'two\nlines', 7 as never]) {
      const error = await failure(m.computers.maintenance('c1', reason));
      expect(isVlabError(error, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
    }
    expect(
      isVlabError(await failure(m.computers.release('nope')), 'VLAB_ERR_COMPUTER_UNAVAILABLE'),
    ).toBe(true);
    expect(await m.computers.list()).toEqual(before);
  });
});

describe('reload', () => {
  it('loads a computer in maintenance, checks it, and brings it back untainted', async () => {
    const m = fixture.manager;
    await m.computers.maintenance('c2', 'reinstall');
    const started = await m.computers.reload('c2', { image: 'base', requestId: 'reload-c2' });
    expect(started.state).toBe('loading');
    const done = await untilComputer(m, 'c2', (c) => c.state !== 'loading');
    expect(done).toMatchObject({
      state: 'available',
      maintenanceReason: undefined,
      loaded: { image: 'base', revision: 1 },
      tainted: false,
    });
    expect(fixture.lab.machine('c2').power).toBe('on');
    // reload-done records its event just after it made the computer available (its own write,
    // not the state change's transaction): a reader can see the state first, so wait for it.
    const steps = await pollUntil(
      async () => {
        const now = await stepsOn(m, 'c2');
        return now.at(-1) === 'reload-done:ok' ? now : undefined;
      },
      async () => `steps on c2: ${(await stepsOn(m, 'c2')).join(', ')}`,
    );
    expect(steps.slice(-6)).toEqual([
      'reload-claim:ok',
      'queue:ok',
      'test-plan:ok',
      'load:ok',
      'node-status:ok',
      'reload-done:ok',
    ]);

    // The same request again finds the first reload and starts nothing.
    await m.computers.reload('c2', { image: 'base', requestId: 'reload-c2' });
    expect(await stepsOn(m, 'c2')).toEqual(steps);
  });

  it('refuses a computer at work, an unknown revision and bad input, starting nothing', async () => {
    const m = fixture.manager;
    const requested = await requestBase(m, 'reload-busy', { computer: 'c2' });
    await untilState(m, requested.id, ['ready']);
    const busy = await failure(m.computers.reload('c2', { image: 'base' }));
    expect(isVlabError(busy, 'VLAB_ERR_COMPUTER_UNAVAILABLE')).toBe(true);
    expect((busy as Error).message).toContain('c2 is reserved');
    expect((await m.reservations.get(requested.id))?.state).toBe('ready');
    await m.reservations.end(requested.id);
    await untilState(m, requested.id, ['ended']);

    const before = await stepsOn(m, 'c1');
    for (const [request, code] of [
      [{ image: 'base', revision: 9 }, 'VLAB_ERR_IMAGE_UNKNOWN'],
      [{ image: 'nope' }, 'VLAB_ERR_IMAGE_UNKNOWN'],
      [{ image: 'base', revision: -1 }, 'VLAB_ERR_REQUEST_INVALID'],
      [{ image: 'base', revision: 1.5 }, 'VLAB_ERR_REQUEST_INVALID'],
      [{ image: "base'; --" }, 'VLAB_ERR_IMAGE_UNKNOWN'],
      [{ image: 'base', requestId: 'x'.repeat(201) }, 'VLAB_ERR_REQUEST_INVALID'],
      [null, 'VLAB_ERR_REQUEST_INVALID'],
    ] as const) {
      const error = await failure(m.computers.reload('c1', request as never));
      expect(isVlabError(error, code), `${JSON.stringify(request)}: ${String(error)}`).toBe(true);
    }
    expect(await stepsOn(m, 'c1')).toEqual(before);
    expect((await computer(m, 'c1')).state).toBe('available');
  });

  it('puts a computer whose reload fails in maintenance, with the reason', async () => {
    const m = fixture.manager;
    // c3's BMC password is wrong: its load fails.
    await m.computers.reload('c3', { image: 'base' });
    const done = await untilComputer(m, 'c3', (c) => c.state !== 'loading');
    expect(done.state).toBe('maintenance');
    expect(done.maintenanceReason).toMatch(/^reload with base revision 1 failed: VLAB_ERR_/);
    expect(done.loaded).toBeUndefined();
  });
});

describe('revisions marked by hand (newRevisionTest: manual)', () => {
  it('keeps a captured revision in testing until its owner promotes it; retire takes it out', async () => {
    const m = fixture.manager;
    await m.computers.release('c3');
    await m.computers.maintenance('c3', 'kept out of this test');
    const requested = await requestBase(m, 'manual-capture', { computer: 'c1', logins: ['alice'] });
    await untilState(m, requested.id, ['ready']);
    await m.reservations.capture(requested.id, { mode: 'image' });
    await untilState(m, requested.id, ['ended']);
    const revision = async (n: number) =>
      (await m.images.get('base'))?.revisions.find((r) => r.revision === n);
    expect(await revision(2)).toMatchObject({ state: 'testing', capturedFrom: 'c1' });
    // No test load runs: a request for the newest production revision still gets 1.
    const before = await requestBase(m, 'manual-before');
    expect(before.revision).toBe(1);
    await m.reservations.end(before.id);

    // An admin tries it on a computer first: a reload takes a testing revision.
    await m.computers.reload('c2', { image: 'base', revision: 2 });
    expect(await untilComputer(m, 'c2', (c) => c.state !== 'loading')).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: 2 },
    });

    expect((await m.images.promote('base', 2)).revisions.map((r) => r.state)).toEqual([
      'production',
      'production',
    ]);
    // Promoting again does nothing.
    await m.images.promote('base', 2);
    const after = await requestBase(m, 'manual-after');
    expect(after.revision).toBe(2);
    // The computer holding revision 2 untainted is reused.
    expect((await untilState(m, after.id, ['ready'])).computer).toBe('c2');
    await m.reservations.end(after.id);
    await untilState(m, after.id, ['ended']);

    await m.images.retire('base', 2);
    const retired = await requestBase(m, 'manual-retired');
    expect(retired.revision).toBe(1);
    await m.reservations.end(retired.id);
    await untilState(m, retired.id, ['ended', 'failed']);

    const wrong = await failure(m.images.promote('base', 2));
    expect(isVlabError(wrong, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
    expect((wrong as Error).message).toContain('is retired');
    expect(isVlabError(await failure(m.images.promote('base', 7)), 'VLAB_ERR_IMAGE_UNKNOWN')).toBe(
      true,
    );
    expect(isVlabError(await failure(m.images.promote('nope', 1)), 'VLAB_ERR_IMAGE_UNKNOWN')).toBe(
      true,
    );
    expect(isVlabError(await failure(m.images.retire('base', 0)), 'VLAB_ERR_REQUEST_INVALID')).toBe(
      true,
    );
    expect((await m.events({ limit: 1000 })).map((e) => e.kind)).toEqual(
      expect.arrayContaining(['revision.production', 'revision.retired']),
    );
  });
});
