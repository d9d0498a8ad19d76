// The modelled commands over a WindowsMachine, called with hand-made CommandCall objects.
// Expected texts/ids are the ones cited in each src/windows/commands/*.ts header.
import { describe, expect, it } from 'vitest';
import { DateTimeValue, SecureStringValue, type SidValue } from '../src/windows/commands/common.js';
import { QUSER_HEADER } from '../src/windows/commands/sessions.js';
import type { PsObject, PsValue } from '../src/windows/interpreter/command.js';
import { IMAGE_STATE } from '../src/windows/model/sysprep.js';
import { REG, SSH_DIR, WindowsMachine } from '../src/windows/model/windows-machine.js';
import { cmdlet, cmdletError, native, table } from './windows-model-helpers.js';

const T0 = new Date('2024-05-01T10:00:00Z');
const server = () =>
  new WindowsMachine({
    computerName: 'WIN-REF',
    version: 'Windows Server 2022',
    administratorPassword: 'Adm1n!pass',
    now: () => T0,
    hostKeys: 'shared',
  });
const client = () =>
  new WindowsMachine({
    computerName: 'PC-1',
    version: 'Windows 11 Pro 23H2',
    now: () => T0,
    hostKeys: 'shared',
  });
const prop = (v: PsValue | undefined, name: string) => (v as PsObject).get(name);
const secure = (s: string) => new SecureStringValue(s);

