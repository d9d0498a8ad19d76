/**
 * Output cmdlets of Windows PowerShell 5.1, as documented on Microsoft Learn:
 * - Write-Output: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/write-output?view=powershell-5.1
 * - Write-Error: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/write-error?view=powershell-5.1
 * - Out-Null: https://learn.microsoft.com/powershell/module/microsoft.powershell.core/out-null?view=powershell-5.1
 * - Out-String: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/out-string?view=powershell-5.1
 */
import { defineCmdlet, PsError } from '../interpreter/command.js';
import { notModelled } from '../interpreter/errors.js';
import { enumerate, type PsValue, toPsString } from '../interpreter/values.js';

export const writeOutput = defineCmdlet({
  name: 'Write-Output',
  aliases: ['echo', 'write'],
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/write-output?view=powershell-5.1',
  parameters: [
    {
      name: 'InputObject',
      position: 0,
      valueFromPipeline: true,
      remaining: true,
      type: 'object[]',
    },
    { name: 'NoEnumerate', type: 'switch' },
  ],
  run(call) {
    const given = call.named.get('inputobject');
    const noEnumerate = call.named.get('noenumerate') === true;
    // Arguments arrive as one object[] (ValueFromRemainingArguments); pipeline items one by one.
    const items: PsValue[] = given === undefined ? [...call.input] : enumerate(given);
    if (noEnumerate) return items;
    return items.flatMap((item) => (Array.isArray(item) ? item : [item]));
  },
});

export const writeError = defineCmdlet({
  name: 'Write-Error',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/write-error?view=powershell-5.1',
  parameters: [
    { name: 'Message', aliases: ['Msg'], position: 0, type: 'string', valueFromPipeline: true },
    { name: 'ErrorId', type: 'string' },
    { name: 'Category', type: 'string' },
  ],
  run(call) {
    const message = toPsString(call.named.get('message') ?? null);
    const errorId = call.named.get('errorid');
    // A non-terminating error: -ErrorAction / $ErrorActionPreference decide (Stop makes it terminating).
    throw new PsError(message, {
      fullyQualifiedErrorId:
        errorId === undefined || errorId === null
          ? 'Microsoft.PowerShell.Commands.WriteErrorException'
          : toPsString(errorId),
      category: toPsString(call.named.get('category') ?? 'NotSpecified'),
      exceptionType: 'Microsoft.PowerShell.Commands.WriteErrorException',
    });
  },
});

export const outNull = defineCmdlet({
  name: 'Out-Null',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.core/out-null?view=powershell-5.1',
  parameters: [{ name: 'InputObject', valueFromPipeline: true }],
  run: () => [],
});

export const outString = defineCmdlet({
  name: 'Out-String',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/out-string?view=powershell-5.1',
  parameters: [
    { name: 'InputObject', valueFromPipeline: true },
    { name: 'Stream', type: 'switch' },
    { name: 'Width', type: 'int' },
  ],
  run(call) {
    const given = call.named.get('inputobject');
    const items = given === undefined ? [...call.input] : [given];
    const lines = items
      .flatMap((item) => (Array.isArray(item) ? item : [item]))
      .map((item) => {
        if (item === null) return '';
        if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
          return toPsString(item);
        throw notModelled('Out-String of objects (PowerShell default formatting)');
      });
    if (call.named.get('stream') === true) return lines;
    return items.length === 0 ? [] : [lines.map((line) => `${line}\r\n`).join('')];
  },
});
