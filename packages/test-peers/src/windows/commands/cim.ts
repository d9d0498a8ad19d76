// CIM: Get-CimInstance for Win32_UserProfile and Win32_OperatingSystem, Remove-CimInstance.
// Sources:
// - https://learn.microsoft.com/en-us/powershell/module/cimcmdlets/get-ciminstance?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/cimcmdlets/remove-ciminstance?view=powershell-5.1
// - Win32_UserProfile (SID, LocalPath, Loaded, Special; Delete fails for a loaded profile):
//   https://learn.microsoft.com/en-us/previous-versions/windows/desktop/legacy/ee886409(v=vs.85)
// - Win32_OperatingSystem (Caption, Version, BuildNumber, CSName, LastBootUpTime):
//   https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem
// The -Filter is WQL; the model accepts only `Prop = 'value'` / `Prop = number|TRUE|FALSE` terms joined
// by AND (anything else is an error, so a script cannot rely on unmodelled WQL). An unknown class gives
// CIM's "Invalid class " error (HRESULT 0x80041010, WBEM_E_INVALID_CLASS). Deleting a loaded profile
// fails; the model uses the sharing-violation text (0x80070020) — the exact HRESULT Windows returns
// for a loaded profile is not documented on Learn and is unverified here.
import { defineCmdlet, PsObject, type PsValue } from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import type { WindowsMachine } from '../model/windows-machine.js';
import { dateValue, machineOf, obj, psError, str } from './common.js';

const CIM_NS = 'Microsoft.Management.Infrastructure.CimCmdlets';
const CIM_TYPE = 'Microsoft.Management.Infrastructure.CimInstance';

function cimObject(cls: string, entries: [string, PsValue][]): PsObject {
  return obj(`${CIM_TYPE}#root/cimv2/${cls}`, [...entries, ['CimClass', `root/cimv2:${cls}`]]);
}

function instances(m: WindowsMachine, cls: string): PsObject[] | null {
  switch (cls.toLowerCase()) {
    case 'win32_userprofile':
      return m.profiles.map((p) =>
        cimObject('Win32_UserProfile', [
          ['LocalPath', p.localPath],
          ['Loaded', p.loaded],
          ['SID', p.sid],
          ['Special', p.special],
          ['LastUseTime', dateValue(m.now())],
        ]),
      );
    case 'win32_operatingsystem':
      return [
        cimObject('Win32_OperatingSystem', [
          ['Caption', m.caption],
          ['Version', m.osVersion],
          ['BuildNumber', m.buildNumber],
          ['CSName', m.computerName],
          ['LastBootUpTime', dateValue(m.lastBootUpTime)],
          ['OSArchitecture', '64-bit'],
          ['ProductType', m.isServer ? 3 : 1],
        ]),
      ];
    default:
      return null;
  }
}

/** `A = 'x' AND B = 1` → predicate; throws for WQL the model does not handle. */
export function parseWqlFilter(filter: string): (o: PsObject) => boolean {
  const terms = filter.split(/\s+AND\s+/i).map((t) => {
    const m = /^\s*(\w+)\s*=\s*(?:'((?:[^']|'')*)'|"([^"]*)"|(TRUE|FALSE)|(-?\d+))\s*$/i.exec(t);
    if (!m)
      throw psError(
        `the Windows peer does not model this WQL filter: ${filter}`,
        'NotModelledByWindowsPeer',
        'NotImplemented',
      );
    const prop = m[1] as string;
    const expected: string | boolean | number =
      m[2] !== undefined
        ? m[2].replace(/''/g, "'").replace(/\\\\/g, '\\')
        : m[3] !== undefined
          ? m[3].replace(/\\\\/g, '\\')
          : m[4] !== undefined
            ? m[4].toUpperCase() === 'TRUE'
            : Number(m[5]);
    return (o: PsObject) => {
      const v = o.get(prop);
      if (typeof expected === 'string')
        return toPsString(v).toLowerCase() === expected.toLowerCase();
      return v === expected;
    };
  });
  return (o) => terms.every((t) => t(o));
}

export const cimCommands = [
  defineCmdlet({
    name: 'Get-CimInstance',
    aliases: ['gcim'],
    parameters: [
      { name: 'ClassName', type: 'string', position: 0 },
      { name: 'Filter', type: 'string' },
      { name: 'Namespace', type: 'string' },
      { name: 'Property', type: 'string[]' },
    ],
    source:
      'https://learn.microsoft.com/en-us/powershell/module/cimcmdlets/get-ciminstance?view=powershell-5.1',
    run(call) {
      const m = machineOf(call);
      const cls = str(call, 'ClassName') ?? '';
      const ns = (str(call, 'Namespace') ?? 'root/cimv2').replace(/\\/g, '/').toLowerCase();
      const all = ns === 'root/cimv2' ? instances(m, cls) : null;
      if (all === null)
        throw psError(
          'Invalid class ',
          `HRESULT 0x80041010,${CIM_NS}.GetCimInstanceCommand`,
          'MetadataError',
          'Microsoft.Management.Infrastructure.CimException',
        );
      const filter = str(call, 'Filter');
      return filter === null ? all : all.filter(parseWqlFilter(filter));
    },
  }),
  defineCmdlet({
    name: 'Remove-CimInstance',
    aliases: ['rcim'],
    parameters: [{ name: 'InputObject', position: 0, valueFromPipeline: true }],
    pipeline: 'each',
    source:
      'https://learn.microsoft.com/en-us/powershell/module/cimcmdlets/remove-ciminstance?view=powershell-5.1',
    run(call) {
      const m = machineOf(call);
      const items = [call.named.get('inputobject') ?? null, ...call.input]
        .flat()
        .filter((x) => x !== null);
      const seen = new Set<PsValue>();
      for (const item of items) {
        if (seen.has(item)) continue;
        seen.add(item);
        if (!(item instanceof PsObject) || !item.typeName.startsWith(`${CIM_TYPE}#`))
          throw psError(
            `Cannot bind parameter 'InputObject'. Cannot convert the "${toPsString(item)}" value of type "${typeof item === 'string' ? 'System.String' : 'System.Object'}" to type "Microsoft.Management.Infrastructure.CimInstance".`,
            `CannotConvertArgumentNoMessage,${CIM_NS}.RemoveCimInstanceCommand`,
            'InvalidArgument',
            'System.Management.Automation.ParameterBindingException',
          );
        if (!item.typeName.endsWith('/Win32_UserProfile'))
          throw psError(
            'Not supported ',
            `HRESULT 0x8004100c,${CIM_NS}.RemoveCimInstanceCommand`,
            'NotImplemented',
            'Microsoft.Management.Infrastructure.CimException',
          );
        const sid = toPsString(item.get('SID'));
        const profile = m.profiles.find((p) => p.sid.toLowerCase() === sid.toLowerCase());
        if (!profile)
          throw psError(
            'Not found ',
            `HRESULT 0x80041002,${CIM_NS}.RemoveCimInstanceCommand`,
            'ObjectNotFound',
            'Microsoft.Management.Infrastructure.CimException',
          );
        if (m.deleteProfile(profile) === 'in-use')
          throw psError(
            'The process cannot access the file because it is being used by another process. ',
            `HRESULT 0x80070020,${CIM_NS}.RemoveCimInstanceCommand`,
            'NotSpecified',
            'Microsoft.Management.Infrastructure.CimException',
          );
      }
      return [];
    },
  }),
];
