/**
 * Utility cmdlets of Windows PowerShell 5.1, as documented on Microsoft Learn:
 * - Start-Sleep: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/start-sleep?view=powershell-5.1
 *   (-Seconds is an Int32 in 5.1, so fractions are rounded; ends early only when the process is killed)
 * - Join-Path: https://learn.microsoft.com/powershell/module/microsoft.powershell.management/join-path?view=powershell-5.1
 *   (Windows FileSystem provider: one backslash between the parts; -Resolve is not modelled)
 */
import { setTimeout as delay } from 'node:timers/promises';
import { defineCmdlet } from '../interpreter/command.js';
import { KilledSignal } from '../interpreter/errors.js';
import { enumerate, toPsNumber, toPsString } from '../interpreter/values.js';

export const startSleep = defineCmdlet({
  name: 'Start-Sleep',
  aliases: ['sleep'],
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/start-sleep?view=powershell-5.1',
  parameters: [
    { name: 'Seconds', aliases: ['s'], position: 0, type: 'int' },
    { name: 'Milliseconds', aliases: ['m'], type: 'int' },
  ],
  async run(call) {
    const seconds = call.named.get('seconds');
    const milliseconds = call.named.get('milliseconds');
    const ms =
      seconds !== undefined ? toPsNumber(seconds ?? null) * 1000 : toPsNumber(milliseconds ?? null);
    try {
      await delay(ms, undefined, { signal: call.session.signal });
    } catch (error) {
      if (call.session.signal.aborted) throw new KilledSignal('Start-Sleep');
      throw error;
    }
    return [];
  },
});

export const joinPath = defineCmdlet({
  name: 'Join-Path',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.management/join-path?view=powershell-5.1',
  parameters: [
    {
      name: 'Path',
      aliases: ['PSPath'],
      position: 0,
      mandatory: true,
      type: 'string[]',
      valueFromPipeline: true,
    },
    { name: 'ChildPath', position: 1, mandatory: true, type: 'string' },
  ],
  pipeline: 'each',
  run(call) {
    const child = toPsString(call.named.get('childpath') ?? null).replace(/^[\\/]+/, '');
    return enumerate(call.named.get('path') ?? null).map((path) => {
      const parent = toPsString(path).replace(/[\\/]+$/, '');
      return `${parent}\\${child}`;
    });
  },
});
