import { describe, expect, it } from 'vitest';
import type { Communicator, ReachOptions } from '../src/communicator.js';
import type { OsContext } from '../src/context.js';
import { createOsContext } from '../src/create-context.js';
import { coreError } from '../src/errors/core-errors.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import {
  type BootMark,
  confirmPowerOff,
  confirmWentDown,
  readBootMark,
  startGoingDown,
  waitForGuest,
} from '../src/going-down.js';
import { createLogger, type LogRecord } from '../src/logger.js';
import type { PowerProbe } from '../src/power.js';
import { scriptedProbe } from './power-fakes.js';
import { rejection } from './rejection.js';

// The poll interval is tiny and every loop ends on what the fakes answer, never on a timer:
// a timeout is forced with timeoutMs 0 (or no time left), which allows exactly one poll.
const FAST = { intervalMs: 1 } as const;

function unused(): never {
  throw new Error('not used by this test');
}

/** A context on computer node12 whose power probe is `power`; its log lines go to `records`. */
function context(
  power: PowerProbe,
  options: { signal?: AbortSignal; reach?: (options?: ReachOptions) => Promise<void> } = {},
) {
  const records: LogRecord[] = [];
  const communicator: Communicator = {
    computer: 'node12',
    shell: 'posix',
    run: unused,
    runChecked: unused,
    put: unused,
    get: unused,
    getStream: unused,
    waitUntilReachable: options.reach ?? unused,
    trustHostKeys: unused,
  };
  const ctx = createOsContext({
    log: createLogger((record) => records.push(record)),
    deadline: Date.now() + 600_000,
    signal: options.signal,
    computer: {
      name: 'node12',
      hostname: 'node12.lab',
      addresses: { management: '10.0.0.12' },
      credentials: {},
      attributes: {},
    },
    communicator,
    power,
  });
  return { ctx, records };
}

const lost = (): VlabError =>
  coreError('VLAB_ERR_CONNECTION_LOST', 'the connection dropped', { computer: 'node12' });