describe('accounts (Microsoft.PowerShell.LocalAccounts)', () => {
  it('ConvertTo-SecureString: needs -AsPlainText -Force; the value never shows its text', async () => {
    const m = server();
    const err = await cmdletError(m, 'ConvertTo-SecureString', {
      String: 'S3cret!x',
      AsPlainText: true,
    });
    expect(err.id).toBe(
      'ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand',
    );
    const { out } = await cmdlet(m, 'ConvertTo-SecureString', {
      String: 'S3cret!x',
      AsPlainText: true,
      Force: true,
    });
    const ss = out[0] as PsObject;
    expect(ss.typeName).toBe('System.Security.SecureString');
    expect(ss.properties.keys()).toEqual(['Length']);
    expect(JSON.stringify([...ss.properties])).not.toContain('S3cret');
    expect((ss as SecureStringValue).psToString()).toBe('System.Security.SecureString');
  });

  it('New-LocalUser creates the user (RID 1000+, in Users) and returns it', async () => {
    const m = server();
    const { out } = await cmdlet(m, 'New-LocalUser', {
      Name: 'vlab',
      Password: secure('Passw0rd!'),
      FullName: 'V Lab',
      PasswordNeverExpires: true,
    });
    expect(prop(out[0], 'Name')).toBe('vlab');
    expect(prop(prop(out[0], 'SID'), 'Value')).toBe(`${m.machineSid}-1000`);
    expect((prop(out[0], 'SID') as SidValue).psToString()).toBe(`${m.machineSid}-1000`);
    expect(m.findUser('VLAB')).toMatchObject({
      password: 'Passw0rd!',
      fullName: 'V Lab',
      passwordNeverExpires: true,
      enabled: true,
    });
    expect(m.findGroup('Users')?.members).toContain(`${m.machineSid}-1000`);
  });

  it('New-LocalUser on an existing name: UserExists', async () => {
    const m = server();
    expect(
      await cmdletError(m, 'New-LocalUser', { Name: 'administrator', NoPassword: true }),
    ).toEqual({
      message: 'User administrator already exists.',
      id: 'UserExists,Microsoft.PowerShell.Commands.NewLocalUserCommand',
      category: 'ResourceExists',
    });
  });

  it('New-LocalUser: Server password policy, plain string refused, Password required', async () => {
    const m = server();
    expect(
      (await cmdletError(m, 'New-LocalUser', { Name: 'u1', Password: secure('short') })).id,
    ).toBe('InvalidPassword,Microsoft.PowerShell.Commands.NewLocalUserCommand');
    expect(
      (await cmdletError(m, 'New-LocalUser', { Name: 'u1', Password: 'Passw0rd!' })).message,
    ).toContain('to type "System.Security.SecureString"');
    expect((await cmdletError(m, 'New-LocalUser', { Name: 'u1' })).id).toBe(
      'MissingMandatoryParameter,Microsoft.PowerShell.Commands.NewLocalUserCommand',
    );
    // Client editions have no complexity requirement by default.
    await cmdlet(client(), 'New-LocalUser', { Name: 'u1', Password: secure('short') });
  });

  it('Get-LocalUser: all, by name, wildcard, unknown → UserNotFound', async () => {
    const m = server();
    expect((await cmdlet(m, 'Get-LocalUser')).out.map((u) => prop(u, 'Name'))).toEqual([
      'Administrator',
      'DefaultAccount',
      'Guest',
      'WDAGUtilityAccount',
    ]);
    expect(
      (await cmdlet(m, 'Get-LocalUser', { Name: ['guest'] })).out.map((u) => prop(u, 'Enabled')),
    ).toEqual([false]);
    expect((await cmdlet(m, 'Get-LocalUser', { Name: ['nobody*'] })).out).toEqual([]);
    expect(await cmdletError(m, 'Get-LocalUser', { Name: ['nobody'] })).toMatchObject({
      message: 'User nobody was not found.',
      id: 'UserNotFound,Microsoft.PowerShell.Commands.GetLocalUserCommand',
    });
  });

  it('Set-LocalUser, Disable/Enable-LocalUser, Remove-LocalUser', async () => {
    const m = server();
    await cmdlet(m, 'New-LocalUser', { Name: 'u1', NoPassword: true });
    await cmdlet(m, 'Set-LocalUser', {
      Name: ['u1'],
      Password: secure('N3w!pass'),
      Description: 'd',
    });
    expect(m.findUser('u1')).toMatchObject({ password: 'N3w!pass', description: 'd' });
    await cmdlet(m, 'Disable-LocalUser', { Name: ['u1'] });
    expect(m.findUser('u1')?.enabled).toBe(false);
    await cmdlet(m, 'Enable-LocalUser', {}, ['u1']);
    expect(m.findUser('u1')?.enabled).toBe(true);
    await cmdlet(m, 'Remove-LocalUser', { Name: ['u1'] });
    expect(m.findUser('u1')).toBeUndefined();
    expect((await cmdletError(m, 'Remove-LocalUser', { Name: ['u1'] })).id).toBe(
      'UserNotFound,Microsoft.PowerShell.Commands.RemoveLocalUserCommand',
    );
  });

  it('group members: add, already a member, list, remove, not a member', async () => {
    const m = server();
    await cmdlet(m, 'New-LocalUser', { Name: 'u1', NoPassword: true });
    await cmdlet(m, 'Add-LocalGroupMember', { Group: 'Remote Desktop Users', Member: ['u1'] });
    expect(
      await cmdletError(m, 'Add-LocalGroupMember', {
        Group: 'Remote Desktop Users',
        Member: ['u1'],
      }),
    ).toMatchObject({
      message: 'u1 is already a member of group Remote Desktop Users.',
      id: 'MemberExists,Microsoft.PowerShell.Commands.AddLocalGroupMemberCommand',
    });
    const { out } = await cmdlet(m, 'Get-LocalGroupMember', { Group: 'Remote Desktop Users' });
    expect(out.map((o) => prop(o, 'Name'))).toEqual(['WIN-REF\\u1']);
    expect(
      (await cmdlet(m, 'Get-LocalGroupMember', { Group: 'Users' })).out.map((o) => prop(o, 'Name')),
    ).toContain('NT AUTHORITY\\INTERACTIVE');
    await cmdlet(m, 'Remove-LocalGroupMember', { Group: 'Remote Desktop Users', Member: ['u1'] });
    expect(
      (
        await cmdletError(m, 'Remove-LocalGroupMember', {
          Group: 'Remote Desktop Users',
          Member: ['u1'],
        })
      ).id,
    ).toBe('MemberNotFound,Microsoft.PowerShell.Commands.RemoveLocalGroupMemberCommand');
    expect(await cmdletError(m, 'Get-LocalGroupMember', { Group: 'Nope' })).toMatchObject({
      message: 'Group Nope was not found.',
      id: 'GroupNotFound,Microsoft.PowerShell.Commands.GetLocalGroupMemberCommand',
    });
    expect(
      (await cmdletError(m, 'Add-LocalGroupMember', { Group: 'Users', Member: ['ghost'] })).message,
    ).toBe('Principal ghost was not found.');
  });
});

