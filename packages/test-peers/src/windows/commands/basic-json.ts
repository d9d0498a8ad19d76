/**
 * JSON cmdlets of Windows PowerShell 5.1, as documented on Microsoft Learn:
 * - ConvertTo-Json: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertto-json?view=powershell-5.1
 *   (pipeline input is collected: one item is written as itself, several as an array; -Depth default 2)
 * - ConvertFrom-Json: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertfrom-json?view=powershell-5.1
 *   (5.1 collects all input strings and parses them together; a JSON array is written as ONE object[],
 *   not enumerated, which is 5.1's documented difference from PowerShell 7)
 */
import { defineCmdlet, PsError } from '../interpreter/command.js';
import { fromJson, toJson } from '../interpreter/json.js';
import { type PsValue, toPsNumber, toPsString } from '../interpreter/values.js';

export const convertToJson = defineCmdlet({
  name: 'ConvertTo-Json',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertto-json?view=powershell-5.1',
  parameters: [
    { name: 'InputObject', position: 0, valueFromPipeline: true, mandatory: true },
    { name: 'Depth', type: 'int' },
    { name: 'Compress', type: 'switch' },
  ],
  run(call) {
    const given = call.named.get('inputobject');
    const items: PsValue[] = given === undefined ? [...call.input] : [given];
    const depth = call.named.has('depth') ? toPsNumber(call.named.get('depth') ?? null) : 2;
    if (depth < 1 || depth > 100) {
      throw new PsError(
        `Cannot validate argument on parameter 'Depth'. The ${depth} argument is less than the minimum allowed range of 1. Supply an argument that is greater than or equal to 1 and then try the command again.`,
        {
          fullyQualifiedErrorId:
            'ParameterArgumentValidationError,Microsoft.PowerShell.Commands.ConvertToJsonCommand',
          category: 'InvalidData',
          terminating: true,
        },
      );
    }
    if (items.length === 0) return [];
    const value = items.length === 1 ? (items[0] ?? null) : items;
    return [toJson(value, { compress: call.named.get('compress') === true, depth })];
  },
});

export const convertFromJson = defineCmdlet({
  name: 'ConvertFrom-Json',
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertfrom-json?view=powershell-5.1',
  parameters: [{ name: 'InputObject', position: 0, valueFromPipeline: true, mandatory: true }],
  run(call) {
    const given = call.named.get('inputobject');
    const items = given === undefined ? [...call.input] : [given];
    const text = items.map((item) => toPsString(item)).join('\n');
    if (text.trim() === '') return [];
    return [fromJson(text)];
  },
});
