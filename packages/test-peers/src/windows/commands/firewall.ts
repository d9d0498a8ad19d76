// Windows Defender Firewall rules (NetSecurity module, CDXML cmdlets over MSFT_NetFirewallRule).
// Sources:
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/get-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/new-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/set-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/remove-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/enable-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/disable-netfirewallrule?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/get-netfirewallportfilter?view=windowsserver2022-ps
// - https://learn.microsoft.com/en-us/powershell/module/netsecurity/get-netfirewalladdressfilter?view=windowsserver2022-ps
// Rule objects carry no port/address: those live in the associated filter objects (as on Windows).
// A non-wildcard query that matches nothing fails with the cmdletization "No MSFT_NetFirewallRule
// objects found with property '<P>' equal to '<v>'.  Verify the value of the property and retry."
// (CmdletizationQuery_NotFound_<P>,<cmdlet>); New-NetFirewallRule with an existing -Name fails with
// Win32 error 183 "Cannot create a file when that file already exists." (Windows System Error 183).
import { type CommandCall, defineCmdlet, PsObject, type PsValue } from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import { hasWildcard, wildcardToRegExp } from '../model/file-system.js';
import type { FirewallRule, WindowsMachine } from '../model/windows-machine.js';
import { has, machineOf, obj, psError, str, strs } from './common.js';

const NS = 'https://learn.microsoft.com/en-us/powershell/module/netsecurity';
const RULE_TYPE =
  'Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/MSFT_NetFirewallRule';

export function ruleObject(r: FirewallRule): PsObject {
  return obj(RULE_TYPE, [
    ['Name', r.name],
    ['ID', r.name],
    ['DisplayName', r.displayName],
    ['Group', r.group === '' ? null : r.group],
    ['Enabled', r.enabled ? 'True' : 'False'],
    ['Profile', r.profile],
    ['Platform', []],
    ['Direction', r.direction],
    ['Action', r.action],
    ['EdgeTraversalPolicy', 'Block'],
    ['Description', r.description === '' ? null : r.description],
    ['DisplayGroup', r.displayGroup === '' ? null : r.displayGroup],
    ['InstanceID', r.name],
    ['PrimaryStatus', 'OK'],
    ['Status', 'The rule was parsed successfully from the store. (65536)'],
  ]);
}

function notFound(cmdlet: string, prop: string, v: string) {
  return psError(
    `No MSFT_NetFirewallRule objects found with property '${prop}' equal to '${v}'.  Verify the value of the property and retry.`,
    `CmdletizationQuery_NotFound_${prop},${cmdlet}`,
    'ObjectNotFound',
    'Microsoft.PowerShell.Cmdletization.Cim.CimJobException',
  );
}

/** The rules a query selects (-Name, -DisplayName, -Group, -DisplayGroup, pipeline rule objects). */
function select(call: CommandCall, cmdlet: string): FirewallRule[] {
  const m = machineOf(call);
  const fromInput = [call.named.get('inputobject') ?? null, ...call.input]
    .flat()
    .filter((x): x is PsObject => x instanceof PsObject)
    .map((o) => toPsString(o.get('Name')));
  const criteria: [string, (r: FirewallRule) => string, string[]][] = [
    ['Name', (r) => r.name, strs(call, 'Name')],
    ['DisplayName', (r) => r.displayName, strs(call, 'DisplayName')],
    ['Group', (r) => r.group, strs(call, 'Group')],
    ['DisplayGroup', (r) => r.displayGroup, strs(call, 'DisplayGroup')],
  ];
  const anyCriteria = criteria.some(([, , v]) => v.length > 0) || fromInput.length > 0;
  if (!anyCriteria) return [...m.firewallRules];
  const out = new Set<FirewallRule>();
  for (const [prop, get, values] of criteria)
    for (const v of values) {
      const re = wildcardToRegExp(v);
      const hits = m.firewallRules.filter((r) => re.test(get(r)));
      if (hits.length === 0 && !hasWildcard(v)) throw notFound(cmdlet, prop, v);
      for (const h of hits) out.add(h);
    }
  for (const n of fromInput) {
    const r = m.firewallRules.find((x) => x.name.toLowerCase() === n.toLowerCase());
    if (!r) throw notFound(cmdlet, 'InstanceID', n);
    out.add(r);
  }
  return [...out];
}

