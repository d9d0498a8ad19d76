import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MemoryLabManager,
  pollUntil,
  requestBase,
  startMemoryLabManager,
  stepsOf,
  untilState,
  untilSteps,
} from './memory-lab-manager.js';

// "In use" and the reclaim of a reservation nobody connects to, on the memory lab (its OS module
// has `userConnected`): the manager asks every second here, and the test moves a reservation's
// `ready_at` back past the 15 minutes instead of waiting them.

let fixture: MemoryLabManager;

beforeAll(async () => {
  fixture = await startMemoryLabManager('user-connected', {
    policies: '{ reservation: { connectCheckSeconds: 1, unusedReclaimMinutes: 15 } }',
  });
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

async function ready(requestId: string, computer: string) {
  const m = fixture.manager;
  const requested = await requestBase(m, requestId, { computer, minutes: 60 });
  return untilState(m, requested.id, ['ready']);
}

/** Moves the reservation's hand-over `minutes` into the past. */
async function readySince(id: string, minutes: number): Promise<void> {
  await fixture.sql(
    `UPDATE reservations SET ready_at = now() - make_interval(mins => $1) WHERE id = $2`,
    [minutes, id],
  );
}

describe('a reservation nobody connects to', () => {
  it('is asked about until its unused time runs out, then ended and reclaimed', async () => {
    const m = fixture.manager;
    const reservation = await ready('unused', 'c1');
    expect(reservation.connectedAt).toBeUndefined();
    expect(reservation.readyAt).toBeInstanceOf(Date);
    // Asked at least once, nobody there.
    await untilSteps(m, reservation.id, (steps) => steps.includes('user-connected:ok'));
    await readySince(reservation.id, 16);
    const ended = await untilState(m, reservation.id, ['ended', 'failed']);
    expect(ended).toMatchObject({
      state: 'ended',
      endReason: 'nobody connected within 15 minutes',
      connectedAt: undefined,
    });
    const steps = await stepsOf(m, reservation.id);
    expect(steps).not.toContain('connected:ok');
    expect(steps).toContain('sanitize:ok');
  });
});

describe('a reservation a user connects to', () => {
  it('records the first connection and is no longer reclaimed as unused', async () => {
    const m = fixture.manager;
    const reservation = await ready('connected', 'c2');
    const close = fixture.lab.machine('c2').openSession('bob', '203.0.113.5');
    const connected = await pollUntil(
      async () => {
        const status = await m.reservations.get(reservation.id);
        return status?.connectedAt === undefined ? undefined : status;
      },
      async () => `events: ${(await stepsOf(m, reservation.id)).join(', ')}`,
    );
    expect(connected).toMatchObject({ state: 'ready' });
    close();
    // Past the unused time, woken by an extension: it reads its times again and waits on.
    await readySince(reservation.id, 60);
    const before = (await stepsOf(m, reservation.id)).filter((s) => s === 'read-end:ok').length;
    await m.reservations.extend(reservation.id, 30);
    await untilSteps(
      m,
      reservation.id,
      (steps) => steps.filter((s) => s === 'read-end:ok').length > before,
    );
    const after = await m.reservations.get(reservation.id);
    expect(after).toMatchObject({ state: 'ready', connectedAt: connected.connectedAt });
    const steps = await stepsOf(m, reservation.id);
    expect(steps.filter((s) => s === 'connected:ok')).toHaveLength(1);
    // Nobody is asked any more once a user was seen.
    expect(steps.slice(steps.indexOf('connected:ok'))).not.toContain('user-connected:ok');
    await m.reservations.end(reservation.id);
    await untilState(m, reservation.id, ['ended']);
  });
});
