import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../src/manager.js';
import {
  stepsOf as kinds,
  type MemoryLabManager,
  startMemoryLabManager,
  untilState as until,
  untilSteps as untilEvents,
} from './memory-lab-manager.js';

// The reservation life cycle through createManager, on the memory lab's fixture modules and a real
// PostgreSQL the test starts.

let fixture: MemoryLabManager;

beforeAll(async () => {
  fixture = await startMemoryLabManager('reservations');
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

describe('a reservation', () => {
  it('runs its whole life: load, reserve, ready, end, reclaim with a preload', async () => {
    const m = fixture.manager;
    const requested = await m.reservations.request({
      requestId: 'req-1',
      image: 'base',
      minutes: 60,
      logins: ['alice', 'bob'],
    });
    expect(requested).toMatchObject({ state: 'pending', image: 'base', revision: 1 });
    const ready = await until(m, requested.id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');
    const computer = ready.computer as string;
    const machine = fixture.lab.machine(computer);
    expect(machine.userAccounts.map((a) => a.login).sort()).toEqual(['alice', 'bob']);
    expect((await m.computers.list()).find((c) => c.name === computer)).toMatchObject({
      state: 'reserved',
      loaded: { image: 'base', revision: 1 },
    });
    // The generated passwords are in the database only sealed.
    const sealed = await fixture.sql<{ login: string; ciphertext: Buffer }>(
      'SELECT login, ciphertext FROM reservation_secrets WHERE reservation_id = $1',
      [requested.id],
    );
    expect(sealed.map((s) => s.login).sort()).toEqual(['alice', 'bob']);
    // Each user learns how to connect, and their password (alice needs it for sudo).
    expect(ready.access.map((a) => a.login).sort()).toEqual(['alice', 'bob']);
    const alice = await m.reservations.access(requested.id, 'alice');
    expect(alice).toMatchObject({ login: 'alice', protocol: 'ssh', port: 22 });
    expect(machine.checkPassword('alice', alice.password?.reveal() ?? '')).toBe(true);
    expect(String(alice.password)).not.toContain(alice.password?.reveal());
    for (const login of ['carol', "alice' OR 1=1", 7 as never]) {
      const refused = await m.reservations.access(requested.id, login).catch((e: unknown) => e);
      expect(isVlabError(refused, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
    }

    await m.reservations.end(requested.id, 'done for today');
    const ended = await until(m, requested.id, ['ended', 'failed']);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'done for today' });
    expect(machine.userAccounts).toEqual([]);
    expect((await m.computers.list()).find((c) => c.name === computer)).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: 1 },
    });
    const events = await kinds(m, requested.id);
    // The access asked for is recorded (when, relative to the wait's first step, is the race's).
    expect(events.filter((k) => k.startsWith('reservation.access'))).toEqual([
      'reservation.access:null',
    ]);
    expect(events.filter((k) => !k.startsWith('reservation.access'))).toEqual([
      'assign:ok',
      'plan:ok',
      'queue:ok',
      'load:ok',
      'loaded:ok',
      'seal-passwords:ok',
      'taint:ok',
      'reserve:ok',
      'ready:ok',
      'read-end:ok',
      'ending:ok',
      'queue:ok',
      'post-reservation:ok',
      'sanitize:ok',
      'choose-preload:ok',
      'reload:ok',
      'release:ok',
      'ended:ok',
    ]);
    const left = await fixture.sql('SELECT 1 FROM reservation_secrets WHERE reservation_id = $1', [
      requested.id,
    ]);
    expect(left).toEqual([]);
    const late = await m.reservations.access(requested.id, 'bob').catch((e: unknown) => e);
    expect(isVlabError(late, 'VLAB_ERR_REQUEST_INVALID')).toBe(true);
  });
});

