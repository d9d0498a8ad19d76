import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../src/manager.js';
import {
  type MemoryLabManager,
  pollUntil,
  requestBase,
  startMemoryLabManager,
  untilState,
} from './memory-lab-manager.js';

// Power-state sync on the memory lab, a round every second here (120 s by default): c3's BMC
// refuses the manager's password, so its checks fail; the test cuts the power of c1 and c2 from
// outside, as a tripped breaker would.

let fixture: MemoryLabManager;

beforeAll(async () => {
  fixture = await startMemoryLabManager('power-sync', {
    policies: '{ powerSync: { intervalSeconds: 1, failuresBeforeMaintenance: 3 } }',
  });
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

async function untilComputer(m: Manager, name: string, state: string) {
  return pollUntil(
    async () => {
      const status = await m.computers.get(name);
      return status?.state === state ? status : undefined;
    },
    async () => `computer ${name}: ${JSON.stringify(await m.computers.get(name))}`,
  );
}

async function powerEvents(m: Manager, name: string): Promise<string[]> {
  return (await m.events({ computer: name, limit: 1000 }))
    .filter((e) => e.kind === 'power.check' || e.kind === 'computer.maintenance')
    .map((e) => `${e.kind}: ${e.message}`);
}

describe('power sync', () => {
  it('puts a computer whose checks fail 3 times in a row in maintenance, with the reason', async () => {
    const m = fixture.manager;
    const c3 = await untilComputer(m, 'c3', 'maintenance');
    expect(c3.maintenanceReason).toMatch(
      /^3 power checks in a row failed; the last: the power check failed: .*BMC refused/,
    );
    const events = await powerEvents(m, 'c3');
    expect(events.slice(0, 4).map((e) => e.replace(/^power\.check: .* \((.+)\)$/, '$1'))).toEqual([
      '1 of 3 in a row',
      '2 of 3 in a row',
      '3 of 3 in a row',
      expect.stringMatching(/^computer\.maintenance: 3 power checks in a row failed/),
    ]);
    // In maintenance its checks go on being read, and counted no more.
    await pollUntil(
      async () => {
        const status = await m.computers.get('c3');
        return status !== undefined &&
          status.power.checkedAt !== undefined &&
          status.power.checkedAt > (c3.power.checkedAt ?? new Date(0))
          ? status
          : undefined;
      },
      () => 'no later power check of c3',
    );
    expect(await powerEvents(m, 'c3')).toHaveLength(4);
  });

  it('reads the power of the computers it can reach, and counts nothing against them', async () => {
    const m = fixture.manager;
    const c1 = await pollUntil(
      async () => {
        const status = await m.computers.get('c1');
        return status?.power.checkedAt === undefined ? undefined : status;
      },
      () => 'c1 was never checked',
    );
    expect(c1).toMatchObject({ state: 'available', power: { state: 'off' } });
    expect(await powerEvents(m, 'c1')).toEqual([]);
  });

  it('asks maintenance for a reserved computer found off: the reservation goes on, then it is kept out', async () => {
    const m = fixture.manager;
    const requested = await requestBase(m, 'power-reserved', { computer: 'c1' });
    await untilState(m, requested.id, ['ready']);
    fixture.lab.machine('c1').powerOff();
    const asked = await pollUntil(
      async () => {
        const status = await m.computers.get('c1');
        return status?.maintenanceRequested === undefined ? undefined : status;
      },
      async () => `c1: ${JSON.stringify(await m.computers.get('c1'))}`,
    );
    expect(asked).toMatchObject({ state: 'reserved', power: { state: 'off' } });
    expect(asked.maintenanceRequested).toMatch(/the manager expects it on \(reserved\)$/);
    expect((await m.reservations.get(requested.id))?.state).toBe('ready');
    await m.reservations.end(requested.id, 'done');
    await untilState(m, requested.id, ['ended', 'failed']);
    expect(await m.computers.get('c1')).toMatchObject({
      state: 'maintenance',
      maintenanceReason: asked.maintenanceRequested,
    });
  });

  it('takes the preload of an available computer found off: tainted at once, reloaded before its next reservation', async () => {
    const m = fixture.manager;
    // c2 holds base revision 1 untainted after a reservation and its preload.
    const requested = await requestBase(m, 'power-preloaded', { computer: 'c2' });
    await untilState(m, requested.id, ['ready']);
    await m.reservations.end(requested.id);
    await untilState(m, requested.id, ['ended']);
    expect(await m.computers.get('c2')).toMatchObject({
      state: 'available',
      tainted: false,
      loaded: { image: 'base', revision: 1 },
    });
    fixture.lab.machine('c2').powerOff();
    const after = await pollUntil(
      async () => {
        const status = await m.computers.get('c2');
        return status?.tainted ? status : undefined;
      },
      async () => `c2: ${JSON.stringify(await m.computers.get('c2'))}`,
    );
    expect(after.power.state).toBe('off');
    // Off and tainted, it is no longer expected on: one failed check, no maintenance.
    await pollUntil(
      async () => {
        const status = await m.computers.get('c2');
        return status?.power.checkedAt !== undefined &&
          after.power.checkedAt !== undefined &&
          status.power.checkedAt.getTime() > after.power.checkedAt.getTime() + 1000
          ? status
          : undefined;
      },
      () => 'no later power check of c2',
    );
    expect(await m.computers.get('c2')).toMatchObject({ state: 'available' });
    expect(await powerEvents(m, 'c2')).toEqual([
      expect.stringMatching(
        /^power\.check: it is off, and the manager expects it on \(available\) \(1 of 3 in a row\)$/,
      ),
    ]);
  });
});
