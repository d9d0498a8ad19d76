// Computer name, power, services, event logs, OpenSSH host keys, sysprep.
// Sources:
// - Rename-Computer (a restart is needed; the warning "The changes will take effect after you restart
//   the computer <old>."; same name → NewNameIsOldName):
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/rename-computer?view=powershell-5.1
// - Stop-Computer / Restart-Computer:
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/stop-computer?view=powershell-5.1
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/restart-computer?view=powershell-5.1
// - shutdown.exe (/s /r /a /t /f /c /d; "A system shutdown has already been scheduled.(1190)",
//   "Unable to abort the system shutdown because no shutdown was in progress.(1116)" — Win32 errors
//   1190 ERROR_SHUTDOWN_IS_SCHEDULED and 1116 ERROR_NO_SHUTDOWN_IN_PROGRESS, returned as exit codes):
//   https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown
//   https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1000-1299-
// - Get-Service / Restart-Service / Set-Service / Start-Service / Stop-Service (NoServiceFoundForGivenName):
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/get-service?view=powershell-5.1
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/restart-service?view=powershell-5.1
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/set-service?view=powershell-5.1
// - wevtutil.exe (el, gli, cl; an unknown channel is error 15007 ERROR_EVT_CHANNEL_NOT_FOUND):
//   https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/wevtutil
//   (clearing a log records event 104 in System; clearing Security records 1102 in Security:
//   https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/auditing/event-1102)
// - Clear-EventLog (classic logs only):
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/clear-eventlog?view=powershell-5.1
// - ssh-keygen -A (creates missing host keys; on Windows under %ProgramData%\ssh):
//   https://learn.microsoft.com/en-us/windows-server/administration/openssh/openssh-server-configuration
//   https://man.openbsd.org/ssh-keygen.1#A
// - sysprep.exe: see ../model/sysprep.ts (only reachable by its full path: System32\Sysprep is not on PATH).
import {
  type CommandCall,
  defineCmdlet,
  defineNative,
  type NativeResult,
  type PsValue,
} from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import { hasWildcard, wildcardToRegExp } from '../model/file-system.js';
import type { WindowsMachine, WindowsService } from '../model/windows-machine.js';
import { flag, has, machineOf, obj, psError, str, strs, warn } from './common.js';

const MGMT = 'Microsoft.PowerShell.Commands';
const DOCS = 'https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management';

function serviceObject(s: WindowsService): PsValue {
  return obj('System.ServiceProcess.ServiceController', [
    ['Name', s.name],
    ['DisplayName', s.displayName],
    ['Status', s.status],
    ['StartType', s.startType],
    ['ServiceName', s.name],
    ['CanStop', s.status === 'Running'],
    ['MachineName', '.'],
    ['ServiceType', 'Win32OwnProcess'],
  ]);
}

function services(call: CommandCall, cmdlet: string): WindowsService[] {
  const m = machineOf(call);
  const names = strs(call, 'Name');
  for (const i of [call.named.get('inputobject') ?? null, ...call.input].flat()) {
    if (i === null) continue;
    names.push(
      typeof i === 'string' ? i : toPsString((i as { get(k: string): PsValue }).get('Name')),
    );
  }
  const displayNames = strs(call, 'DisplayName');
  if (names.length === 0 && displayNames.length === 0) return [...m.services];
  const out: WindowsService[] = [];
  for (const n of names) {
    const re = wildcardToRegExp(n);
    const hits = m.services.filter((s) => re.test(s.name));
    if (hits.length === 0 && !hasWildcard(n))
      throw psError(
        `Cannot find any service with service name '${n}'.`,
        `NoServiceFoundForGivenName,${MGMT}.${cmdlet.replace('-', '')}Command`,
        'ObjectNotFound',
        'Microsoft.PowerShell.Commands.ServiceCommandException',
      );
    out.push(...hits);
  }
  for (const n of displayNames) {
    const re = wildcardToRegExp(n);
    const hits = m.services.filter((s) => re.test(s.displayName));
    if (hits.length === 0 && !hasWildcard(n))
      throw psError(
        `Cannot find any service with display name '${n}'.`,
        `NoServiceFoundForGivenDisplayName,${MGMT}.${cmdlet.replace('-', '')}Command`,
        'ObjectNotFound',
        'Microsoft.PowerShell.Commands.ServiceCommandException',
      );
    out.push(...hits);
  }
  return [...new Set(out)];
}

