import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepDone } from '../src/engine/engine.js';
import type { Manager } from '../src/manager.js';
import {
  type MemoryLabManager,
  pollUntil,
  startMemoryLabManager,
  stepsOf,
  untilState,
  untilSteps,
} from './memory-lab-manager.js';

// Every step of the reservation workflows re-run: the manager stops after the step's work is done
// and its event recorded, but before DBOS checkpoints its outcome (the worst moment: the work is
// done, the workflow does not know it). After the restart DBOS re-runs that step; the
// reservation must still reach exactly one correct end.

/** The steps of a reservation whose computer is loaded (it was tainted), in order. */
const LOAD_PATH = [
  'assign',
  'plan',
  'queue',
  'load',
  'loaded',
  'seal-passwords',
  'taint',
  'reserve',
  'ready',
  'read-end',
  'ending',
  'queue',
  'post-reservation',
  'sanitize',
  'choose-preload',
  'reload',
  'release',
  'ended',
] as const;

/** The steps of a reservation that reuses a computer holding its revision. */
const REUSE_PATH = LOAD_PATH.flatMap((step) =>
  step === 'load' ? ['node-status'] : step === 'loaded' ? [] : [step],
);

/** The steps of a reservation that takes a checkpoint and goes on, in order. */
const CHECKPOINT_PATH = LOAD_PATH.flatMap((step, index) =>
  step === 'read-end' && LOAD_PATH.indexOf('read-end') === index
    ? [
        'read-end',
        'queue',
        'capture-plan',
        'post-reservation',
        'capture',
        'publish',
        'post-capture-check',
        'reserve',
        'read-end',
      ]
    : [step],
);

let fixture: MemoryLabManager;

beforeAll(async () => {
  // New revisions are not test-loaded here: that workflow would take the computers the cases use.
  fixture = await startMemoryLabManager('step-reruns', { newRevisionTest: 'off' });
  await fixture.stop();
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

/**
 * Runs one reservation on c1 and stops the manager once `step` (its `nth` run in this
 * reservation) is done but not checkpointed; restarts it and follows the reservation to its end.
 * Returns the reservation's recorded steps.
 */
async function interruptAt(
  step: string,
  nth: number,
  path: 'load' | 'reuse' | 'checkpoint',
): Promise<string[]> {
  let reached!: () => void;
  const held = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let id: string | undefined;
  let seen = 0;
  const observer = (done: StepDone): Promise<void> | undefined => {
    if (done.step !== step || done.reservationId !== id) return undefined;
    seen += 1;
    if (seen !== nth) return undefined;
    reached();
    return new Promise<void>(() => {}); // held until the manager stops
  };
  let m: Manager = await fixture.start({ onStepDone: observer });
  await fixture.sql('UPDATE computers SET tainted = $1 WHERE name = $2', [path !== 'reuse', 'c1']);
  const requested = await m.reservations.request({
    requestId: `rerun-${step}-${nth}-${path}`,
    image: 'base',
    minutes: 30,
    logins: ['alice', 'bob'],
    computer: 'c1',
  });
  id = requested.id;
  // Steps after `ready` run only once the reservation takes its checkpoint, or ends.
  const first = await Promise.race([held.then(() => 'held'), untilState(m, id, ['ready'])]);
  if (first !== 'held' && path === 'checkpoint') {
    await m.reservations.capture(id, { mode: 'checkpoint' });
    const second = await Promise.race([
      held.then(() => 'held'),
      untilSteps(m, id, (steps) => steps.filter((s) => s === 'read-end:ok').length >= 2),
    ]);
    if (second !== 'held') await m.reservations.end(id, 'test ends it');
  } else if (first !== 'held') {
    await m.reservations.end(id, 'test ends it');
  }
  await held;
  await fixture.stop();

  m = await fixture.start();
  const after = await untilState(m, id, ['ready', 'ended', 'failed']);
  if (after.state === 'ready') await m.reservations.end(id, 'test ends it');
  const end = await untilState(m, id, ['ended', 'failed']);
  expect(end).toMatchObject({ state: 'ended', endReason: 'test ends it' });
  // The row may say `ended` before the workflow's last step is checkpointed (when that step was
  // the one interrupted): wait for the workflow itself.
  await untilWorkflowDone(`reservation:${id}`);
  const steps = await stepsOf(m, id);
  await fixture.stop();
  return steps;
}

/** Waits until DBOS has the workflow finished (an `ERROR` fails at once). */
async function untilWorkflowDone(workflowId: string): Promise<void> {
  const status = async () =>
    (
      await fixture.sql<{ status: string }>(
        'SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1',
        [workflowId],
      )
    )[0]?.status;
  await pollUntil(
    async () => {
      const now = await status();
      if (now === 'ERROR') throw new Error(`workflow ${workflowId} is ERROR`);
      return now === 'SUCCESS' ? true : undefined;
    },
    async () => `workflow ${workflowId} is ${(await status()) ?? 'missing'}`,
  );
}

/** The checks every re-run case ends with: nothing left behind, the computer ready for reuse. */
async function expectCleanEnd(): Promise<void> {
  expect(fixture.lab.machine('c1').userAccounts).toEqual([]);
  const [computer] = await fixture.sql<{ state: string; tainted: boolean; loaded_image: string }>(
    "SELECT state, tainted, loaded_image FROM computers WHERE name = 'c1'",
  );
  expect(computer).toEqual({ state: 'available', tainted: false, loaded_image: 'base' });
  const secrets = await fixture.sql('SELECT 1 FROM reservation_secrets');
  expect(secrets).toEqual([]);
}

describe('a re-run of each step', () => {
  const cases = [
    ...LOAD_PATH.map((step, index) => ({
      step,
      nth: LOAD_PATH.slice(0, index + 1).filter((s) => s === step).length,
      path: 'load' as const,
      order: LOAD_PATH as readonly string[],
    })),
    { step: 'node-status', nth: 1, path: 'reuse' as const, order: REUSE_PATH },
    ...['capture-plan', 'publish', 'post-capture-check', 'reserve'].map((step) => ({
      step,
      nth: step === 'reserve' ? 2 : 1,
      path: 'checkpoint' as const,
      order: CHECKPOINT_PATH as readonly string[],
    })),
  ];

  it.each(cases)(
    '$step (run $nth, $path path) leaves one correct end',
    async ({ step, nth, path, order }) => {
      const steps = await interruptAt(step, nth, path);
      const ok = steps.filter((s) => s.endsWith(':ok')).map((s) => s.slice(0, -3));
      // The interrupted step ran twice (its work was done, its outcome lost), every other once.
      const expected = [...order];
      expected.splice(order.indexOf(step, order.indexOf(step) + (nth - 1)), 0, step);
      expect(ok).toEqual(expected);
      expect(steps.filter((s) => !s.endsWith(':ok'))).toEqual([]);
      await expectCleanEnd();
    },
  );
});