describe('CIM (Win32_UserProfile, Win32_OperatingSystem)', () => {
  it('Win32_OperatingSystem', async () => {
    const m = server();
    const os = (await cmdlet(m, 'Get-CimInstance', { ClassName: 'Win32_OperatingSystem' })).out[0];
    expect(prop(os, 'Caption')).toBe('Microsoft Windows Server 2022 Datacenter');
    expect(prop(os, 'Version')).toBe('10.0.20348');
    expect(prop(os, 'CSName')).toBe('WIN-REF');
    const boot = prop(os, 'LastBootUpTime') as DateTimeValue;
    expect(boot).toBeInstanceOf(DateTimeValue);
    expect(boot.psJson()).toBe('"\\/Date(1714557600000)\\/"');
    expect(boot.psToString()).toBe('05/01/2024 10:00:00');
  });

  it('Win32_UserProfile with a filter; a loaded profile cannot be removed; an unloaded one can', async () => {
    const m = server();
    await cmdlet(m, 'New-LocalUser', { Name: 'u1', NoPassword: true });
    const session = m.logon('u1');
    const sid = m.userSid(m.findUser('u1') as NonNullable<ReturnType<typeof m.findUser>>);
    const { out } = await cmdlet(m, 'Get-CimInstance', {
      ClassName: 'Win32_UserProfile',
      Filter: `SID = '${sid}'`,
    });
    expect(out.map((p) => prop(p, 'LocalPath'))).toEqual(['C:\\Users\\u1']);
    expect(
      (
        await cmdlet(m, 'Get-CimInstance', {
          ClassName: 'Win32_UserProfile',
          Filter: 'Special = FALSE AND Loaded = TRUE',
        })
      ).out,
    ).toHaveLength(1);
    expect(await cmdletError(m, 'Remove-CimInstance', {}, out)).toMatchObject({
      id: 'HRESULT 0x80070020,Microsoft.Management.Infrastructure.CimCmdlets.RemoveCimInstanceCommand',
    });
    expect(m.fs.isDirectory('C:\\Users\\u1')).toBe(true);
    m.logoff(session.id);
    await cmdlet(m, 'Remove-CimInstance', {}, out);
    expect(m.fs.exists('C:\\Users\\u1')).toBe(false);
    expect(m.profiles.some((p) => p.sid === sid)).toBe(false);
  });

  it('an unknown class and unmodelled WQL are errors', async () => {
    const m = server();
    expect((await cmdletError(m, 'Get-CimInstance', { ClassName: 'Win32_Nope' })).id).toBe(
      'HRESULT 0x80041010,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand',
    );
    expect(
      (
        await cmdletError(m, 'Get-CimInstance', {
          ClassName: 'Win32_UserProfile',
          Filter: "LocalPath LIKE '%u1'",
        })
      ).id,
    ).toBe('NotModelledByWindowsPeer');
  });
});

describe('sessions (quser, logoff)', () => {
  it('quser with no session: exit 1, No User exists for *', async () => {
    expect(await native(server(), 'quser.exe')).toEqual({
      stdout: '',
      stderr: 'No User exists for *\r\n',
      exitCode: 1,
    });
  });

  it('quser lists sessions in its columns; logoff ends one', async () => {
    const m = server();
    const s1 = m.logon('Administrator');
    await cmdlet(m, 'New-LocalUser', { Name: 'bob', NoPassword: true });
    const s2 = m.logon('bob', 'rdp-tcp#0');
    m.disconnect(s2.id);
    const r = await native(m, 'quser');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      `${QUSER_HEADER}\r\n` +
        ' administrator         console             1  Active      none   5/1/2024 10:00 AM\r\n' +
        ' bob                                       2  Disc        none   5/1/2024 10:00 AM\r\n',
    );
    expect((await native(m, 'logoff.exe', String(s1.id))).exitCode).toBe(0);
    expect(m.sessions.map((s) => s.userName)).toEqual(['bob']);
    expect((await native(m, 'logoff.exe', '99')).exitCode).toBe(1);
  });
});