function startService(m: WindowsMachine, s: WindowsService, cmdlet: string): void {
  if (s.startType === 'Disabled')
    throw psError(
      `Service '${s.displayName} (${s.name})' cannot be started due to the following error: Cannot start service ${s.name} on computer '.'.`,
      `StartServiceFailed,${MGMT}.${cmdlet.replace('-', '')}Command`,
      'OpenError',
      'Microsoft.PowerShell.Commands.ServiceCommandException',
    );
  s.status = 'Running';
  m.events.emit('service', s.name, 'start');
}

const serviceParams = [
  { name: 'Name', type: 'string[]', position: 0, aliases: ['ServiceName'] },
  { name: 'DisplayName', type: 'string[]' },
  { name: 'InputObject', valueFromPipeline: true },
] as const;

function shutdownUsageError(): NativeResult {
  return { stdout: '', stderr: 'The parameter is incorrect.(87)\r\n', exitCode: 87 };
}

function powerCmdlet(name: 'Stop-Computer' | 'Restart-Computer', action: 'shutdown' | 'reboot') {
  return defineCmdlet({
    name,
    parameters: [
      { name: 'ComputerName', type: 'string[]', position: 0 },
      { name: 'Force', type: 'switch' },
      ...(action === 'reboot' ? [{ name: 'Wait', type: 'switch' as const }] : []),
    ],
    source: `${DOCS}/${name.toLowerCase()}?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const targets = strs(call, 'ComputerName');
      if (
        targets.some(
          (t) => !['localhost', '.', m.computerName.toLowerCase()].includes(t.toLowerCase()),
        )
      )
        throw psError(
          `the Windows peer does not model ${name} on remote computers`,
          'NotModelledByWindowsPeer',
          'NotImplemented',
        );
      if (flag(call, 'Wait'))
        // PowerShell refuses -Wait for the local computer.
        throw psError(
          'The Wait parameter cannot be used when the local computer is being restarted.',
          `RestartComputerInvalidParameter,${MGMT}.RestartComputerCommand`,
          'InvalidOperation',
        );
      m.schedulePower(action, name);
      return [];
    },
  });
}

export const systemCommands = [
  defineCmdlet({
    name: 'Rename-Computer',
    parameters: [
      { name: 'NewName', type: 'string', position: 0, mandatory: true },
      { name: 'ComputerName', type: 'string' },
      { name: 'Force', type: 'switch' },
      { name: 'Restart', type: 'switch' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${DOCS}/rename-computer?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const newName = str(call, 'NewName') ?? '';
      const old = m.computerName;
      if (newName.toLowerCase() === old.toLowerCase())
        throw psError(
          `Skip computer '${old}' with new name '${newName}' because the new name is the same as the current name.`,
          `NewNameIsOldName,${MGMT}.RenameComputerCommand`,
          'InvalidArgument',
          'System.InvalidOperationException',
        );
      m.requestRename(newName);
      if (flag(call, 'Restart')) m.schedulePower('reboot', 'Rename-Computer');
      else warn(call, `The changes will take effect after you restart the computer ${old}.`);
      return flag(call, 'PassThru')
        ? [
            obj('Microsoft.PowerShell.Commands.RenameComputerChangeInfo', [
              ['HasSucceeded', true],
              ['NewComputerName', newName],
              ['OldComputerName', old],
            ]),
          ]
        : [];
    },
  }),
  powerCmdlet('Stop-Computer', 'shutdown'),
  powerCmdlet('Restart-Computer', 'reboot'),
  defineNative({
    names: ['shutdown.exe', 'shutdown'],
    paths: ['C:\\Windows\\System32\\shutdown.exe'],
    source:
      'https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown',
    run(call): NativeResult {
      const m = machineOf(call);
      const args = call.positional.map(toPsString);
      let action: 'shutdown' | 'reboot' | 'abort' | null = null;
      let delay = 30; // shutdown.exe's default /t
      for (let i = 0; i < args.length; i++) {
        const a = (args[i] as string).replace(/^-/, '/').toLowerCase();
        if (a === '/s') action = 'shutdown';
        else if (a === '/r') action = 'reboot';
        else if (a === '/a') action = 'abort';
        else if (a === '/f') continue;
        else if (a === '/t' || a === '/c' || a === '/d') {
          const v = args[++i];
          if (v === undefined) return shutdownUsageError();
          if (a === '/t') {
            delay = Number(v);
            if (!Number.isInteger(delay) || delay < 0 || delay > 315_360_000)
              return shutdownUsageError();
          }
        } else return shutdownUsageError();
      }
      if (action === null) return shutdownUsageError();
      if (action === 'abort') {
        if (!m.pendingPower)
          return {
            stdout: '',
            stderr:
              'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n',
            exitCode: 1116,
          };
        m.pendingPower = null;
        return { stdout: '', stderr: '', exitCode: 0 };
      }
      if (m.pendingPower)
        return {
          stdout: '',
          stderr: 'A system shutdown has already been scheduled.(1190)\r\n',
          exitCode: 1190,
        };
      m.schedulePower(action, 'shutdown.exe', delay);
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  }),
  defineCmdlet({
    name: 'Get-Service',
    aliases: ['gsv'],
    parameters: serviceParams,
    source: `${DOCS}/get-service?view=powershell-5.1`,
    run: (call) => services(call, 'Get-Service').map(serviceObject),
  }),
  defineCmdlet({
    name: 'Start-Service',
    aliases: ['sasv'],
    parameters: [...serviceParams, { name: 'PassThru', type: 'switch' }],
    source: `${DOCS}/start-service?view=powershell-5.1`,
    run(call) {
      const list = services(call, 'Start-Service');
      for (const s of list)
        if (s.status !== 'Running') startService(machineOf(call), s, 'Start-Service');
      return flag(call, 'PassThru') ? list.map(serviceObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Stop-Service',
    aliases: ['spsv'],
    parameters: [
      ...serviceParams,
      { name: 'Force', type: 'switch' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${DOCS}/stop-service?view=powershell-5.1`,
    run(call) {
      const list = services(call, 'Stop-Service');
      for (const s of list) {
        s.status = 'Stopped';
        machineOf(call).events.emit('service', s.name, 'stop');
      }
      return flag(call, 'PassThru') ? list.map(serviceObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Restart-Service',
    parameters: [
      ...serviceParams,
      { name: 'Force', type: 'switch' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${DOCS}/restart-service?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const list = services(call, 'Restart-Service');
      for (const s of list) {
        s.status = 'Stopped';
        startService(m, s, 'Restart-Service');
        m.events.emit('service', s.name, 'restart');
      }
      return flag(call, 'PassThru') ? list.map(serviceObject) : [];
    },
  }),
  defineCmdlet({
    name: 'Set-Service',
    parameters: [
      { name: 'Name', type: 'string', position: 0, aliases: ['ServiceName', 'SN'] },
      { name: 'InputObject', valueFromPipeline: true },
      { name: 'DisplayName', type: 'string' },
      { name: 'StartupType', aliases: ['StartMode', 'SM', 'ST'], type: 'string' },
      { name: 'Status', type: 'string' },
      { name: 'PassThru', type: 'switch' },
    ],
    source: `${DOCS}/set-service?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const list = services(call, 'Set-Service');
      for (const s of list) {
        if (has(call, 'StartupType')) {
          const t = (str(call, 'StartupType') ?? '').toLowerCase();
          const map = { automatic: 'Automatic', manual: 'Manual', disabled: 'Disabled' } as const;
          const v = map[t as keyof typeof map];
          if (!v)
            throw psError(
              `Cannot bind parameter 'StartupType'. Cannot convert value "${t}" to type "System.ServiceProcess.ServiceStartMode". Error: "Unable to match the identifier name ${t} to a valid enumerator name. Specify one of the following enumerator names and try again:\r\nBoot, System, Automatic, Manual, Disabled"`,
              `CannotConvertArgumentNoMessage,${MGMT}.SetServiceCommand`,
              'InvalidArgument',
              'System.Management.Automation.ParameterBindingException',
            );
          s.startType = v;
        }
        const status = str(call, 'Status')?.toLowerCase();
        if (status === 'running' && s.status !== 'Running') startService(m, s, 'Set-Service');
        if (status === 'stopped') s.status = 'Stopped';
        const dn = str(call, 'DisplayName');
        if (dn !== null) s.displayName = dn;
      }
      return flag(call, 'PassThru') ? list.map(serviceObject) : [];
    },
  }),
  defineNative({
    names: ['wevtutil.exe', 'wevtutil'],
    paths: ['C:\\Windows\\System32\\wevtutil.exe'],
    source:
      'https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/wevtutil',
    run(call): NativeResult {
      const m = machineOf(call);
      const [verb, log] = call.positional.map(toPsString);
      const v = (verb ?? '').toLowerCase();
      if (v === 'el' || v === 'enum-logs')
        return {
          stdout: [...m.eventLogs]
            .map((l) => l.name)
            .sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' }))
            .map((n) => `${n}\r\n`)
            .join(''),
          stderr: '',
          exitCode: 0,
        };
      if (v === 'cl' || v === 'clear-log' || v === 'gli' || v === 'get-log-info') {
        const l = log === undefined ? undefined : m.findEventLog(log);
        if (!l) {
          const what = v.startsWith('c')
            ? `Failed to clear log ${log ?? ''}.`
            : `Failed to read log ${log ?? ''}.`;
          return {
            stdout: '',
            stderr: `${what} The specified channel could not be found.\r\n\r\n`,
            exitCode: 15007,
          };
        }
        if (v === 'gli' || v === 'get-log-info')
          return {
            stdout: `creationTime: ${m.lastBootUpTime.toISOString()}\r\nlastAccessTime: ${m.now().toISOString()}\r\nlastWriteTime: ${m.now().toISOString()}\r\nfileSize: 69632\r\nattributes: 32\r\nnumberOfLogRecords: ${l.records}\r\noldestRecordNumber: 1\r\n`,
            stderr: '',
            exitCode: 0,
          };
        clearLog(m, l.name);
        return { stdout: '', stderr: '', exitCode: 0 };
      }
      return {
        stdout: '',
        stderr: `the Windows peer does not model wevtutil ${call.positional.map(toPsString).join(' ')}\r\n`,
        exitCode: 1,
      };
    },
  }),
  defineCmdlet({
    name: 'Clear-EventLog',
    parameters: [
      { name: 'LogName', aliases: ['LN'], type: 'string[]', position: 0, mandatory: true },
      { name: 'ComputerName', aliases: ['CN'], type: 'string[]' },
    ],
    source: `${DOCS}/clear-eventlog?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      for (const n of strs(call, 'LogName')) {
        const l = m.findEventLog(n);
        // Only classic event logs (no '/' in the name) are visible to Clear-EventLog.
        if (!l || l.name.includes('/'))
          throw psError(
            `The Log name "${n}" does not exist in the computer "localhost".`,
            `Microsoft.PowerShell.Commands.ClearEventLogCommand`,
            'NotSpecified',
            'System.InvalidOperationException',
          );
        clearLog(m, l.name);
      }
      return [];
    },
  }),
  defineNative({
    names: ['ssh-keygen.exe', 'ssh-keygen'],
    paths: ['C:\\Windows\\System32\\OpenSSH\\ssh-keygen.exe'],
    source: 'https://man.openbsd.org/ssh-keygen.1#A',
    run(call): NativeResult {
      const m = machineOf(call);
      const args = call.positional.map(toPsString);
      if (args.length !== 1 || args[0] !== '-A')
        return {
          stdout: '',
          stderr: `the Windows peer does not model ssh-keygen ${args.join(' ')}\r\n`,
          exitCode: 1,
        };
      const made = m.generateMissingHostKeys();
      return {
        stdout:
          made.length === 0 ? '' : `ssh-keygen: generating new host keys: ${made.join(' ')} \n`,
        stderr: '',
        exitCode: 0,
      };
    },
  }),
  defineNative({
    names: [],
    paths: ['C:\\Windows\\System32\\Sysprep\\sysprep.exe'],
    source:
      'https://learn.microsoft.com/en-us/windows-hardware/manufacture/desktop/sysprep-command-line-options',
    run(call): NativeResult {
      const r = machineOf(call).runSysprep(call.positional.map(toPsString));
      return { stdout: '', stderr: '', exitCode: r.exitCode };
    },
  }),
];

function clearLog(m: WindowsMachine, name: string): void {
  const l = m.findEventLog(name);
  if (!l) return;
  l.records = 0;
  if (l.name === 'Security')
    l.records = 1; // event 1102: the audit log was cleared
  else {
    const system = m.findEventLog('System');
    if (system) system.records += 1; // event 104: the <name> log file was cleared
  }
}
