import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CrashLab } from './crash/crash-lab.js';
import { checkInvariants } from './crash/invariants.js';
import { baselineBoundaries, killAtEveryBoundary, seeded } from './crash/kill-plan.js';
import { type Roles, Scenario } from './crash/scenario.js';
import { freshDatabase, startTestPostgres, type TestPostgres } from './database/lab-postgres.js';

// Issue 15, fast version: the manager runs in a child process (one per life) on machines that
// outlive it (a memory lab and the real fixture modules in this process, reached over a unix
// socket). It is SIGKILLed at every step boundary of every workflow the scenario reaches (right
// after the step's onStepDone, before DBOS checkpoints it), then at seeded random module calls
// (on arrival, or once the operation ran but before the manager hears of it), restarted each
// time with the same id and database; then the invariants are checked. VLAB_CRASH_SEED replays a
// run; VLAB_CRASH_KILLS sets the number of kills (default 100).

const SEED = Number(process.env['VLAB_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Number(process.env['VLAB_CRASH_KILLS'] ?? 100);
// The memory machines' timings are drawn from the kit's seed: the same one, so one seed replays.
process.env['VLAB_KIT_SEED'] ??= String(SEED);

let postgres: TestPostgres;
let crash: CrashLab;
let scenario: Scenario;
const roles: Roles = new Map();

beforeAll(async () => {
  postgres = await startTestPostgres('crash-safety');
  const url = await freshDatabase(postgres.server.url, 'crash_safety');
  crash = new CrashLab();
  await crash.setup(url);
  await crash.start();
  scenario = new Scenario(crash, url, roles);
  await crash.api('addUser', { login: 'alice', role: 'admin' });
  await crash.api('addUser', { login: 'bob', role: 'user' });
}, 300_000);

afterAll(async () => {
  await crash?.cleanup();
  await postgres?.cleanup();
});

describe('crash safety', () => {
  it(`survives ${KILLS} SIGKILLs of the manager: every step boundary, then seeded random moments`, async () => {
    const started = Date.now();
    // On failure too: what was killed where.
    onTestFinished(() => {
      console.log(
        `crash-safety: ${crash.kills} kills in ${Math.round((Date.now() - started) / 1000)} s, seed ${SEED}`,
      );
      console.log(crash.killLog.slice(-15).join('\n'));
    });
    console.log(`crash-safety: seed ${SEED} (VLAB_CRASH_SEED=${SEED} replays it), ${KILLS} kills`);
    const random = seeded(SEED);

    // An uninterrupted run: the step boundaries it passes.
    const baseline = await baselineBoundaries(crash, async () => {
      await scenario.run('baseline');
      expect(await checkInvariants(crash, scenario, crash.machines())).toEqual([]);
    });
    const baselineCalls = crash.calls.length;
    const baselineMs = Date.now() - started;

    // Every boundary: each life is killed at the first boundary no earlier life was killed at.
    const { covered, seen, runs } = await killAtEveryBoundary(
      crash,
      async (run) => {
        await scenario.run(`boundaries${run}`);
        expect(await checkInvariants(crash, scenario, crash.machines())).toEqual([]);
      },
      { maxKills: KILLS, maxRuns: 8 },
    );
    let run = runs;
    const boundaryKills = crash.kills;
    crash.trace(
      `boundaries: ${covered.size} killed at, ${[...baseline].filter((b) => !covered.has(b)).length} of ${baseline.size} baseline missed, ${seen.size} seen in ${runs} runs`,
    );

    // The rest: a seeded module call of each life, on arrival or once it ran.
    let target = 0;
    let mode: 'arrive' | 'finish' = 'arrive';
    const pick = () => {
      target = 1 + Math.floor(random() * 12);
      mode = random() < 0.5 ? 'arrive' : 'finish';
    };
    pick();
    // Counted from the start of each life (from now, for the running one).
    let lastLife = crash.life;
    let count = 0;
    crash.policy = {
      atStep: () => false,
      atCall: (call) => {
        if (call.life !== lastLife) {
          lastLife = call.life;
          count = 0;
          pick();
        }
        // Only calls inside a workflow step: a call an API request makes (imageExists while a
        // request is checked) is answered before the kill, which waits for that request.
        if (call.workflowId === undefined) return undefined;
        count += 1;
        return crash.kills < KILLS && count === target ? mode : undefined;
      },
    };
    while (crash.kills < KILLS) {
      run += 1;
      await scenario.run(`random${run}`);
      expect(await checkInvariants(crash, scenario, crash.machines())).toEqual([]);
    }
    crash.policy = { atStep: () => false, atCall: () => undefined };
    await scenario.untilQuiet();
    expect(await checkInvariants(crash, scenario, crash.machines())).toEqual([]);

    const missed = [...baseline].filter((b) => !covered.has(b));
    const beyond = [...seen].filter((b) => !baseline.has(b));
    const other = beyond.filter((b) => !covered.has(b));
    console.log(
      `crash-safety: ${crash.kills} kills (${boundaryKills} at step boundaries: ${covered.size} covered of ${baseline.size} baseline + ${beyond.length} others; ${crash.kills - boundaryKills} at random module calls), seed ${SEED}, ${run} scenario runs, baseline run ${baselineMs} ms with ${baselineCalls} module calls, ${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (other.length > 0)
      console.log(`crash-safety: boundaries seen but not killed at: ${other.join(', ')}`);
    expect(missed).toEqual([]);
  }, 900_000);
});