describe('firewall (NetSecurity)', () => {
  it('Get/Enable by DisplayGroup; port and address filters', async () => {
    const m = server();
    const rd = await cmdlet(m, 'Get-NetFirewallRule', { DisplayGroup: ['Remote Desktop'] });
    expect(rd.out.map((r) => prop(r, 'Enabled'))).toEqual(['False', 'False', 'False']);
    await cmdlet(m, 'Enable-NetFirewallRule', { DisplayGroup: ['Remote Desktop'] });
    expect(
      m.firewallRules.filter((r) => r.displayGroup === 'Remote Desktop').every((r) => r.enabled),
    ).toBe(true);
    const tcp = (
      await cmdlet(m, 'Get-NetFirewallRule', { Name: ['RemoteDesktop-UserMode-In-TCP'] })
    ).out;
    expect(prop((await cmdlet(m, 'Get-NetFirewallPortFilter', {}, tcp)).out[0], 'LocalPort')).toBe(
      '3389',
    );
    await cmdlet(m, 'Set-NetFirewallRule', {
      Name: ['RemoteDesktop-UserMode-In-TCP'],
      RemoteAddress: ['10.0.0.0/8', '192.168.1.5'],
    });
    expect(
      prop((await cmdlet(m, 'Get-NetFirewallAddressFilter', {}, tcp)).out[0], 'RemoteAddress'),
    ).toEqual(['10.0.0.0/8', '192.168.1.5']);
  });

  it('unknown rule: the cmdletization not-found text', async () => {
    expect(await cmdletError(server(), 'Get-NetFirewallRule', { Name: ['nope'] })).toMatchObject({
      message:
        "No MSFT_NetFirewallRule objects found with property 'Name' equal to 'nope'.  Verify the value of the property and retry.",
      id: 'CmdletizationQuery_NotFound_Name,Get-NetFirewallRule',
      category: 'ObjectNotFound',
    });
    expect((await cmdlet(server(), 'Get-NetFirewallRule', { Name: ['nope*'] })).out).toEqual([]);
  });

  it('New-NetFirewallRule; a duplicate Name is Windows System Error 183; Remove by Group', async () => {
    const m = server();
    const spec = {
      Name: 'vlab-ssh',
      DisplayName: 'vlab ssh',
      Group: 'vlab',
      Direction: 'Inbound',
      Action: 'Allow',
      Protocol: 'TCP',
      LocalPort: ['2222'],
      RemoteAddress: ['10.1.2.3'],
    };
    const { out } = await cmdlet(m, 'New-NetFirewallRule', spec);
    expect(prop(out[0], 'Enabled')).toBe('True');
    expect(m.firewallRules.at(-1)).toMatchObject({
      name: 'vlab-ssh',
      localPort: ['2222'],
      remoteAddress: ['10.1.2.3'],
      protocol: 'TCP',
    });
    expect(await cmdletError(m, 'New-NetFirewallRule', spec)).toMatchObject({
      message: 'Cannot create a file when that file already exists.',
      id: 'Windows System Error 183,New-NetFirewallRule',
    });
    await cmdlet(m, 'Remove-NetFirewallRule', { Group: ['vlab'] });
    expect(m.firewallRules.some((r) => r.name === 'vlab-ssh')).toBe(false);
  });
});