describe('readBootMark', () => {
  it('reads the power probe boot id with the context signal, and the guest one', async () => {
    const { probe, calls } = scriptedProbe(['on'], ['power-on 1']);
    const { ctx } = context(probe);
    expect(await readBootMark(ctx, async () => 'kernel 1')).toEqual({
      probe: 'power-on 1',
      guest: 'kernel 1',
    });
    expect(calls.bootId).toEqual([ctx.signal]);
  });

  it('has no probe boot id when the probe offers none', async () => {
    const { ctx } = context(scriptedProbe(['on']).probe);
    expect(await readBootMark(ctx, async () => undefined)).toEqual({
      probe: undefined,
      guest: undefined,
    });
  });

  it('lets an error of the guest read through', async () => {
    const { ctx } = context(scriptedProbe(['on']).probe);
    const failure = lost();
    await expect(
      readBootMark(ctx, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
  });
});

describe('startGoingDown', () => {
  it('returns nothing and logs nothing when the step answers', async () => {
    const { ctx, records } = context(scriptedProbe(['on']).probe);
    let ran = 0;
    expect(await startGoingDown(ctx, 'reboot', async () => ran++)).toBeUndefined();
    expect(ran).toBe(1);
    expect(records).toEqual([]);
  });

  it.each(['VLAB_ERR_CONNECTION_LOST', 'VLAB_ERR_COMPUTER_UNREACHABLE'] as const)(
    'logs and returns %s: the connection dropped',
    async (code) => {
      const { ctx, records } = context(scriptedProbe(['on']).probe);
      const dropped = coreError(code, 'gone', { computer: 'node12' });
      const returned = await startGoingDown(ctx, 'shutdown', async () => {
        throw dropped;
      });
      expect(returned).toBe(dropped);
      expect(records).toHaveLength(1);
      expect(records[0]?.level).toBe('warn');
      expect(records[0]?.message).toBe('the connection dropped while the machine was going down');
      expect(records[0]?.fields).toMatchObject({ action: 'shutdown', error: dropped.message });
    },
  );

  it('throws a refusal (any other error) by default', async () => {
    const { ctx, records } = context(scriptedProbe(['on']).probe);
    const refused = coreError('VLAB_ERR_COMMAND_FAILED', 'exit 1', { computer: 'node12' });
    await expect(
      startGoingDown(ctx, 'reboot', async () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(records).toEqual([]);
  });

  it('takes what `dropped` accepts for a dropped connection, and throws the rest', async () => {
    const { ctx } = context(scriptedProbe(['on']).probe);
    const dropped = (error: unknown): boolean => !isVlabError(error, 'VLAB_ERR_COMMAND_FAILED');
    const timeout = coreError('VLAB_ERR_OP_TIMEOUT', 'no answer', { computer: 'node12' });
    expect(
      await startGoingDown(
        ctx,
        'reboot',
        async () => {
          throw timeout;
        },
        { dropped },
      ),
    ).toBe(timeout);
    const refused = coreError('VLAB_ERR_COMMAND_FAILED', 'exit 1', { computer: 'node12' });
    await expect(
      startGoingDown(
        ctx,
        'reboot',
        async () => {
          throw refused;
        },
        { dropped },
      ),
    ).rejects.toBe(refused);
  });

  it('throws the cancel error when the signal fired, whatever the step threw', async () => {
    const controller = new AbortController();
    const { ctx, records } = context(scriptedProbe(['on']).probe, { signal: controller.signal });
    const error = await rejection(
      startGoingDown(ctx, 'reboot', async () => {
        controller.abort('operator stop');
        throw lost();
      }),
    );
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.computer).toBe('node12');
    expect(error.details['reason']).toBe('operator stop');
    expect(records).toEqual([]);
  });
});

describe('confirmPowerOff', () => {
  it('resolves once the probe reports off, polling with the context signal', async () => {
    const { probe, calls } = scriptedProbe(['on', 'unknown', 'off']);
    const { ctx, records } = context(probe);
    await confirmPowerOff(ctx, FAST);
    expect(calls.status).toEqual([ctx.signal, ctx.signal, ctx.signal]);
    expect(records.map((r) => r.message)).toEqual(['powered off, confirmed by the power probe']);
  });

  it('throws VLAB_ERR_POWER_UNCONFIRMED when the probe never says off', async () => {
    const { ctx, records } = context(scriptedProbe(['on']).probe);
    const error = await rejection(confirmPowerOff(ctx, { ...FAST, timeoutMs: 0 }));
    expect(error.code).toBe('VLAB_ERR_POWER_UNCONFIRMED');
    expect(error.computer).toBe('node12');
    expect(error.summary).toBe('power did not become off within 0 s (last seen: on)');
    expect(records).toEqual([]);
  });

  it('says that starting it had failed, with that error as the cause', async () => {
    const { ctx } = context(scriptedProbe(['on']).probe);
    const startError = lost();
    const error = await rejection(confirmPowerOff(ctx, { ...FAST, timeoutMs: 0, startError }));
    expect(error.code).toBe('VLAB_ERR_POWER_UNCONFIRMED');
    expect(error.summary).toBe(
      `power did not become off within 0 s (last seen: on); starting it had failed: ${startError.message}`,
    );
    expect(error.cause).toBe(startError);
    expect(error.computer).toBe('node12');
    expect(error.details).toMatchObject({ wanted: 'off', last: 'on', timeoutMs: 0 });
  });

  it('never waits beyond the context deadline', async () => {
    const made = context(scriptedProbe(['on']).probe);
    const ctx: OsContext = { ...made.ctx, remainingMs: () => 0 };
    const error = await rejection(confirmPowerOff(ctx, { ...FAST, timeoutMs: 300_000 }));
    expect(error.details).toMatchObject({ timeoutMs: 0 });
  });

  it('lets the cancel error through, without the start error', async () => {
    const controller = new AbortController();
    const probe: PowerProbe = {
      async status() {
        controller.abort('operator stop');
        return 'on';
      },
    };
    const { ctx } = context(probe, { signal: controller.signal });
    const error = await rejection(confirmPowerOff(ctx, { ...FAST, startError: lost() }));
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.cause).toBe('operator stop');
  });
});

describe('confirmWentDown', () => {
  const noGuest = async (): Promise<string | undefined> => {
    throw new Error('the guest boot id should not be read');
  };

  it('is confirmed by power off', async () => {
    const { probe } = scriptedProbe(['on', 'off'], ['b1']);
    const { ctx, records } = context(probe);
    await confirmWentDown(ctx, { probe: 'b1', guest: 'k1' }, noGuest, FAST);
    expect(records.map((r) => [r.message, r.fields['confirmedBy']])).toEqual([
      ['went down for the reboot', 'power'],
    ]);
  });

  it('is confirmed by a new probe boot id while the power stays on (a warm reboot)', async () => {
    const { probe, calls } = scriptedProbe(['on'], ['b1', undefined, 'b2']);
    const { ctx, records } = context(probe);
    await confirmWentDown(ctx, { probe: 'b1', guest: 'k1' }, noGuest, FAST);
    const signals = [ctx.signal, ctx.signal, ctx.signal];
    expect(calls).toEqual({ status: signals, bootId: signals });
    expect(records.map((r) => r.fields['confirmedBy'])).toEqual(['boot id']);
  });

  it('falls back to the guest boot id when the probe had none, counting its errors as "not yet"', async () => {
    const { probe } = scriptedProbe(['on'], [undefined]);
    const { ctx, records } = context(probe);
    const answers: (() => string | undefined)[] = [
      () => {
        throw lost();
      },
      () => 'k1',
      () => undefined,
      () => 'k2',
    ];
    let reads = 0;
    const guest = async (): Promise<string | undefined> => {
      const answer = answers[reads++];
      if (answer === undefined) throw new Error('read again after it was confirmed');
      return answer();
    };
    await confirmWentDown(ctx, { probe: undefined, guest: 'k1' }, guest, FAST);
    expect(reads).toBe(4);
    expect(records.map((r) => r.fields['confirmedBy'])).toEqual(['boot id']);
  });

  it('times out with VLAB_ERR_POWER_UNCONFIRMED when nothing changed', async () => {
    const { probe, calls } = scriptedProbe(['on'], ['b1']);
    const { ctx, records } = context(probe);
    const error = await rejection(
      confirmWentDown(ctx, { probe: 'b1', guest: undefined }, noGuest, { ...FAST, timeoutMs: 0 }),
    );
    expect(error.code).toBe('VLAB_ERR_POWER_UNCONFIRMED');
    expect(error.computer).toBe('node12');
    expect(error.summary).toBe(
      'the machine did not go down for the reboot within 0 s (power on, boot id unchanged)',
    );
    expect(error.details).toEqual({ wanted: 'reboot', last: 'on', timeoutMs: 0 });
    expect(calls).toEqual({ status: [ctx.signal], bootId: [ctx.signal] });
    expect(records).toEqual([]);
  });

  it('names the start error in the timeout, and never waits beyond the deadline', async () => {
    const made = context(scriptedProbe(['unknown']).probe);
    const ctx: OsContext = { ...made.ctx, remainingMs: () => 0 };
    const startError = lost();
    const before: BootMark = { probe: undefined, guest: undefined };
    const error = await rejection(confirmWentDown(ctx, before, noGuest, { ...FAST, startError }));
    expect(error.summary).toBe(
      `the machine did not go down for the reboot within 0 s (power unknown, boot id unchanged); starting it had failed: ${startError.message}`,
    );
    expect(error.cause).toBe(startError);
    expect(error.details).toEqual({ wanted: 'reboot', last: 'unknown', timeoutMs: 0 });
  });

  it('stops with the cancel error when the signal fires between polls', async () => {
    const controller = new AbortController();
    let polls = 0;
    const probe: PowerProbe = {
      async status() {
        if (++polls === 2) controller.abort('operator stop');
        return 'on';
      },
    };
    const { ctx } = context(probe, { signal: controller.signal });
    const error = await rejection(
      confirmWentDown(ctx, { probe: undefined, guest: undefined }, noGuest, FAST),
    );
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(polls).toBe(2);
  });
});

describe('waitForGuest', () => {
  it('waits with the context signal, within the timeout and the deadline', async () => {
    const seen: (ReachOptions | undefined)[] = [];
    const { ctx } = context(scriptedProbe(['on']).probe, {
      reach: async (options) => {
        seen.push(options);
      },
    });
    await waitForGuest(ctx, 120_000);
    await waitForGuest(ctx);
    await waitForGuest({ ...ctx, remainingMs: () => 0 });
    expect(seen.map((o) => o?.signal)).toEqual([ctx.signal, ctx.signal, ctx.signal]);
    expect(seen[0]?.timeoutMs).toBe(120_000);
    // The default, 600 s, is cut to what is left of the context's 600 s.
    expect(seen[1]?.timeoutMs).toBeGreaterThan(590_000);
    expect(seen[1]?.timeoutMs).toBeLessThanOrEqual(600_000);
    expect(seen[2]?.timeoutMs).toBe(1);
  });
});
