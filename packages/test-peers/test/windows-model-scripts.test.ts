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
  it('Get-ChildItem | Remove-Item removes the items (bound by PSPath); other input is refused', async () => {
    const m = make();
    const setup = await run(
      m,
      `New-Item -ItemType Directory -Path C:\\Windows\\Temp\\d -Force | Out-Null; Set-Content -Path C:\\Windows\\Temp\\a.txt -Value x; Set-Content -Path C:\\Windows\\Temp\\d\\b.txt -Value y`,
    );
    expect(setup.exitCode).toBe(0);
    const removed = await run(
      m,
      `Get-ChildItem -Path C:\\Windows\\Temp -Force | Remove-Item -Recurse -Force`,
    );
    expect(removed.stderr).toBe('');
    expect(m.fs.children('C:\\Windows\\Temp')).toEqual([]);
    const refused = await run(m, `5 | Remove-Item`);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('The input object cannot be bound to any parameters');
  });

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

describe('icacls', () => {
  it('removes inheritance and grants full control to SIDs; a missing file is exit 2; other forms are not modelled', async () => {
    const m = make();
    const key = 'C:\\ProgramData\\ssh\\administrators_authorized_keys';
    expect(
      (await run(m, `Set-Content -Path '${key}' -Value 'ssh-ed25519 AAAA lab'`)).exitCode,
    ).toBe(0);
    const done = await run(
      m,
      `& icacls.exe '${key}' /inheritance:r /grant '*S-1-5-32-544:F' '*S-1-5-18:F'; exit $LASTEXITCODE`,
    );
    expect(done).toMatchObject({ exitCode: 0, stderr: '' });
    expect(done.stdout).toContain('Successfully processed 1 files; Failed processing 0 files');
    expect(m.fileAcls.get(key.toLowerCase())).toEqual(['S-1-5-32-544', 'S-1-5-18']);
    const missing = await run(
      m,
      `& icacls.exe 'C:\\nope' /inheritance:r /grant '*S-1-5-18:F'; exit $LASTEXITCODE`,
    );
    expect(missing.exitCode).toBe(2);
    const other = await run(m, `& icacls.exe '${key}' /reset`);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('does not model icacls');
  });
});
