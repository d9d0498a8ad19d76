// The modelled commands driven by the peer's interpreter (runPowerShell, no SSH): scripts as an OS
// module writes them, against one WindowsMachine.
import { describe, expect, it } from 'vitest';
import { machineCommands } from '../src/windows/commands/model-commands.js';
import { runPowerShell } from '../src/windows/interpreter/exec.js';
import { IMAGE_STATE } from '../src/windows/model/sysprep.js';
import { WindowsMachine } from '../src/windows/model/windows-machine.js';

const make = () =>
  new WindowsMachine({
    computerName: 'WIN-REF',
    hostKeys: 'shared',
    now: () => new Date('2024-05-01T10:00:00Z'),
  });
const run = (machine: WindowsMachine, script: string) =>
  runPowerShell(script, { machine, commands: [...machineCommands] });

describe('modelled commands through the interpreter', () => {
  it('SecureString never prints its text; New-LocalUser stores the password', async () => {
    const m = make();
    const r = await run(
      m,
      `$p = ConvertTo-SecureString 'Passw0rd!x' -AsPlainText -Force; New-LocalUser -Name bob -Password $p | Out-Null; 'done'`,
    );
    expect(r).toMatchObject({ stdout: 'done\r\n', stderr: '', exitCode: 0 });
    expect(m.findUser('bob')?.password).toBe('Passw0rd!x');
  });

  it('New-LocalUser on an existing name is an error with its FullyQualifiedErrorId', async () => {
    const r = await run(make(), `New-LocalUser -Name Administrator -NoPassword`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('User Administrator already exists.');
    expect(r.stderr).toContain('UserExists,Microsoft.PowerShell.Commands.NewLocalUserCommand');
  });

  it('Rename-Computer writes its warning; the name changes at the next boot', async () => {
    const m = make();
    const r = await run(m, `Rename-Computer -NewName LAB-1 -Force; 'after'`);
    expect(r.stdout).toBe(
      'WARNING: The changes will take effect after you restart the computer WIN-REF.\r\nafter\r\n',
    );
    m.reboot();
    expect(m.computerName).toBe('LAB-1');
  });

  it('quser with nobody logged on sets $LASTEXITCODE 1', async () => {
    const r = await run(make(), `& quser.exe; $LASTEXITCODE`);
    expect(r).toMatchObject({ stdout: '1\r\n', stderr: 'No User exists for *\r\n' });
  });

  it('enables Remote Desktop: registry and firewall group', async () => {
    const m = make();
    const r = await run(
      m,
      [
        `Set-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' -Name fDenyTSConnections -Value 0`,
        `Enable-NetFirewallRule -DisplayGroup 'Remote Desktop'`,
        `(Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server').fDenyTSConnections`,
        `(Get-NetFirewallRule -Name RemoteDesktop-UserMode-In-TCP).Enabled`,
      ].join('\n'),
    );
    expect(r).toMatchObject({ stdout: '0\r\nTrue\r\n', exitCode: 0 });
  });

  it('sysprep by full path: exit code 0, generalized, shutdown after the exec', async () => {
    const m = make();
    const r = await run(
      m,
      `& "C:\\Windows\\System32\\Sysprep\\sysprep.exe" /generalize /oobe /shutdown /quiet; $LASTEXITCODE`,
    );
    expect(r.stdout).toBe('0\r\n');
    expect(m.imageState).toBe(IMAGE_STATE.generalizeResealToOobe);
    expect(m.power).toBe('on');
    m.flushPendingPower();
    expect(m.power).toBe('off');
  });
});
