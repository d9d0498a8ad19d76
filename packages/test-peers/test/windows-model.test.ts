// The modelled Windows machine on its own: built-in state, power/boot, rename, sysprep state machine.
// Sources are cited in src/windows/model/*.ts; each expectation below names the behaviour it checks.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeWindowsPath } from '../src/windows/model/file-system.js';
import { IMAGE_STATE, parseSysprepArgs, parseUnattend } from '../src/windows/model/sysprep.js';
import {
  type PowerEvent,
  REG,
  SSH_DIR,
  SYSPREP_PANTHER,
  WindowsMachine,
} from '../src/windows/model/windows-machine.js';

const T0 = new Date('2024-05-01T10:00:00Z');
const machine = (opts: ConstructorParameters<typeof WindowsMachine>[0] = {}) =>
  new WindowsMachine({
    computerName: 'WIN-REF',
    administratorPassword: 'Adm1n!pass',
    now: () => T0,
    hostKeys: 'shared',
    ...opts,
  });

function powerEvents(m: WindowsMachine): PowerEvent[] {
  const seen: PowerEvent[] = [];
  m.events.on('power', (e: PowerEvent) => seen.push(e));
  return seen;
}

const UNATTEND = `<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State">
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <ComputerName>LAB-CLONE-01</ComputerName>
    </component>
  </settings>
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <UserAccounts>
        <AdministratorPassword><Value>${Buffer.from('N3w&AdminAdministratorPassword', 'utf16le').toString('base64')}</Value><PlainText>false</PlainText></AdministratorPassword>
        <LocalAccounts>
          <LocalAccount wcm:action="add">
            <Password><Value>Lab&amp;pass1</Value><PlainText>true</PlainText></Password>
            <Name>labuser</Name>
            <Group>Administrators</Group>
            <DisplayName>Lab User</DisplayName>
          </LocalAccount>
        </LocalAccounts>
      </UserAccounts>
    </component>
  </settings>
</unattend>`;

