import type { LogRecord } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinoSink } from '../src/logging/pino-sink.js';
import {
  type MemoryLabManager,
  pollUntil,
  requestBase,
  startMemoryLabManager,
  untilState,
} from './memory-lab-manager.js';

// Every workflow step writes exactly one log line, with the reservation and the computer, once
// its event is recorded; through the manager's default sink those lines are JSON without a secret.

let fixture: MemoryLabManager;
/** The generated passwords of the reservations' users, seen while they were ready. */
const generated: string[] = [];

beforeAll(async () => {
  fixture = await startMemoryLabManager('step-logs');
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

const STEP_LINES = ['workflow step done', 'workflow step failed'];

/** `step computer outcome errorCode durationMs` of each step line of the reservation, sorted. */
function lineKeys(records: readonly LogRecord[], reservationId: string): string[] {
  return records
    .filter((r) => STEP_LINES.includes(r.message) && r.fields['reservationId'] === reservationId)
    .map(
      (r) =>
        `${r.fields['step']} ${r.fields['computer']} ${r.fields['outcome']} ${r.fields['errorCode']} ${r.fields['durationMs']}`,
    )
    .sort();
}

/**
 * Waits until the reservation's step events and step lines match one for one, and returns them.
 * The lines are read first: a step's line follows its event, so a late step shows as an event
 * without its line yet, never the other way round; a duplicate line would never match.
 */
async function stepLines(reservationId: string): Promise<string[]> {
  const keys = async (): Promise<{ lines: string[]; events: string[] }> => {
    const lines = lineKeys(fixture.records, reservationId);
    const events = (await fixture.manager.events({ reservationId, limit: 1000 }))
      .filter((e) => e.durationMs !== null)
      .map(
        (e) =>
          `${e.kind} ${e.computer ?? undefined} ${e.outcome} ${e.errorCode ?? undefined} ${e.durationMs}`,
      )
      .sort();
    return { lines, events };
  };
  return pollUntil(
    async () => {
      const { lines, events } = await keys();
      return lines.join('\n') === events.join('\n') ? lines : undefined;
    },
    async () => {
      const { lines, events } = await keys();
      return `lines:\n${lines.join('\n')}\nevents:\n${events.join('\n')}`;
    },
  );
}

describe('workflow step log lines', () => {
  it('are one per step of a reservation, with its id and the computer', async () => {
    const m = fixture.manager;
    const requested = await requestBase(m, 'logs-1', { computer: 'c1' });
    expect((await untilState(m, requested.id, ['ready', 'failed'])).state).toBe('ready');
    generated.push((await m.reservations.access(requested.id, 'bob')).password?.reveal() ?? '');
    await m.reservations.end(requested.id, 'done');
    expect((await untilState(m, requested.id, ['ended', 'failed'])).state).toBe('ended');
    const lines = await stepLines(requested.id);
    const steps = lines.map((line) => line.split(' ')[0]);
    expect(steps).toEqual(expect.arrayContaining(['assign', 'load', 'reserve', 'ready', 'ended']));
    expect(new Set(steps).size).toBeGreaterThan(10);
    const records = fixture.records.filter(
      (r) => STEP_LINES.includes(r.message) && r.fields['reservationId'] === requested.id,
    );
    for (const record of records) {
      expect(record).toMatchObject({ level: 'info', message: 'workflow step done' });
      expect(record.fields).toMatchObject({
        reservationId: requested.id,
        outcome: 'ok',
        durationMs: expect.any(Number),
        step: expect.any(String),
      });
      expect(record.fields).not.toHaveProperty('errorCode');
    }
    // Every step past the assignment names the computer it works on.
    const load = records.find((r) => r.fields['step'] === 'load');
    expect(load?.fields['computer']).toBe('c1');
  });

  it('say a failed step with its error code, as a warning', async () => {
    const m = fixture.manager;
    const doomed = await requestBase(m, 'logs-2', { computer: 'c3' });
    expect((await untilState(m, doomed.id, ['failed', 'ready'])).state).toBe('failed');
    await stepLines(doomed.id);
    const failed = fixture.records.filter(
      (r) => r.message === 'workflow step failed' && r.fields['reservationId'] === doomed.id,
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      level: 'warn',
      fields: {
        reservationId: doomed.id,
        computer: 'c3',
        step: 'load',
        outcome: 'failed',
        durationMs: expect.any(Number),
        errorCode: expect.stringMatching(/^VLAB_ERR_/),
      },
    });
  });

  it('reach stderr as JSON lines with no secret in play, at every level', () => {
    let text = '';
    const sink = pinoSink({
      env: { VLAB_LOG_LEVEL: 'debug', VLAB_LOG_FORMAT: 'json' },
      output: { write: (chunk: string) => (text += chunk) },
    });
    for (const record of fixture.records) sink(record);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(fixture.records.length);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const steps = parsed.filter((line) => STEP_LINES.includes(String(line['msg'])));
    expect(steps.length).toBeGreaterThan(20);
    for (const line of steps)
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['level', 'time', 'step', 'msg']));
    // The memory provisioner logs its BMC password (a Secret) at debug.
    expect(parsed.some((line) => line['msg'] === 'BMC session open')).toBe(true);
    const secrets = [
      ...Object.values(fixture.lab.secretEnv),
      'not-the-password',
      decodeURIComponent(new URL(fixture.url.reveal()).password),
      ...generated,
    ];
    expect(secrets.every((secret) => secret.length >= 8)).toBe(true);
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      // As JSON would escape it, should it hold a quote or a backslash.
      expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
    }
  });
});