describe('registry and files', () => {
  it('Get-ItemProperty / Set-ItemProperty on fDenyTSConnections', async () => {
    const m = server();
    const ts = 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server';
    expect(
      prop(
        (await cmdlet(m, 'Get-ItemProperty', { Path: [ts], Name: ['fDenyTSConnections'] })).out[0],
        'fDenyTSConnections',
      ),
    ).toBe(1);
    await cmdlet(m, 'Set-ItemProperty', { Path: [ts], Name: 'fDenyTSConnections', Value: 0 });
    expect(m.registry.getValue(REG.terminalServer, 'fDenyTSConnections')).toMatchObject({
      kind: 'DWord',
      data: 0,
    });
    expect(await cmdletError(m, 'Get-ItemProperty', { Path: [ts], Name: ['nope'] })).toMatchObject({
      message:
        'Property nope does not exist at path HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server.',
      id: 'System.Management.Automation.PSArgumentException,Microsoft.PowerShell.Commands.GetItemPropertyCommand',
    });
    expect(
      await cmdletError(m, 'Get-ItemProperty', { Path: ['HKLM:\\SOFTWARE\\Nope'] }),
    ).toMatchObject({
      message: "Cannot find path 'HKLM:\\SOFTWARE\\Nope' because it does not exist.",
      id: 'PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand',
    });
    expect(
      (
        await cmdlet(m, 'Get-ItemPropertyValue', {
          Path: ['HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State'],
          Name: ['ImageState'],
        })
      ).out,
    ).toEqual([IMAGE_STATE.complete]);
  });

  it('New-Item key, New-ItemProperty, "The property already exists."', async () => {
    const m = server();
    await cmdlet(m, 'New-Item', { Path: ['HKLM:\\SOFTWARE\\vlab'], Force: true });
    await cmdlet(m, 'New-ItemProperty', {
      Path: ['HKLM:\\SOFTWARE\\vlab'],
      Name: 'Count',
      Value: 3,
      PropertyType: 'DWord',
    });
    expect(m.registry.getValue('HKLM:\\SOFTWARE\\vlab', 'count')).toMatchObject({
      kind: 'DWord',
      data: 3,
    });
    expect(
      (
        await cmdletError(m, 'New-ItemProperty', {
          Path: ['HKLM:\\SOFTWARE\\vlab'],
          Name: 'Count',
          Value: 4,
        })
      ).message,
    ).toBe('The property already exists.');
    expect((await cmdletError(m, 'New-Item', { Path: ['HKLM:\\SOFTWARE\\vlab'] })).message).toBe(
      'A key at this path already exists.',
    );
  });

  it('files: New-Item, Set-Content encodings, Get-Content, Test-Path, Copy-Item, Remove-Item wildcard', async () => {
    const m = server();
    await cmdlet(m, 'New-Item', { Path: ['C:\\vlab'], ItemType: 'Directory' });
    expect(
      (await cmdletError(m, 'New-Item', { Path: ['C:\\vlab'], ItemType: 'Directory' })).id,
    ).toBe('DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand');
    await cmdlet(m, 'New-Item', { Path: ['C:\\vlab'], ItemType: 'Directory', Force: true });
    await cmdlet(m, 'Set-Content', { Path: ['C:\\vlab\\a.txt'], Value: ['one', 'two'] });
    expect(m.fs.readFile('C:\\vlab\\a.txt')?.toString('latin1')).toBe('one\r\ntwo\r\n');
    await cmdlet(m, 'Set-Content', { Path: ['C:\\vlab\\b.txt'], Value: ['é'], Encoding: 'UTF8' });
    expect([...(m.fs.readFile('C:\\vlab\\b.txt') ?? [])]).toEqual([
      0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0x0d, 0x0a,
    ]);
    expect((await cmdlet(m, 'Get-Content', { Path: ['C:\\vlab\\a.txt'] })).out).toEqual([
      'one',
      'two',
    ]);
    expect((await cmdlet(m, 'Get-Content', { Path: ['C:\\VLAB\\A.TXT'], Raw: true })).out).toEqual([
      'one\r\ntwo\r\n',
    ]);
    expect((await cmdlet(m, 'Get-Content', { Path: ['C:\\vlab\\b.txt'] })).out).toEqual(['é']);
    expect(await cmdletError(m, 'Get-Content', { Path: ['C:\\vlab\\none.txt'] })).toMatchObject({
      message: "Cannot find path 'C:\\vlab\\none.txt' because it does not exist.",
      id: 'PathNotFound,Microsoft.PowerShell.Commands.GetContentCommand',
    });
    expect(
      (await cmdletError(m, 'Set-Content', { Path: ['C:\\nodir\\x.txt'], Value: ['x'] })).message,
    ).toBe("Could not find a part of the path 'C:\\nodir\\x.txt'.");
    expect(
      (
        await cmdlet(m, 'Test-Path', {
          Path: ['C:\\vlab\\*.txt', 'C:\\vlab\\a.txt', 'C:\\nope', 'HKLM:\\SOFTWARE'],
        })
      ).out,
    ).toEqual([true, true, false, true]);
    expect((await cmdlet(m, 'Test-Path', { Path: ['C:\\vlab'], PathType: 'Leaf' })).out).toEqual([
      false,
    ]);
    await cmdlet(m, 'Copy-Item', { Path: ['C:\\vlab\\a.txt'], Destination: 'C:\\Windows\\Temp' });
    expect(m.fs.readText('C:\\Windows\\Temp\\a.txt')).toBe('one\r\ntwo\r\n');
    const names = (
      await cmdlet(m, 'Get-ChildItem', { Path: ['C:\\vlab'], Filter: '*.txt' })
    ).out.map((o) => prop(o, 'Name'));
    expect(names).toEqual(['a.txt', 'b.txt']);
    await cmdlet(m, 'Remove-Item', { Path: ['C:\\vlab\\*.txt'] });
    expect(m.fs.children('C:\\vlab')).toEqual([]);
    expect((await cmdletError(m, 'Remove-Item', { Path: ['C:\\vlab\\gone'] })).id).toBe(
      'PathNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand',
    );
  });

  it('Remove-Item of host keys by wildcard, then ssh-keygen -A regenerates them', async () => {
    const m = server();
    const before = m.fs.readText(`${SSH_DIR}\\ssh_host_ed25519_key.pub`);
    await cmdlet(m, 'Remove-Item', { Path: [`${SSH_DIR}\\ssh_host_*`], Force: true });
    expect(m.fs.children(SSH_DIR).map((e) => e.path)).toEqual([`${SSH_DIR}\\sshd_config`]);
    const r = await native(m, 'ssh-keygen.exe', '-A');
    expect(r).toEqual({
      stdout: 'ssh-keygen: generating new host keys: RSA ECDSA ED25519 \n',
      stderr: '',
      exitCode: 0,
    });
    expect(m.fs.readText(`${SSH_DIR}\\ssh_host_ed25519_key.pub`)).not.toBe(before);
    expect((await native(m, 'ssh-keygen', '-A')).stdout).toBe('');
  });
});