function enabledValue(v: string): boolean {
  const t = v.toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '2') return false;
  throw psError(
    `Cannot process argument transformation on parameter 'Enabled'. Cannot convert value "${v}" to type "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Enabled". Error: "Unable to match the identifier name ${v} to a valid enumerator name. Specify one of the following enumerator names and try again:\r\nTrue, False"`,
    'ParameterArgumentTransformationError,Set-NetFirewallRule',
    'InvalidData',
  );
}

function addresses(v: string[]): string[] {
  return v
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

const queryParams = [
  { name: 'Name', type: 'string[]', position: 0 },
  { name: 'DisplayName', type: 'string[]' },
  { name: 'Group', type: 'string[]' },
  { name: 'DisplayGroup', type: 'string[]' },
  { name: 'InputObject', valueFromPipeline: true },
] as const;

function applySettings(call: CommandCall, r: FirewallRule): void {
  if (has(call, 'Enabled')) r.enabled = enabledValue(str(call, 'Enabled') ?? '');
  if (has(call, 'RemoteAddress')) r.remoteAddress = addresses(strs(call, 'RemoteAddress'));
  if (has(call, 'LocalPort')) r.localPort = addresses(strs(call, 'LocalPort'));
  if (has(call, 'Protocol')) r.protocol = (str(call, 'Protocol') ?? 'Any').toUpperCase();
  if (has(call, 'Action'))
    r.action = (str(call, 'Action') ?? '').toLowerCase() === 'block' ? 'Block' : 'Allow';
  if (has(call, 'Profile')) r.profile = strs(call, 'Profile').join(', ');
  if (has(call, 'NewDisplayName')) r.displayName = str(call, 'NewDisplayName') ?? r.displayName;
  if (has(call, 'Description')) r.description = str(call, 'Description') ?? '';
}

function filterSource(call: CommandCall, m: WindowsMachine): FirewallRule[] {
  const assoc = [call.named.get('associatednetfirewallrule') ?? null, ...call.input]
    .flat()
    .filter((x): x is PsObject => x instanceof PsObject);
  return assoc.map((o) => {
    const n = toPsString(o.get('Name'));
    const r = m.firewallRules.find((x) => x.name.toLowerCase() === n.toLowerCase());
    if (!r) throw notFound('Get-NetFirewallPortFilter', 'InstanceID', n);
    return r;
  });
}

export const firewallCommands = [
  defineCmdlet({
    name: 'Get-NetFirewallRule',
    parameters: [...queryParams, { name: 'All', type: 'switch' }],
    source: `${NS}/get-netfirewallrule`,
    run: (call) => select(call, 'Get-NetFirewallRule').map(ruleObject),
  }),
  defineCmdlet({
    name: 'New-NetFirewallRule',
    parameters: [
      { name: 'DisplayName', type: 'string', position: 0, mandatory: true },
      { name: 'Name', type: 'string' },
      { name: 'Description', type: 'string' },
      { name: 'Group', type: 'string' },
      { name: 'Enabled', type: 'string' },
      { name: 'Profile', type: 'string[]' },
      { name: 'Direction', type: 'string' },
      { name: 'Action', type: 'string' },
      { name: 'Protocol', type: 'string' },
      { name: 'LocalPort', type: 'string[]' },
      { name: 'RemoteAddress', type: 'string[]' },
    ],
    source: `${NS}/new-netfirewallrule`,
    run(call) {
      const m = machineOf(call);
      const name = str(call, 'Name') ?? `{${crypto.randomUUID()}}`;
      if (m.firewallRules.some((r) => r.name.toLowerCase() === name.toLowerCase()))
        throw psError(
          'Cannot create a file when that file already exists.',
          'Windows System Error 183,New-NetFirewallRule',
          'ResourceExists',
          'Microsoft.Management.Infrastructure.CimException',
        );
      const group = str(call, 'Group') ?? '';
      const r: FirewallRule = {
        name,
        displayName: str(call, 'DisplayName') ?? '',
        description: '',
        group,
        displayGroup: group,
        enabled: true,
        direction:
          (str(call, 'Direction') ?? 'Inbound').toLowerCase() === 'outbound'
            ? 'Outbound'
            : 'Inbound',
        action: 'Allow',
        profile: 'Any',
        protocol: 'Any',
        localPort: ['Any'],
        remoteAddress: ['Any'],
      };
      applySettings(call, r);
      m.firewallRules.push(r);
      return [ruleObject(r)];
    },
  }),
  defineCmdlet({
    name: 'Set-NetFirewallRule',
    parameters: [
      ...queryParams,
      { name: 'NewDisplayName', type: 'string' },
      { name: 'Description', type: 'string' },
      { name: 'Enabled', type: 'string' },
      { name: 'Profile', type: 'string[]' },
      { name: 'Action', type: 'string' },
      { name: 'Protocol', type: 'string' },
      { name: 'LocalPort', type: 'string[]' },
      { name: 'RemoteAddress', type: 'string[]' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${NS}/set-netfirewallrule`,
    run(call) {
      const rules = select(call, 'Set-NetFirewallRule');
      for (const r of rules) applySettings(call, r);
      return call.named.get('passthru') === true ? rules.map(ruleObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Remove-NetFirewallRule',
    parameters: queryParams,
    source: `${NS}/remove-netfirewallrule`,
    run(call) {
      const m = machineOf(call);
      const gone = new Set(select(call, 'Remove-NetFirewallRule'));
      m.firewallRules = m.firewallRules.filter((r) => !gone.has(r));
      return [];
    },
  }),
  defineCmdlet({
    name: 'Enable-NetFirewallRule',
    parameters: [...queryParams, { name: 'PassThru', type: 'switch' }],
    source: `${NS}/enable-netfirewallrule`,
    run(call) {
      const rules = select(call, 'Enable-NetFirewallRule');
      for (const r of rules) r.enabled = true;
      return call.named.get('passthru') === true ? rules.map(ruleObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Disable-NetFirewallRule',
    parameters: [...queryParams, { name: 'PassThru', type: 'switch' }],
    source: `${NS}/disable-netfirewallrule`,
    run(call) {
      const rules = select(call, 'Disable-NetFirewallRule');
      for (const r of rules) r.enabled = false;
      return call.named.get('passthru') === true ? rules.map(ruleObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Get-NetFirewallPortFilter',
    parameters: [{ name: 'AssociatedNetFirewallRule', valueFromPipeline: true }],
    source: `${NS}/get-netfirewallportfilter`,
    run(call) {
      return filterSource(call, machineOf(call)).map(
        (r): PsValue =>
          obj(
            'Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/MSFT_NetProtocolPortFilter',
            [
              ['Protocol', r.protocol],
              ['LocalPort', r.localPort.length === 1 ? (r.localPort[0] ?? 'Any') : r.localPort],
              ['RemotePort', 'Any'],
              ['IcmpType', 'Any'],
              ['DynamicTarget', 'Any'],
              ['InstanceID', r.name],
            ],
          ),
      );
    },
  }),
  defineCmdlet({
    name: 'Get-NetFirewallAddressFilter',
    parameters: [{ name: 'AssociatedNetFirewallRule', valueFromPipeline: true }],
    source: `${NS}/get-netfirewalladdressfilter`,
    run(call) {
      return filterSource(call, machineOf(call)).map(
        (r): PsValue =>
          obj(
            'Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/MSFT_NetAddressFilter',
            [
              ['LocalAddress', 'Any'],
              [
                'RemoteAddress',
                r.remoteAddress.length === 1 ? (r.remoteAddress[0] ?? 'Any') : r.remoteAddress,
              ],
              ['InstanceID', r.name],
            ],
          ),
      );
    },
  }),
];