describe('reservations and computers', () => {
  it('reuses a computer that holds the revision untainted, without loading it again', async () => {
    const m = fixture.manager;
    const first = await m.reservations.request({
      requestId: 'reuse-1',
      image: 'base',
      minutes: 30,
      logins: ['bob'],
    });
    const ready = await until(m, first.id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');
    // c1 was preloaded by the first test: handed out again after a node-status check, no load.
    expect(ready.computer).toBe('c1');
    const steps = await kinds(m, first.id);
    expect(steps).toContain('node-status:ok');
    expect(steps).not.toContain('load:ok');
    await m.reservations.end(first.id);
    await until(m, first.id, ['ended']);
  });

  it('assigns two requests made at the same moment to two computers at once, neither waiting', async () => {
    const m = fixture.manager;
    const pair = await Promise.all(
      ['pair-1', 'pair-2'].map((requestId) =>
        m.reservations.request({ requestId, image: 'base', minutes: 30, logins: ['bob'] }),
      ),
    );
    const ready = await Promise.all(pair.map((r) => until(m, r.id, ['ready', 'failed'])));
    expect(new Set(ready.map((r) => r.computer))).toEqual(new Set(['c1', 'c2']));
    for (const r of pair) {
      expect((await kinds(m, r.id)).filter((k) => k === 'assign:ok')).toHaveLength(1);
      await m.reservations.end(r.id);
      await until(m, r.id, ['ended']);
    }
  });

  it('waits for a free computer, and gets the one another reservation gives back', async () => {
    const m = fixture.manager;
    const holders = await Promise.all(
      ['c1', 'c2'].map((computer) =>
        m.reservations.request({
          requestId: `hold-${computer}`,
          image: 'base',
          minutes: 30,
          logins: ['bob'],
          computer,
        }),
      ),
    );
    for (const holder of holders) await until(m, holder.id, ['ready']);
    const waiting = await m.reservations.request({
      requestId: 'wait-1',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
      computer: 'c2',
    });
    // Asked at least twice while c2 was taken.
    await untilEvents(m, waiting.id, (steps) => steps.filter((k) => k === 'assign:ok').length >= 2);
    expect((await m.reservations.get(waiting.id))?.state).toBe('pending');
    await m.reservations.end(holders[1]?.id as string);
    const ready = await until(m, waiting.id, ['ready', 'failed']);
    expect(ready).toMatchObject({ state: 'ready', computer: 'c2' });
    for (const id of [holders[0]?.id as string, waiting.id]) {
      await m.reservations.end(id);
      await until(m, id, ['ended']);
    }
  });

  it('fails a reservation whose load fails and puts the computer in maintenance with the reason', async () => {
    const m = fixture.manager;
    const doomed = await m.reservations.request({
      requestId: 'doomed-1',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
      computer: 'c3',
    });
    const failed = await until(m, doomed.id, ['failed', 'ready']);
    expect(failed.state).toBe('failed');
    expect(failed.endReason).toMatch(/^preparing c3 failed: VLAB_ERR_\w+: /);
    const c3 = (await m.computers.list()).find((c) => c.name === 'c3');
    expect(c3).toMatchObject({ state: 'maintenance' });
    expect(c3?.maintenanceReason).toBe(failed.endReason);
    expect(await kinds(m, doomed.id)).toContain('load:failed');
    // A computer in maintenance takes no reservation.
    const refused = await m.reservations
      .request({
        requestId: 'doomed-2',
        image: 'base',
        minutes: 5,
        logins: ['alice'],
        computer: 'c3',
      })
      .catch((error: unknown) => error);
    expect(isVlabError(refused, 'VLAB_ERR_COMPUTER_UNAVAILABLE')).toBe(true);
  });

  it('ends a reservation whose time ran out', async () => {
    const m = fixture.manager;
    const short = await m.reservations.request({
      requestId: 'short-1',
      image: 'base',
      minutes: 30,
      logins: ['bob'],
    });
    await until(m, short.id, ['ready']);
    // As if its 30 minutes had gone by: its end set to a minute and a second ago; extended by a
    // minute, it ends at once (the extend message wakes the workflow, which reads the end again).
    await fixture.sql(
      "UPDATE reservations SET starts_at = now() - interval '31 minutes 1 second', ends_at = now() - interval '61 seconds' WHERE id = $1",
      [short.id],
    );
    await m.reservations.extend(short.id, 1);
    const ended = await until(m, short.id, ['ended', 'failed']);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'its time ran out' });
  });
});

describe('a manager that stops in the middle of a reservation', () => {
  it('finishes it after its restart: the interrupted step runs again, completed ones do not', async () => {
    let m: Manager = fixture.manager;
    const machine = fixture.lab.machine('c2');
    const resume = machine.stall();
    const request = await m.reservations.request({
      requestId: 'restart-1',
      image: 'base',
      minutes: 30,
      logins: ['alice'],
      computer: 'c2',
    });
    // c2 holds base@1 untainted? No: the previous reservations tainted it and it was preloaded,
    // so it is reused after a node-status check, which the stall holds. Stop the manager there.
    await untilEvents(m, request.id, (steps) => steps.includes('queue:ok'));
    await fixture.stop();
    resume();
    m = await fixture.start();
    const ready = await until(m, request.id, ['ready', 'failed']);
    expect(ready.endReason).toBeUndefined();
    expect(ready).toMatchObject({ state: 'ready' });
    const steps = await kinds(m, request.id);
    // Each completed step ran once; the interrupted one finished after the restart.
    expect(steps.filter((k) => k === 'assign:ok')).toHaveLength(1);
    expect(steps.filter((k) => k === 'reserve:ok')).toHaveLength(1);
    await m.reservations.end(request.id);
    expect(await until(m, request.id, ['ended', 'failed'])).toMatchObject({ state: 'ended' });
  });
});