describe('system', () => {
  it('Rename-Computer warns, takes effect at the next boot; same name fails', async () => {
    const m = server();
    const r = await cmdlet(m, 'Rename-Computer', { NewName: 'LAB-01', Force: true });
    expect(r.stdout).toBe(
      'WARNING: The changes will take effect after you restart the computer WIN-REF.\r\n',
    );
    expect(m.computerName).toBe('WIN-REF');
    await cmdlet(m, 'Restart-Computer', { Force: true });
    expect(m.power).toBe('on');
    m.flushPendingPower();
    expect(m.computerName).toBe('LAB-01');
    expect(await cmdletError(m, 'Rename-Computer', { NewName: 'lab-01' })).toMatchObject({
      message:
        "Skip computer 'LAB-01' with new name 'lab-01' because the new name is the same as the current name.",
      id: 'NewNameIsOldName,Microsoft.PowerShell.Commands.RenameComputerCommand',
    });
  });

  it('Stop-Computer schedules a shutdown after the exec', async () => {
    const m = server();
    await cmdlet(m, 'Stop-Computer', { Force: true });
    expect(m.pendingPower).toMatchObject({ action: 'shutdown', by: 'Stop-Computer' });
    m.flushPendingPower();
    expect(m.power).toBe('off');
  });

  it('shutdown.exe: /r /t 0 /f, already scheduled (1190), /a, nothing to abort (1116), bad switch (87)', async () => {
    const m = server();
    expect(await native(m, 'shutdown.exe', '/r', '/t', '0', '/f')).toEqual({
      stdout: '',
      stderr: '',
      exitCode: 0,
    });
    expect(await native(m, 'shutdown', '/s', '/t', '0')).toEqual({
      stdout: '',
      stderr: 'A system shutdown has already been scheduled.(1190)\r\n',
      exitCode: 1190,
    });
    expect((await native(m, 'shutdown', '/a')).exitCode).toBe(0);
    expect(await native(m, 'shutdown', '/a')).toEqual({
      stdout: '',
      stderr: 'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n',
      exitCode: 1116,
    });
    expect((await native(m, 'shutdown', '/x')).exitCode).toBe(87);
    expect(await native(m, 'shutdown', '/s', '/t', '5')).toMatchObject({ exitCode: 0 });
    expect(m.pendingPower).toMatchObject({ action: 'shutdown', delaySeconds: 5 });
  });

  it('services: Get-Service, unknown name, Restart-Service, Set-Service', async () => {
    const m = server();
    expect(prop((await cmdlet(m, 'Get-Service', { Name: ['sshd'] })).out[0], 'Status')).toBe(
      'Running',
    );
    expect(await cmdletError(m, 'Get-Service', { Name: ['nope'] })).toMatchObject({
      message: "Cannot find any service with service name 'nope'.",
      id: 'NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand',
    });
    const events: string[] = [];
    m.events.on('service', (n: string, what: string) => events.push(`${n}:${what}`));
    await cmdlet(m, 'Restart-Service', { Name: ['sshd'] });
    expect(events).toEqual(['sshd:start', 'sshd:restart']);
    await cmdlet(m, 'Set-Service', { Name: 'ssh-agent', StartupType: 'Automatic' });
    expect(m.findService('ssh-agent')?.startType).toBe('Automatic');
    await cmdlet(m, 'Set-Service', { Name: 'TermService', StartupType: 'Disabled' });
    expect(await cmdletError(m, 'Restart-Service', { Name: ['TermService'] })).toMatchObject({
      message:
        "Service 'Remote Desktop Services (TermService)' cannot be started due to the following error: Cannot start service TermService on computer '.'.",
      id: 'StartServiceFailed,Microsoft.PowerShell.Commands.RestartServiceCommand',
    });
  });

  it('wevtutil el / cl / unknown log; Clear-EventLog', async () => {
    const m = server();
    const el = await native(m, 'wevtutil.exe', 'el');
    expect(el.stdout.split('\r\n')).toContain('Windows PowerShell');
    expect(await native(m, 'wevtutil.exe', 'cl', 'Application')).toEqual({
      stdout: '',
      stderr: '',
      exitCode: 0,
    });
    expect(m.findEventLog('Application')?.records).toBe(0);
    await native(m, 'wevtutil', 'cl', 'Security');
    expect(m.findEventLog('Security')?.records).toBe(1);
    expect((await native(m, 'wevtutil', 'cl', 'Nope')).exitCode).toBe(15007);
    await cmdlet(m, 'Clear-EventLog', { LogName: ['Windows PowerShell'] });
    expect(m.findEventLog('Windows PowerShell')?.records).toBe(0);
    expect(
      (await cmdletError(m, 'Clear-EventLog', { LogName: ['OpenSSH/Operational'] })).message,
    ).toBe('The Log name "OpenSSH/Operational" does not exist in the computer "localhost".');
  });

  it('sysprep.exe: only by its full path; schedules the shutdown; fault exit code', async () => {
    const m = server();
    expect(table.native('sysprep.exe')).toBeUndefined();
    const r = await native(
      m,
      'C:\\Windows\\System32\\Sysprep\\sysprep.exe',
      '/generalize',
      '/oobe',
      '/shutdown',
      '/quiet',
    );
    expect(r.exitCode).toBe(0);
    expect(m.imageState).toBe(IMAGE_STATE.generalizeResealToOobe);
    expect(m.pendingPower).toMatchObject({ action: 'shutdown', by: 'sysprep.exe' });
    const f = server();
    f.faults.sysprep = 'appx-user-package';
    expect(
      (
        await native(
          f,
          'c:\\windows\\system32\\sysprep\\SYSPREP.EXE',
          '/generalize',
          '/oobe',
          '/shutdown',
          '/quiet',
        )
      ).exitCode,
    ).toBe(1);
  });
});
