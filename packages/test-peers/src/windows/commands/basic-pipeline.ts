/**
 * Pipeline cmdlets of Windows PowerShell 5.1, as documented on Microsoft Learn:
 * - ForEach-Object: https://learn.microsoft.com/powershell/module/microsoft.powershell.core/foreach-object?view=powershell-5.1
 * - Where-Object: https://learn.microsoft.com/powershell/module/microsoft.powershell.core/where-object?view=powershell-5.1
 * - Select-Object: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/select-object?view=powershell-5.1
 * Only the script-block forms of ForEach-Object/Where-Object and Select-Object's -Property (names),
 * -ExpandProperty, -First and -Last are modelled.
 */
import { defineCmdlet, PsError, PsObject, PsScriptBlock } from '../interpreter/command.js';
import { notModelled } from '../interpreter/errors.js';
import { getMember } from '../interpreter/members.js';
import {
  enumerate,
  type PsValue,
  toPsBool,
  toPsNumber,
  toPsString,
} from '../interpreter/values.js';

export const forEachObject = defineCmdlet({
  name: 'ForEach-Object',
  aliases: ['%', 'foreach'],
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.core/foreach-object?view=powershell-5.1',
  parameters: [
    { name: 'Process', position: 0, mandatory: true },
    { name: 'Begin', type: 'scriptblock' },
    { name: 'End', type: 'scriptblock' },
    { name: 'InputObject', valueFromPipeline: true },
  ],
  async run(call) {
    const process = call.named.get('process') ?? null;
    const output: PsValue[] = [];
    const begin = call.named.get('begin');
    if (begin instanceof PsScriptBlock) output.push(...(await call.invoke(begin)));
    for (const item of call.input) {
      if (process instanceof PsScriptBlock) {
        output.push(...(await call.invoke(process, { dollarUnder: item })));
      } else if (typeof process === 'string') {
        // ForEach-Object -MemberName: the property's value.
        output.push(...enumerate(getMember(item, process)));
      } else throw notModelled('ForEach-Object with this -Process value');
    }
    const end = call.named.get('end');
    if (end instanceof PsScriptBlock) output.push(...(await call.invoke(end)));
    return output;
  },
});

export const whereObject = defineCmdlet({
  name: 'Where-Object',
  aliases: ['?', 'where'],
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.core/where-object?view=powershell-5.1',
  parameters: [
    { name: 'FilterScript', position: 0, mandatory: true },
    { name: 'InputObject', valueFromPipeline: true },
  ],
  async run(call) {
    const filter = call.named.get('filterscript') ?? null;
    if (!(filter instanceof PsScriptBlock)) {
      throw notModelled("Where-Object's simplified syntax (Where-Object Name -eq value)");
    }
    const kept: PsValue[] = [];
    for (const item of call.input) {
      const result = await call.invoke(filter, { dollarUnder: item });
      if (toPsBool(result.length === 1 ? (result[0] ?? null) : result)) kept.push(item);
    }
    return kept;
  },
});

export const selectObject = defineCmdlet({
  name: 'Select-Object',
  aliases: ['select'],
  source:
    'https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/select-object?view=powershell-5.1',
  parameters: [
    { name: 'Property', position: 0, type: 'object[]' },
    { name: 'ExpandProperty', type: 'string' },
    { name: 'First', type: 'int' },
    { name: 'Last', type: 'int' },
    { name: 'InputObject', valueFromPipeline: true },
  ],
  run(call) {
    let items = [...call.input];
    const first = call.named.get('first');
    const last = call.named.get('last');
    if (first !== undefined) items = items.slice(0, toPsNumber(first));
    if (last !== undefined) items = items.slice(Math.max(0, items.length - toPsNumber(last)));
    const expand = call.named.get('expandproperty');
    const property = call.named.get('property');
    if (expand !== undefined && expand !== null) {
      const name = toPsString(expand);
      return items.flatMap((item) => {
        const known =
          item instanceof PsObject
            ? item.properties.has(name)
            : item !== null && typeof item === 'object';
        if (!known) {
          throw new PsError(`Property "${name}" cannot be found.`, {
            fullyQualifiedErrorId:
              'ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand',
            category: 'InvalidArgument',
          });
        }
        return enumerate(getMember(item, name));
      });
    }
    if (property !== undefined && property !== null) {
      const names = enumerate(property).map((name) => {
        if (typeof name !== 'string') throw notModelled('Select-Object with calculated properties');
        return name;
      });
      return items.map(
        (item) =>
          new PsObject(
            names.map((name): [string, PsValue] => [name, getMember(item, name)]),
            'Selected.System.Management.Automation.PSCustomObject',
          ),
      );
    }
    return items;
  },
});
