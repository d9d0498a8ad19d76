import { describe, expect, it } from 'vitest';
import type { Communicator } from '../src/communicator.js';
import { createProvisionerContext } from '../src/create-context.js';
import { silentLogger } from '../src/logger.js';
import { nodeStatusFromPower, nodeVerdict } from '../src/node-verdict.js';
import type { OsModule } from '../src/os-module.js';
import type { ImageStamp } from '../src/stamp.js';

const ready: ImageStamp = {
  schema: 1,
  image: 'alma9',
  revision: 3,
  state: 'ready',
  capturedAt: '2030-01-01T00:00:00.000Z',
  computer: 'node12',
  readyAt: '2030-01-02T00:00:00.000Z',
  tainted: false,
};
const wanted = { name: 'alma9', revision: 3 };

describe('nodeVerdict', () => {
  it('asks for postLoad when the ready stamp was made for another computer (a cloned disk)', () => {
    const mine = ready.computer ?? 'none';
    expect(nodeVerdict({ responding: true, stamp: ready }, wanted, mine)).toEqual({
      verdict: 'ready',
    });
    expect(nodeVerdict({ responding: true, stamp: ready }, wanted, 'node99')).toEqual({
      verdict: 'post-load',
      reason: `postLoad ran for ${mine}`,
    });
  });

  it('is ready for a responding machine with the wanted, untainted, ready image', () => {
    expect(nodeVerdict({ responding: true, stamp: ready }, wanted)).toEqual({ verdict: 'ready' });
    expect(nodeVerdict({ responding: true, stamp: ready }, undefined)).toEqual({
      verdict: 'ready',
    });
  });

  it('reloads a machine that does not answer, whatever its stamp', () => {
    expect(nodeVerdict({ responding: false, stamp: ready }, wanted)).toEqual({
      verdict: 'reload',
      reason: 'the OS does not answer',
    });
  });

  it('reloads a machine without a stamp', () => {
    expect(nodeVerdict({ responding: true, stamp: undefined }, wanted)).toEqual({
      verdict: 'reload',
      reason: 'the machine has no image stamp',
    });
  });

  it('reloads a machine holding another image or revision', () => {
    expect(
      nodeVerdict({ responding: true, stamp: ready }, { name: 'ubuntu', revision: 3 }),
    ).toEqual({
      verdict: 'reload',
      reason: 'it holds alma9 revision 3',
    });
    expect(
      nodeVerdict({ responding: true, stamp: ready }, { name: 'alma9', revision: 4 }).verdict,
    ).toBe('reload');
  });

  it('reloads a tainted machine whatever else holds: any revision wanted, this computer, ready', () => {
    const tainted = { ...ready, tainted: true };
    expect(nodeVerdict({ responding: true, stamp: tainted }, undefined).verdict).toBe('reload');
    expect(
      nodeVerdict({ responding: true, stamp: tainted }, wanted, tainted.computer ?? 'node12'),
    ).toEqual({ verdict: 'reload', reason: 'users had access since it was loaded' });
  });

  it('reloads a tainted machine, even when it is not ready yet', () => {
    const tainted = { ...ready, tainted: true };
    expect(nodeVerdict({ responding: true, stamp: tainted }, wanted)).toEqual({
      verdict: 'reload',
      reason: 'users had access since it was loaded',
    });
    expect(
      nodeVerdict({ responding: true, stamp: { ...tainted, state: 'captured' } }, wanted).verdict,
    ).toBe('reload');
  });

  it('asks for postLoad on a captured stamp of the wanted image', () => {
    const captured: ImageStamp = {
      schema: 1,
      image: 'alma9',
      revision: 3,
      state: 'captured',
      capturedAt: ready.capturedAt,
      tainted: false,
    };
    expect(nodeVerdict({ responding: true, stamp: captured }, wanted)).toEqual({
      verdict: 'post-load',
      reason: 'postLoad has not finished',
    });
  });
});

describe('nodeStatusFromPower', () => {
  const ctx = (os: Partial<OsModule>) =>
    createProvisionerContext({
      log: silentLogger,
      deadline: Date.now() + 60_000,
      computer: {
        name: 'node12',
        hostname: 'node12',
        addresses: { management: '10.0.0.12' },
        credentials: {},
        attributes: {},
      },
      image: { name: 'alma9', revision: 3, osFamily: 'linux' },
      communicator: {} as Communicator,
      power: { status: async () => 'on' },
      os: os as OsModule,
    });

  it('gives reload for a machine that is off without asking the OS', async () => {
    const asked = () => {
      throw new Error('the OS was asked');
    };
    expect(
      await nodeStatusFromPower(ctx({ isResponding: asked, readStamp: asked }), 'off', 'VM off'),
    ).toEqual({
      power: 'off',
      responding: false,
      stamp: undefined,
      verdict: 'reload',
      reason: 'VM off',
    });
  });

  it("judges a running machine's answer and stamp with nodeVerdict", async () => {
    const os = { isResponding: async () => true, readStamp: async () => ready };
    expect(await nodeStatusFromPower(ctx(os), 'on')).toEqual({
      power: 'on',
      responding: true,
      stamp: ready,
      verdict: 'ready',
    });
    const silent = { isResponding: async () => false, readStamp: async () => ready };
    expect(await nodeStatusFromPower(ctx(silent), 'unknown')).toMatchObject({
      responding: false,
      stamp: undefined,
      verdict: 'reload',
    });
  });
});
