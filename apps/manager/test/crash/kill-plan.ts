import type { CrashLab, StepDone } from './crash-lab.js';

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A step boundary's name, the same in every scenario run and for every reservation: the workflow
 * (its kind: the ids of reservations, revisions and power-sync slots left out) and the step's id
 * and name. Two paths through one workflow (a load or a reuse) have different step ids, so both
 * count.
 */
export function boundaryLabel(step: StepDone): string {
  const workflow = step.workflowId
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '*')
    .replace(/^revision-test:([^:]+):\d+/, 'revision-test:$1:*')
    .replace(/^power-sync:\d+/, 'power-sync:*');
  return `${workflow}#${step.stepId}:${step.step}`;
}

/**
 * Workflows a timer starts, not the scenario: a power-sync round begins every
 * `policies.powerSync.intervalSeconds` (120 s) of a life, so a run passes its steps only when one
 * of its lives outlives the interval — a baseline run of 126 s did, the killed runs' shorter lives
 * did not (CI, seed 1581776102). Their boundaries are killed at when a run passes them, but a
 * baseline does not require them.
 */
const TIMER_STARTED = /^power-sync:/;

/** The step boundaries of one scenario run without kills, but for {@link TIMER_STARTED} ones. */
export async function baselineBoundaries(
  crash: CrashLab,
  runScenario: () => Promise<void>,
): Promise<Set<string>> {
  const seen = new Set<string>();
  crash.policy = {
    atStep: (step) => {
      const name = boundaryLabel(step);
      if (!TIMER_STARTED.test(name)) seen.add(name);
      return false;
    },
    atCall: () => undefined,
  };
  await runScenario();
  return seen;
}

/** What {@link killAtEveryBoundary} did. */
export interface BoundaryKills {
  /** The boundaries a life was killed at. */
  readonly covered: ReadonlySet<string>;
  /** Every boundary passed, killed at or not. */
  readonly seen: ReadonlySet<string>;
  /** The scenario runs it took. */
  readonly runs: number;
}

/**
 * Each life is killed at the first boundary no earlier life was killed at, over scenario runs,
 * until a run kills nothing new (it passed only covered boundaries), `maxKills` kills in all, or
 * `maxRuns` runs. `runScenario` gets the run's number and checks what must hold after it.
 */
export async function killAtEveryBoundary(
  crash: CrashLab,
  runScenario: (run: number) => Promise<void>,
  limits: { readonly maxKills: number; readonly maxRuns: number },
): Promise<BoundaryKills> {
  const covered = new Set<string>();
  const seen = new Set<string>();
  crash.policy = {
    atStep: (step) => {
      const name = boundaryLabel(step);
      seen.add(name);
      if (covered.has(name) || crash.kills >= limits.maxKills) return false;
      covered.add(name);
      return true;
    },
    atCall: () => undefined,
  };
  let runs = 0;
  for (;;) {
    const before = crash.kills;
    runs += 1;
    await runScenario(runs);
    if (crash.kills === before || crash.kills >= limits.maxKills || runs >= limits.maxRuns) break;
  }
  crash.policy = { atStep: () => false, atCall: () => undefined };
  return { covered, seen, runs };
}
