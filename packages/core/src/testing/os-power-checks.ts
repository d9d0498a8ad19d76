import type { ConformanceCheck } from './conformance-check.js';
import type { OsFeatureCheckKit } from './os-feature-checks.js';

/**
 * `os/shutdown` and `os/reboot` (kit 2): each is confirmed by the harness when it returns, never
 * "returned before it happened". On the memory lab a power-off completes only once someone asks
 * the BMC (see `MemoryMachine`), so a module that takes the connection dropping or a fixed sleep
 * for "off" returns with the power still on, however long it waits.
 */
export function osPowerChecks(kit: OsFeatureCheckKit): readonly ConformanceCheck[] {
  const { os, harness, options, ctx } = kit;
  return [
    kit.check(
      'shutdown',
      'shutdown returns only once the power is off, confirmed through ctx.power',
      async (fail) => {
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const mark = harness.powerEvents().length;
        await os.shutdown(ctx('shutdown'), { timeoutMs: options.operationTimeoutMs });
        const power = await harness.power();
        if (power !== 'off')
          fail(
            `shutdown returned with the machine's power ${power}: it must confirm the power off through ctx.power, not by the connection dropping or a fixed wait`,
          );
        if (
          !harness
            .powerEvents()
            .slice(mark)
            .some((event) => event.state === 'off')
        )
          fail('shutdown returned, but the harness saw no power-off since it was called');
      },
    ),
    kit.check(
      'reboot',
      'reboot returns only once the machine went down and answers again',
      async (fail) => {
        await harness.reset();
        await os.postLoad(ctx('postLoad'));
        const mark = harness.powerEvents().length;
        await os.reboot(ctx('reboot'), { timeoutMs: options.operationTimeoutMs });
        const states = harness
          .powerEvents()
          .slice(mark)
          .map((event) => event.state);
        const down = states.indexOf('off');
        if (down < 0)
          fail(
            'reboot returned before the machine went down: confirm it went down (power off, or a new ctx.power.bootId) before waiting for it to answer',
          );
        if (states.lastIndexOf('on') < down || (await harness.power()) !== 'on')
          fail('reboot returned before the machine was on again');
        const answering =
          harness.answering === undefined
            ? await os.isResponding(ctx('isResponding'))
            : await harness.answering.call(harness);
        if (!answering) fail('reboot returned before the machine answered again');
      },
    ),
  ];
}
