import type { Secret } from '@vlab/core';
import { query } from '../database/lab-postgres.js';
import { poll } from '../poll.js';
import type { CrashLab } from './crash-lab.js';

/** The reservations of one scenario run, by role (`R1`: checkpoint then end; `R2`: image capture). */
export type Roles = Map<string, string>;

const FINAL = ['ended', 'failed'];

/** What a scenario asks for; the defaults are the memory lab's. */
export interface ScenarioOptions {
  /** The image reserved and captured. Default: `base`. */
  readonly image?: string;
  /** The reservations' users. Default: `alice`. */
  readonly logins?: readonly string[];
  /** The bound of every wait, in ms. Default: 2 min. */
  readonly boundMs?: number;
}

/**
 * Polls `probe` until it returns a value. Lives are killed and restarted meanwhile, so the bound
 * is generous (2 min unless given).
 */
function until<T>(
  probe: () => Promise<T | undefined>,
  last: () => Promise<string>,
  boundMs = 120_000,
): Promise<T> {
  return poll(probe, last, { boundMs, pauseMs: 50 });
}

/** Drives the scenario through the running lives of `crash`, reading progress from the database. */
export class Scenario {
  constructor(
    readonly crash: CrashLab,
    readonly url: Secret,
    /** Every reservation id by role, over all runs. */
    readonly roles: Roles,
    readonly options: ScenarioOptions = {},
  ) {}

  sql<Row extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<Row[]> {
    return query<Row>(this.url, text, values);
  }

  async reservation(id: string): Promise<{ state: string; end_reason: string | null }> {
    const [row] = await this.sql<{ state: string; end_reason: string | null }>(
      'SELECT state, end_reason FROM reservations WHERE id = $1',
      [id],
    );
    if (row === undefined) throw new Error(`no reservation ${id}`);
    return row;
  }

  /**
   * For a failure message: the workflows not finished (status, queue, executor, last step
   * checkpointed) and the last steps the lives reported.
   */
  async unfinished(): Promise<string> {
    const rows = await this.sql<{
      workflow_uuid: string;
      status: string;
      queue_name: string | null;
      last: string | null;
    }>(
      `SELECT w.workflow_uuid, w.status, w.queue_name,
         (SELECT max(o.function_id) || ':' || max(o.function_name) FROM dbos.operation_outputs o
           WHERE o.workflow_uuid = w.workflow_uuid) AS last
       FROM dbos.workflow_status w WHERE w.status NOT IN ('SUCCESS', 'ERROR', 'CANCELLED')`,
    );
    const steps = this.crash.steps
      .slice(-6)
      .map((s) => `life ${s.life} ${s.workflowId}#${s.stepId} ${s.step}`);
    return `unfinished workflows: ${rows.map((r) => `${r.workflow_uuid} ${r.status} queue ${r.queue_name} last ${r.last}`).join('; ')}; last steps: ${steps.join('; ')}`;
  }

  async untilState(id: string, states: readonly string[]): Promise<string> {
    return until(
      async () => {
        const { state } = await this.reservation(id);
        return states.includes(state) ? state : undefined;
      },
      async () =>
        `reservation ${id} is ${(await this.reservation(id)).state}, not ${states}; life ${this.crash.life}; lab server: ${this.crash.describe()}; ${await this.unfinished()}`,
      this.options.boundMs,
    );
  }

  async untilWorkflowDone(id: string): Promise<void> {
    const status = async () =>
      (
        await this.sql<{ status: string }>(
          'SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1',
          [id],
        )
      )[0]?.status;
    await until(
      async () => {
        const s = await status();
        return s === 'SUCCESS' || s === 'ERROR' ? s : undefined;
      },
      async () => `workflow ${id} is ${await status()}`,
      this.options.boundMs,
    );
  }

  /** Until nothing runs: every reservation, revision and computer settled, no workflow pending. */
  async untilQuiet(): Promise<void> {
    const busy = async () => {
      const [row] = await this.sql<{ r: string; v: string; c: string; w: string }>(
        `SELECT
          (SELECT count(*) FROM reservations WHERE state NOT IN ('ended', 'failed')) AS r,
          (SELECT count(*) FROM revisions WHERE state IN ('capturing', 'testing')) AS v,
          (SELECT count(*) FROM computers WHERE state NOT IN ('available', 'maintenance')) AS c,
          (SELECT count(*) FROM dbos.workflow_status WHERE status IN ('PENDING', 'ENQUEUED')) AS w`,
      );
      return row;
    };
    await until(
      async () => {
        const row = await busy();
        return row !== undefined &&
          Number(row.r) + Number(row.v) + Number(row.c) + Number(row.w) === 0
          ? true
          : undefined;
      },
      async () =>
        `still busy: ${JSON.stringify(await busy())}; life ${this.crash.life}; lab server: ${this.crash.describe()}; ${await this.unfinished()}`,
      this.options.boundMs,
    );
  }

  async request(requestId: string, role: string, computer?: string): Promise<string> {
    const status = (await this.crash.api('request', {
      requestId,
      image: this.options.image ?? 'base',
      minutes: 60,
      logins: this.options.logins ?? ['alice'],
      ...(computer === undefined ? {} : { computer }),
    })) as { id: string };
    this.roles.set(status.id, role);
    return status.id;
  }

  /** One run: R1 on c1 takes a checkpoint and is ended; R2 captures an image (which ends it). */
  async run(tag: string): Promise<void> {
    this.crash.trace(`scenario run ${tag}`);
    const r1 = await this.request(`${tag}-r1`, 'R1', 'c1');
    if ((await this.untilState(r1, ['ready', ...FINAL])) === 'ready') {
      await this.crash.api('capture', { id: r1, mode: 'checkpoint' });
      await this.untilWorkflowDone(`reservation:${r1}:capture-1`);
      if ((await this.untilState(r1, ['ready', ...FINAL])) === 'ready')
        await this.crash.api('end', { id: r1 });
    }
    await this.untilState(r1, FINAL);
    await this.untilQuiet();
    const r2 = await this.request(`${tag}-r2`, 'R2');
    if ((await this.untilState(r2, ['ready', ...FINAL])) === 'ready')
      await this.crash.api('capture', { id: r2, mode: 'image' });
    await this.untilState(r2, FINAL);
    await this.untilQuiet();
  }
}