describe('WindowsMachine built-in state', () => {
  it('has the well-known accounts, groups and SIDs', () => {
    const m = machine();
    const sid = (n: string) =>
      m.userSid(m.findUser(n) as NonNullable<ReturnType<typeof m.findUser>>);
    expect(m.machineSid).toMatch(/^S-1-5-21-\d+-\d+-\d+$/);
    expect(sid('Administrator')).toBe(`${m.machineSid}-500`);
    expect(sid('Guest')).toBe(`${m.machineSid}-501`);
    expect(sid('DefaultAccount')).toBe(`${m.machineSid}-503`);
    expect(sid('WDAGUtilityAccount')).toBe(`${m.machineSid}-504`);
    expect(m.findGroup('Administrators')?.sid).toBe('S-1-5-32-544');
    expect(m.findGroup('Users')?.sid).toBe('S-1-5-32-545');
    expect(m.findGroup('Remote Desktop Users')?.sid).toBe('S-1-5-32-555');
    expect(m.findGroup('administrators')?.members).toEqual([sid('Administrator')]);
    expect(m.findUser('WIN-REF\\administrator')?.name).toBe('Administrator');
  });

  it('has the registry values the module reads', () => {
    const m = machine();
    expect(m.registry.getValue(REG.terminalServer, 'fDenyTSConnections')).toMatchObject({
      kind: 'DWord',
      data: 1,
    });
    expect(
      m.registry.getValue(
        'hklm:\\software\\microsoft\\windows\\currentversion\\setup\\state',
        'imagestate',
      )?.data,
    ).toBe(IMAGE_STATE.complete);
    expect(m.registry.getValue(REG.sysprepStatus, 'GeneralizationState')?.data).toBe(7);
    expect(m.registry.getValue(REG.activeComputerName, 'ComputerName')?.data).toBe('WIN-REF');
    expect(m.computerName).toBe('WIN-REF');
  });

  it('has OpenSSH host keys (fresh per machine by default), profile, Panther and firewall rules', () => {
    const m = machine({ hostKeys: 'fresh' });
    expect(m.fs.readText(`${SSH_DIR}\\ssh_host_ed25519_key.pub`)).not.toBe(
      machine({ hostKeys: 'fresh' }).fs.readText(`${SSH_DIR}\\ssh_host_ed25519_key.pub`),
    );
    for (const t of ['rsa', 'ecdsa', 'ed25519']) {
      expect(m.fs.isFile(`${SSH_DIR}\\ssh_host_${t}_key`)).toBe(true);
      expect(m.fs.readText(`${SSH_DIR}\\ssh_host_${t}_key.pub`)).toMatch(
        /^(ssh-rsa|ecdsa-sha2-nistp256|ssh-ed25519) AAAA/,
      );
    }
    // The real ssh-keygen (OpenSSH is installed for this package's sshd tests) reads each private
    // key file and derives exactly the .pub line's key from it.
    const dir = mkdtempSync(join(tmpdir(), 'vlab-winkeys-'));
    try {
      for (const k of m.hostKeys()) {
        const file = join(dir, k.type);
        writeFileSync(file, k.privateKey, { mode: 0o600 });
        const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
        expect(derived.split(' ').slice(0, 2)).toEqual(k.publicKey?.split(' ').slice(0, 2));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(m.hostKeys().map((k) => k.type)).toEqual(['rsa', 'ecdsa', 'ed25519']);
    expect(m.fs.isDirectory('c:\\users\\ADMINISTRATOR')).toBe(true);
    expect(m.fs.isDirectory(SYSPREP_PANTHER)).toBe(true);
    expect(m.fs.isDirectory('C:\\Windows\\Panther')).toBe(true);
    expect(
      m.firewallRules.filter((r) => r.displayGroup === 'Remote Desktop').map((r) => r.enabled),
    ).toEqual([false, false, false]);
    expect(m.firewallRules.find((r) => r.name === 'OpenSSH-Server-In-TCP')).toMatchObject({
      enabled: true,
      localPort: ['22'],
      protocol: 'TCP',
    });
    expect(m.findService('sshd')?.status).toBe('Running');
  });

  it('knows the version captions and refuses an unknown version', () => {
    expect(machine({ version: 'Windows 11 Pro 23H2' })).toMatchObject({
      caption: 'Microsoft Windows 11 Pro',
      osVersion: '10.0.22631',
      isServer: false,
    });
    expect(machine({ version: 'Windows Server 2022' }).caption).toBe(
      'Microsoft Windows Server 2022 Datacenter',
    );
    expect(() => machine({ version: 'Windows 95' })).toThrow(/unknown Windows version/);
  });

  it('gives the standard environment of a user', () => {
    const env = machine().environmentFor('administrator');
    expect(env.get('ProgramData')).toBe('C:\\ProgramData');
    expect(env.get('USERPROFILE')).toBe('C:\\Users\\Administrator');
    expect(env.get('COMPUTERNAME')).toBe('WIN-REF');
    expect(env.get('windir')).toBe('C:\\Windows');
  });

  it('seeds initial files, case-insensitively', () => {
    const m = machine({ files: { 'C:/Temp/a.txt': 'hello' } });
    expect(m.fs.readText('c:\\temp\\A.TXT')).toBe('hello');
    expect(m.fs.get('C:\\TEMP\\a.txt')?.path).toBe('C:\\Temp\\a.txt');
    expect(normalizeWindowsPath('c:/x//y/../z\\')).toBe('C:\\x\\z');
  });
});

describe('power and boot', () => {
  it('a scheduled shutdown happens only when the exec ends (flushPendingPower)', async () => {
    const m = machine();
    const seen = powerEvents(m);
    m.schedulePower('shutdown', 'Stop-Computer');
    expect(m.power).toBe('on');
    expect(seen).toEqual([]);
    const off = m.whenPowerIs('off');
    m.flushPendingPower();
    await off;
    expect(m.power).toBe('off');
    expect(seen).toEqual(['off']);
    const boot = m.bootId;
    m.powerOn();
    expect(seen).toEqual(['off', 'on']);
    expect(m.bootId).not.toBe(boot);
  });

  it('a reboot goes off then on with a new boot id and LastBootUpTime', async () => {
    let now = T0;
    const m = machine({ now: () => now });
    const seen = powerEvents(m);
    const boot = m.bootId;
    now = new Date('2024-05-01T11:00:00Z');
    m.schedulePower('reboot', 'Restart-Computer');
    const wentOff = m.whenPowerIs('off');
    m.flushPendingPower();
    await wentOff;
    expect(seen).toEqual(['reboot', 'on']);
    expect(m.power).toBe('on');
    expect(m.bootId).not.toBe(boot);
    expect(m.bootCount).toBe(2);
    expect(m.lastBootUpTime).toEqual(now);
  });

  it('fault: a requested shutdown that never happens', () => {
    const m = machine();
    m.faults.powerNeverHappens = true;
    m.schedulePower('shutdown', 'shutdown.exe');
    m.flushPendingPower();
    expect(m.power).toBe('on');
  });

  it('a rename is pending until the next boot', () => {
    const m = machine();
    m.requestRename('LAB-01');
    expect(m.computerName).toBe('WIN-REF');
    expect(m.pendingComputerName).toBe('LAB-01');
    expect(m.registry.getValue(REG.computerName, 'ComputerName')?.data).toBe('LAB-01');
    expect(m.registry.getValue(REG.activeComputerName, 'ComputerName')?.data).toBe('WIN-REF');
    m.reboot();
    expect(m.computerName).toBe('LAB-01');
    expect(m.pendingComputerName).toBeNull();
    expect(m.registry.getValue(REG.tcpipParameters, 'Hostname')?.data).toBe('LAB-01');
  });

  it('an SSH (network) logon loads the profile without a quser session', () => {
    const m = machine();
    const release = m.networkLogon('administrator');
    const profile = m.profiles.find((p) => p.localPath === 'C:\\Users\\Administrator');
    expect(profile?.loaded).toBe(true);
    expect(m.sessions).toEqual([]);
    release();
    expect(profile?.loaded).toBe(false);
  });

  it('LastBootUpTime moves on at each boot, even with a pinned clock', () => {
    const m = machine();
    const first = m.lastBootUpTime.getTime();
    m.reboot();
    expect(m.lastBootUpTime.getTime()).toBeGreaterThan(first);
  });

  it('a boot ends sessions and unloads their profiles', () => {
    const m = machine();
    m.logon('Administrator');
    expect(m.profiles.find((p) => p.localPath === 'C:\\Users\\Administrator')?.loaded).toBe(true);
    m.reboot();
    expect(m.sessions).toEqual([]);
    expect(m.profiles.find((p) => p.localPath === 'C:\\Users\\Administrator')?.loaded).toBe(false);
  });
});

describe('sysprep command line (Sysprep command-line options)', () => {
  it('accepts the documented switches, case-insensitively', () => {
    expect(
      parseSysprepArgs([
        '/generalize',
        '/OOBE',
        '/shutdown',
        '/quiet',
        '/mode:vm',
        '/unattend:C:\\u.xml',
      ]),
    ).toEqual({
      generalize: true,
      mode: 'oobe',
      end: 'shutdown',
      quiet: true,
      unattend: 'C:\\u.xml',
      vm: true,
    });
    expect(parseSysprepArgs(['/generalize', '/oobe', '/quiet'])).toMatchObject({ end: 'quit' });
  });

  it('refuses conflicting or unknown switches', () => {
    expect(parseSysprepArgs(['/generalize', '/oobe', '/shutdown', '/reboot'])).toHaveProperty(
      'error',
    );
    expect(parseSysprepArgs(['/oobe', '/audit'])).toHaveProperty('error');
    expect(parseSysprepArgs(['/oobe', '/mode:vm'])).toHaveProperty('error');
    expect(parseSysprepArgs(['/generalize', '/bogus'])).toHaveProperty('error');
  });

  it('reads the minimal unattend settings, including PlainText=false passwords', () => {
    expect(parseUnattend(UNATTEND)).toEqual({
      computerName: 'LAB-CLONE-01',
      administratorPassword: 'N3w&Admin',
      localAccounts: [
        {
          name: 'labuser',
          password: 'Lab&pass1',
          group: 'Administrators',
          displayName: 'Lab User',
        },
      ],
    });
  });
});

describe('sysprep state machine', () => {
  it('/generalize /oobe /shutdown: logs, GENERALIZE_RESEAL_TO_OOBE, off; next boot specializes', async () => {
    const m = machine();
    const seen = powerEvents(m);
    const oldSid = m.machineSid;
    const r = m.runSysprep(['/generalize', '/oobe', '/shutdown', '/quiet']);
    expect(r.exitCode).toBe(0);
    expect(m.imageState).toBe(IMAGE_STATE.generalizeResealToOobe);
    const act = m.fs.readText(`${SYSPREP_PANTHER}\\setupact.log`) ?? '';
    expect(act).toContain(
      '2024-05-01 10:00:00, Info                  SYSPRP Sysprep Command Line: sysprep.exe /generalize /oobe /shutdown /quiet\r\n',
    );
    expect(m.fs.readText(`${SYSPREP_PANTHER}\\setuperr.log`)).toBe('');
    expect(m.eventLogs.every((l) => l.records === 0)).toBe(true);
    expect(m.power).toBe('on'); // sysprep returns first; the machine goes down after the exec
    m.flushPendingPower();
    await m.whenPowerIs('off');
    expect(seen).toEqual(['off']);
    m.powerOn();
    expect(m.imageStateHistory.slice(-3)).toEqual([
      IMAGE_STATE.generalizeResealToOobe,
      IMAGE_STATE.specializeResealToOobe,
      IMAGE_STATE.complete,
    ]);
    expect(m.imageState).toBe(IMAGE_STATE.complete);
    expect(m.machineSid).not.toBe(oldSid);
    expect(m.findGroup('Administrators')?.members).toEqual([`${m.machineSid}-500`]);
    expect(m.computerName).toMatch(/^WIN-[A-Z0-9]{11}$/);
    expect(m.computerName).not.toBe('WIN-REF');
  });

  it('/reboot with /unattend: the answer file is cached and applied in specialize and oobeSystem', () => {
    const m = machine({ files: { 'C:\\Windows\\Temp\\unattend.xml': UNATTEND } });
    const seen = powerEvents(m);
    const r = m.runSysprep([
      '/generalize',
      '/oobe',
      '/reboot',
      '/quiet',
      '/unattend:C:\\Windows\\Temp\\unattend.xml',
    ]);
    expect(r.exitCode).toBe(0);
    expect(m.fs.readText('C:\\Windows\\Panther\\unattend.xml')).toBe(UNATTEND);
    m.flushPendingPower();
    expect(seen).toEqual(['reboot', 'on']);
    expect(m.computerName).toBe('LAB-CLONE-01');
    expect(m.findUser('Administrator')?.password).toBe('N3w&Admin');
    const lab = m.findUser('labuser');
    expect(lab).toMatchObject({ password: 'Lab&pass1', fullName: 'Lab User' });
    expect(m.findGroup('Administrators')?.members).toContain(
      m.userSid(lab as NonNullable<typeof lab>),
    );
    expect(m.imageState).toBe(IMAGE_STATE.complete);
  });

  it('/quit: generalized, no power change', () => {
    const m = machine();
    const seen = powerEvents(m);
    expect(m.runSysprep(['/generalize', '/oobe', '/quit', '/quiet']).exitCode).toBe(0);
    m.flushPendingPower();
    expect(seen).toEqual([]);
    expect(m.imageState).toBe(IMAGE_STATE.generalizeResealToOobe);
  });

  it('an invalid command line fails: nonzero, setuperr.log, ImageState unchanged, stays on', () => {
    const m = machine();
    const r = m.runSysprep(['/generalize', '/oobe', '/shutdown', '/reboot', '/quiet']);
    expect(r.exitCode).not.toBe(0);
    expect(m.fs.readText(`${SYSPREP_PANTHER}\\setuperr.log`)).toMatch(
      /^2024-05-01 10:00:00, Error {17}SYSPRP /,
    );
    expect(m.imageState).toBe(IMAGE_STATE.complete);
    m.flushPendingPower();
    expect(m.power).toBe('on');
  });

  it('a missing unattend file fails', () => {
    const m = machine();
    expect(
      m.runSysprep(['/generalize', '/oobe', '/shutdown', '/unattend:C:\\nope.xml']).exitCode,
    ).not.toBe(0);
    expect(m.imageState).toBe(IMAGE_STATE.complete);
  });

  it('fault appx-user-package: the KB 2769827 lines, nothing changes', () => {
    const m = machine();
    m.faults.sysprep = 'appx-user-package';
    m.faults.sysprepAppxPackage = 'Microsoft.Todos_2.104.6_x64__8wekyb3d8bbwe';
    const r = m.runSysprep(['/generalize', '/oobe', '/shutdown', '/quiet']);
    expect(r.exitCode).not.toBe(0);
    const err = m.fs.readText(`${SYSPREP_PANTHER}\\setuperr.log`) ?? '';
    expect(err).toContain(
      'Error                 SYSPRP Package Microsoft.Todos_2.104.6_x64__8wekyb3d8bbwe was installed for a user, but not provisioned for all users. This package will not function properly in the sysprep image.\r\n',
    );
    expect(err).toContain('SYSPRP Failed to remove apps for the current user: 0x80073cf2.\r\n');
    expect(m.fs.readText(`${SYSPREP_PANTHER}\\setupact.log`)).toContain(
      'was installed for a user, but not provisioned for all users',
    );
    expect(m.imageState).toBe(IMAGE_STATE.complete);
    expect(m.eventLogs.find((l) => l.name === 'System')?.records).toBeGreaterThan(0);
    m.flushPendingPower();
    expect(m.power).toBe('on');
  });

  it.each([
    ['pending-servicing', 'Sysprep_Clean_Validate_Opk'],
    ['rearm-limit', 'SLReArmWindows'],
  ] as const)('fault %s fails with its setuperr lines', (fault, text) => {
    const m = machine();
    m.faults.sysprep = fault;
    expect(m.runSysprep(['/generalize', '/oobe', '/reboot', '/quiet']).exitCode).not.toBe(0);
    expect(m.fs.readText(`${SYSPREP_PANTHER}\\setuperr.log`)).toContain(text);
    expect(m.imageState).toBe(IMAGE_STATE.complete);
    expect(m.pendingPower).toBeNull();
  });

  it('a new run truncates setuperr.log and appends to setupact.log', () => {
    const m = machine();
    m.faults.sysprep = 'rearm-limit';
    m.runSysprep(['/generalize', '/oobe', '/quit']);
    delete m.faults.sysprep;
    expect(m.runSysprep(['/generalize', '/oobe', '/quit']).exitCode).toBe(0);
    expect(m.fs.readText(`${SYSPREP_PANTHER}\\setuperr.log`)).toBe('');
    expect(
      (m.fs.readText(`${SYSPREP_PANTHER}\\setupact.log`) ?? '').match(
        /Beginning of a new sysprep run/g,
      ),
    ).toHaveLength(2);
  });
});
