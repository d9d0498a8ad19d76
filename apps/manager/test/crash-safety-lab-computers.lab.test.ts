import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CrashLab, type ModuleCall } from './crash/crash-lab.js';
import { type CrashTestlab, startCrashTestlab } from './crash/crash-testlab.js';
import { checkInvariants, type MachineView } from './crash/invariants.js';
import { baselineBoundaries, killAtEveryBoundary, seeded } from './crash/kill-plan.js';
import { type Roles, Scenario } from './crash/scenario.js';
import { freshDatabase, startTestPostgres, type TestPostgres } from './database/lab-postgres.js';
import { LAB_IMAGE } from './testlab-manager.js';

// Issue 15, slow version: the crash test on lab computers (testlab: nspawn guests, ipmi_sim BMCs,
// PXE deploy environment) with the real os-linux and provisioner-baremetal, tapped so the test
// sees every module call (proxy-modules.ts). The manager runs in a child process, one per life,
// SIGKILLed at every step boundary the scenario passes, then inside two steps at seeded moments:
// a reclaim's load, and an image capture's preCapture (on its arrival or once it ran, the seed
// decides). After each scenario run: every reservation ended rightly, nothing half-written in
// the store, and every computer holds what the database says and answers. VLAB_CRASH_SEED
// replays a run.

const SEED = Number(process.env['VLAB_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const COMPUTERS = ['c1', 'c2'] as const;
/** A load of a lab computer takes a minute or two when the machine is busy: generous bounds. */
const BOUND_MS = 600_000;

let postgres: TestPostgres | undefined;
let testlab: CrashTestlab | undefined;
let crash: CrashLab;
let scenario: Scenario;
let machines: MachineView;
const roles: Roles = new Map();

beforeAll(async () => {
  testlab = await startCrashTestlab(COMPUTERS);
  postgres = await startTestPostgres('crash-lab-computers');
  const url = await freshDatabase(postgres.server.url, 'crash_lab_computers');
  crash = new CrashLab(testlab.computers);
  await crash.setup(url);
  await crash.start();
  scenario = new Scenario(crash, url, roles, {
    image: LAB_IMAGE,
    logins: ['alice'],
    boundMs: BOUND_MS,
  });
  machines = testlab.machines(LAB_IMAGE);
  await crash.api('addUser', { login: 'alice', role: 'admin' });
}, 900_000);

afterAll(async () => {
  await crash?.cleanup();
  await postgres?.cleanup();
  const left = (await testlab?.cleanup()) ?? [];
  expect(left).toEqual([]);
}, 300_000);

/** What must hold once a run is quiet. */
async function check(): Promise<void> {
  expect(await checkInvariants(crash, scenario, machines)).toEqual([]);
}

/** The two moments inside steps: a call of this kind kills its life (once each). */
const MOMENTS: readonly { readonly name: string; matches(call: ModuleCall): boolean }[] = [
  {
    name: "a reclaim's load",
    matches: (call) =>
      call.kind === 'provisioner' &&
      call.op === 'load' &&
      call.workflowId?.endsWith(':reclaim') === true,
  },
  {
    name: "an image capture's preCapture",
    matches: (call) =>
      call.kind === 'os' &&
      call.op === 'preCapture' &&
      call.reservation !== undefined &&
      roles.get(call.reservation) === 'R2',
  },
];

describe('crash safety on lab computers', () => {
  it('survives SIGKILLs of the manager at every step boundary and inside a load and a capture', async () => {
    const started = Date.now();
    onTestFinished(() => {
      console.log(
        `crash-safety-lab-computers: ${crash.kills} kills in ${Math.round((Date.now() - started) / 1000)} s, seed ${SEED}`,
      );
      console.log(crash.killLog.slice(-10).join('\n'));
    });
    console.log(`crash-safety-lab-computers: seed ${SEED} (VLAB_CRASH_SEED=${SEED} replays it)`);
    const random = seeded(SEED);

    const baseline = await baselineBoundaries(crash, async () => {
      await scenario.run('baseline');
      await check();
    });
    const baselineMs = Date.now() - started;

    const { covered, seen, runs } = await killAtEveryBoundary(
      crash,
      async (run) => {
        await scenario.run(`boundaries${run}`);
        await check();
      },
      { maxKills: 100, maxRuns: 6 },
    );
    const boundaryKills = crash.kills;

    // Inside steps: each moment once, on the call's arrival or once it ran (seeded).
    const hit: string[] = [];
    const modes = MOMENTS.map(() => (random() < 0.5 ? ('arrive' as const) : ('finish' as const)));
    crash.policy = {
      atStep: () => false,
      atCall: (call) => {
        const index = MOMENTS.findIndex((m) => m.matches(call));
        const moment = MOMENTS[index];
        if (moment === undefined || hit.some((h) => h.startsWith(moment.name))) return undefined;
        hit.push(`${moment.name} (${modes[index]})`);
        return modes[index];
      },
    };
    for (let run = 1; hit.length < MOMENTS.length && run <= 3; run += 1) {
      await scenario.run(`inside${run}`);
      await check();
    }
    crash.policy = { atStep: () => false, atCall: () => undefined };
    await scenario.untilQuiet();
    await check();

    const missed = [...baseline].filter((b) => !covered.has(b));
    console.log(
      `crash-safety-lab-computers: ${crash.kills} kills (${boundaryKills} at step boundaries: ${covered.size} covered of ${baseline.size} baseline, ${seen.size} seen in ${runs} runs; inside steps: ${hit.join(', ')}), seed ${SEED}, baseline run ${Math.round(baselineMs / 1000)} s, ${Math.round((Date.now() - started) / 1000)} s`,
    );
    expect(missed).toEqual([]);
    expect(hit).toHaveLength(MOMENTS.length);
    expect(crash.kills).toBeGreaterThanOrEqual(10);
  }, 3_600_000);
});
