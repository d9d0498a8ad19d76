// The modelled Windows machine: plain state + the few state machines commands drive (power, boot,
// sysprep). No interpreter dependency; commands in ../commands read and change it.
//
// Sources for the built-in state:
// - Well-known SIDs (Administrators S-1-5-32-544, Users -545, Remote Desktop Users -555; Administrator
//   RID 500, Guest 501, DefaultAccount 503, WDAGUtilityAccount 504):
//   https://learn.microsoft.com/en-us/windows/win32/secauthz/well-known-sids
//   https://learn.microsoft.com/en-us/windows-server/identity/ad-ds/manage/understand-security-identifiers
// - Remote Desktop: fDenyTSConnections under HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server:
//   https://learn.microsoft.com/en-us/windows-hardware/customize/desktop/unattend/microsoft-windows-terminalservices-localsessionmanager-fdenytsconnections
// - OpenSSH for Windows (sshd service, %ProgramData%\ssh host keys, OpenSSH-Server-In-TCP rule):
//   https://learn.microsoft.com/en-us/windows-server/administration/openssh/openssh_install_firstuse
// - Windows Setup states: https://learn.microsoft.com/en-us/windows-hardware/manufacture/desktop/windows-setup-states
// - Computer name keys (ComputerName\ComputerName and ActiveComputerName; a rename is pending until restart):
//   https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/rename-computer?view=powershell-5.1
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { WindowsFileSystem } from './file-system.js';
import { generateHostKey, HOST_KEY_TYPES } from './host-keys.js';
import { WindowsRegistry } from './registry.js';
import {
  IMAGE_STATE,
  pantherLine,
  parseSysprepArgs,
  parseUnattend,
  SYSPREP_FAILURE_EXIT_CODE,
  type SysprepFault,
  type SysprepOptions,
  sysprepFaultLines,
} from './sysprep.js';

export type PowerState = 'on' | 'off';
export type PowerEvent = 'off' | 'reboot' | 'on';

export interface LocalUser {
  name: string;
  rid: number;
  enabled: boolean;
  fullName: string;
  description: string;
  /** The secret itself (a test double: tests check it); null = no password. */
  password: string | null;
  passwordNeverExpires: boolean;
  userMayChangePassword: boolean;
  passwordRequired: boolean;
  accountExpires: Date | null;
  passwordLastSet: Date | null;
  lastLogon: Date | null;
}

export interface LocalGroup {
  name: string;
  sid: string;
  description: string;
  /** Member SIDs. */
  members: string[];
}

export interface UserProfile {
  sid: string;
  localPath: string;
  loaded: boolean;
  special: boolean;
}

export interface LogonSession {
  id: number;
  userName: string;
  /** `console`, `rdp-tcp#0`, or '' for a disconnected session. */
  sessionName: string;
  state: 'Active' | 'Disc';
  idleMinutes: number | null;
  logonTime: Date;
}

export interface FirewallRule {
  name: string;
  displayName: string;
  description: string;
  group: string;
  displayGroup: string;
  enabled: boolean;
  direction: 'Inbound' | 'Outbound';
  action: 'Allow' | 'Block';
  profile: string;
  protocol: string;
  localPort: string[];
  remoteAddress: string[];
}

export type ServiceStatus = 'Running' | 'Stopped';
export interface WindowsService {
  name: string;
  displayName: string;
  status: ServiceStatus;
  startType: 'Automatic' | 'Manual' | 'Disabled';
}

export interface EventLogInfo {
  name: string;
  records: number;
}

export interface MachineFaults {
  /** The next sysprep run fails this way (cleared by the test, not by sysprep). */
  sysprep?: SysprepFault;
  /** Package named in the AppX failure lines. */
  sysprepAppxPackage?: string;
  /** A requested shutdown/restart is accepted but never happens. */
  powerNeverHappens?: boolean;
}

export interface WindowsMachineOptions {
  computerName?: string;
  version?: string;
  administratorPassword?: string;
  files?: Record<string, string | Buffer>;
  /**
   * 'fresh' (default): new host keys per machine. 'shared': the initial keys are generated once per
   * process and reused (fast tests that do not compare host keys across machines). ssh-keygen -A always
   * makes fresh ones.
   */
  hostKeys?: 'fresh' | 'shared';
  /** Clock for logs/timestamps (tests pin it). */
  now?: () => Date;
}

export interface PendingPower {
  action: 'shutdown' | 'reboot';
  delaySeconds: number;
  by: string;
}

export interface SysprepResult {
  exitCode: number;
  options: SysprepOptions | null;
}

const VERSIONS: Record<
  string,
  { caption: string; version: string; build: string; server: boolean }
> = {
  'windows server 2019': {
    caption: 'Microsoft Windows Server 2019 Datacenter',
    version: '10.0.17763',
    build: '17763',
    server: true,
  },
  'windows server 2022': {
    caption: 'Microsoft Windows Server 2022 Datacenter',
    version: '10.0.20348',
    build: '20348',
    server: true,
  },
  'windows server 2025': {
    caption: 'Microsoft Windows Server 2025 Datacenter',
    version: '10.0.26100',
    build: '26100',
    server: true,
  },
  'windows 10 pro 22h2': {
    caption: 'Microsoft Windows 10 Pro',
    version: '10.0.19045',
    build: '19045',
    server: false,
  },
  'windows 11 pro 23h2': {
    caption: 'Microsoft Windows 11 Pro',
    version: '10.0.22631',
    build: '22631',
    server: false,
  },
  'windows 11 pro 24h2': {
    caption: 'Microsoft Windows 11 Pro',
    version: '10.0.26100',
    build: '26100',
    server: false,
  },
};

export const REG = {
  terminalServer: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server',
  setupState: 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State',
  sysprepStatus: 'HKLM:\\SYSTEM\\Setup\\Status\\SysprepStatus',
  computerName: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName',
  activeComputerName: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ActiveComputerName',
  tcpipParameters: 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters',
} as const;

export const SYSPREP_PANTHER = 'C:\\Windows\\System32\\Sysprep\\Panther';
export const SSH_DIR = 'C:\\ProgramData\\ssh';

function randomMachineSid(): string {
  return `S-1-5-21-${randomInt(1_000_000_000, 4_000_000_000)}-${randomInt(1_000_000_000, 4_000_000_000)}-${randomInt(1_000_000_000, 4_000_000_000)}`;
}

/** Windows' generated names are `WIN-` + 11 upper-case alphanumerics. */
export function randomComputerName(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return `WIN-${Array.from(randomBytes(11), (b) => chars[b % chars.length]).join('')}`;
}

let sharedHostKeys: { type: string; privateKey: string; publicKey: string }[] | undefined;

export class WindowsMachine {
  /**
   * 'power' (PowerEvent: 'off' | 'reboot' | 'on'); 'service' (name, 'start' | 'stop' | 'restart') so the
   * peer can e.g. reload sshd's host keys.
   */
  readonly events = new EventEmitter();
  readonly fs: WindowsFileSystem;
  readonly registry = new WindowsRegistry();
  readonly faults: MachineFaults = {};
  readonly now: () => Date;
  readonly caption: string;
  readonly osVersion: string;
  readonly buildNumber: string;
  readonly isServer: boolean;

  machineSid = randomMachineSid();
  users: LocalUser[] = [];
  groups: LocalGroup[] = [];
  profiles: UserProfile[] = [];
  sessions: LogonSession[] = [];
  firewallRules: FirewallRule[] = [];
  services: WindowsService[] = [];
  eventLogs: EventLogInfo[] = [];
  /**
   * Files whose inherited ACL icacls removed, by lowercase path: the SIDs granted full control.
   * Files not listed keep their inherited ACL (ACLs are otherwise not modelled).
   */
  readonly fileAcls = new Map<string, readonly string[]>();
  /** Local password policy: Server editions enforce complexity and 7 characters by default. */
  passwordPolicy: { minLength: number; complexity: boolean };

  power: PowerState = 'on';
  bootId = randomUUID();
  bootCount = 1;
  lastBootUpTime: Date;
  pendingComputerName: string | null = null;
  pendingPower: PendingPower | null = null;
  /** Every ImageState value set, in order (tests check the specialize/OOBE passage). */
  readonly imageStateHistory: string[] = [];
  /** Unattend settings cached by sysprep for the next boot. */
  #unattend: string | null = null;
  #nextRid = 1000;
  #nextSessionId = 1;
  readonly #networkLogons = new Map<string, number>();
  readonly #waiters: { state: PowerState; resolve: () => void }[] = [];

  constructor(options: WindowsMachineOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.fs = new WindowsFileSystem(this.now);
    this.lastBootUpTime = this.now();
    const v = VERSIONS[(options.version ?? 'Windows Server 2022').toLowerCase()];
    if (!v)
      throw new Error(
        `unknown Windows version ${options.version}; known: ${Object.keys(VERSIONS).join(', ')}`,
      );
    this.caption = v.caption;
    this.osVersion = v.version;
    this.buildNumber = v.build;
    this.isServer = v.server;
    this.passwordPolicy = v.server
      ? { minLength: 7, complexity: true }
      : { minLength: 0, complexity: false };
    const name = options.computerName ?? randomComputerName();
    this.#initRegistry(name);
    this.#initAccounts(options.administratorPassword ?? null);
    this.#initFiles(options.hostKeys ?? 'fresh');
    for (const [path, content] of Object.entries(options.files ?? {}))
      this.fs.writeFile(path, content);
    this.#initFirewall();
    this.services = [
      {
        name: 'sshd',
        displayName: 'OpenSSH SSH Server',
        status: 'Running',
        startType: 'Automatic',
      },
      {
        name: 'ssh-agent',
        displayName: 'OpenSSH Authentication Agent',
        status: 'Stopped',
        startType: 'Disabled',
      },
      {
        name: 'TermService',
        displayName: 'Remote Desktop Services',
        status: 'Running',
        startType: 'Manual',
      },
      {
        name: 'EventLog',
        displayName: 'Windows Event Log',
        status: 'Running',
        startType: 'Automatic',
      },
      {
        name: 'WinRM',
        displayName: 'Windows Remote Management (WS-Management)',
        status: v.server ? 'Running' : 'Stopped',
        startType: v.server ? 'Automatic' : 'Manual',
      },
    ];
    this.eventLogs = [
      { name: 'Application', records: 1520 },
      { name: 'HardwareEvents', records: 0 },
      { name: 'Internet Explorer', records: 0 },
      { name: 'Key Management Service', records: 0 },
      { name: 'OpenSSH/Admin', records: 2 },
      { name: 'OpenSSH/Operational', records: 318 },
      { name: 'Security', records: 8841 },
      { name: 'Setup', records: 42 },
      { name: 'System', records: 4127 },
      { name: 'Windows PowerShell', records: 655 },
    ];
  }

  // ---- initial state ----

  #initRegistry(name: string): void {
    const r = this.registry;
    r.setValue(REG.terminalServer, 'fDenyTSConnections', 1, 'DWord');
    this.setImageState(IMAGE_STATE.complete);
    r.setValue(REG.sysprepStatus, 'GeneralizationState', 7, 'DWord');
    r.setValue(REG.sysprepStatus, 'CleanupState', 2, 'DWord');
    r.setValue(REG.computerName, 'ComputerName', name, 'String');
    r.setValue(REG.activeComputerName, 'ComputerName', name, 'String');
    r.setValue(REG.tcpipParameters, 'Hostname', name, 'String');
    r.setValue(REG.tcpipParameters, 'NV Hostname', name, 'String');
    r.ensureKey('HKLM:\\SOFTWARE\\OpenSSH');
  }

  #initAccounts(adminPassword: string | null): void {
    const user = (name: string, rid: number, enabled: boolean, description: string): LocalUser => ({
      name,
      rid,
      enabled,
      fullName: '',
      description,
      password: null,
      passwordNeverExpires: false,
      userMayChangePassword: true,
      passwordRequired: true,
      accountExpires: null,
      passwordLastSet: null,
      lastLogon: null,
    });
    const admin = user(
      'Administrator',
      500,
      true,
      'Built-in account for administering the computer/domain',
    );
    admin.password = adminPassword;
    admin.passwordLastSet = this.now();
    this.users = [
      admin,
      user('DefaultAccount', 503, false, 'A user account managed by the system.'),
      user('Guest', 501, false, 'Built-in account for guest access to the computer/domain'),
      user(
        'WDAGUtilityAccount',
        504,
        false,
        'A user account managed and used by the system for Windows Defender Application Guard scenarios.',
      ),
    ];
    for (const u of this.users) if (u.name !== 'Administrator') u.passwordRequired = false;
    this.groups = [
      {
        name: 'Administrators',
        sid: 'S-1-5-32-544',
        description: 'Administrators have complete and unrestricted access to the computer/domain',
        members: [this.userSid(admin)],
      },
      {
        name: 'Guests',
        sid: 'S-1-5-32-546',
        description:
          'Guests have the same access as members of the Users group by default, except for the Guest account which is further restricted',
        members: [this.userSid(this.users[2] as LocalUser)],
      },
      {
        name: 'Remote Desktop Users',
        sid: 'S-1-5-32-555',
        description: 'Members in this group are granted the right to logon remotely',
        members: [],
      },
      {
        name: 'Users',
        sid: 'S-1-5-32-545',
        description:
          'Users are prevented from making accidental or intentional system-wide changes and can run most applications',
        members: ['S-1-5-4', 'S-1-5-11'],
      },
    ];
    this.profiles = [
      {
        sid: 'S-1-5-18',
        localPath: 'C:\\Windows\\system32\\config\\systemprofile',
        loaded: true,
        special: true,
      },
      {
        sid: 'S-1-5-19',
        localPath: 'C:\\Windows\\ServiceProfiles\\LocalService',
        loaded: true,
        special: true,
      },
      {
        sid: 'S-1-5-20',
        localPath: 'C:\\Windows\\ServiceProfiles\\NetworkService',
        loaded: true,
        special: true,
      },
    ];
    this.ensureProfile('Administrator');
  }

  #initFiles(hostKeys: 'fresh' | 'shared'): void {
    for (const d of [
      'C:\\Windows\\System32\\Sysprep\\Panther',
      'C:\\Windows\\Panther',
      'C:\\Windows\\Temp',
      'C:\\ProgramData',
      'C:\\Users\\Public',
      'C:\\Program Files',
      'C:\\Windows\\System32\\OpenSSH',
    ])
      this.fs.mkdirp(d);
    this.fs.writeFile('C:\\Windows\\System32\\Sysprep\\sysprep.exe', Buffer.from('MZ'));
    this.fs.writeFile(
      `${SSH_DIR}\\sshd_config`,
      '# This is the sshd server system-wide configuration file.\r\n',
    );
    if (hostKeys === 'fresh') this.generateMissingHostKeys();
    else {
      sharedHostKeys ??= HOST_KEY_TYPES.map((t) => ({
        type: t,
        ...generateHostKey(t, 'vlab-shared-host-key'),
      }));
      for (const k of sharedHostKeys) {
        this.fs.writeFile(`${SSH_DIR}\\ssh_host_${k.type}_key`, k.privateKey);
        this.fs.writeFile(`${SSH_DIR}\\ssh_host_${k.type}_key.pub`, k.publicKey);
      }
    }
  }

  #initFirewall(): void {
    const rd = (
      name: string,
      displayName: string,
      protocol: string,
      port: string,
    ): FirewallRule => ({
      name,
      displayName,
      description: '',
      group: '@FirewallAPI.dll,-28752',
      displayGroup: 'Remote Desktop',
      enabled: false,
      direction: 'Inbound',
      action: 'Allow',
      profile: 'Any',
      protocol,
      localPort: [port],
      remoteAddress: ['Any'],
    });
    this.firewallRules = [
      rd('RemoteDesktop-UserMode-In-TCP', 'Remote Desktop - User Mode (TCP-In)', 'TCP', '3389'),
      rd('RemoteDesktop-UserMode-In-UDP', 'Remote Desktop - User Mode (UDP-In)', 'UDP', '3389'),
      rd('RemoteDesktop-Shadow-In-TCP', 'Remote Desktop - Shadow (TCP-In)', 'TCP', 'Any'),
      {
        name: 'OpenSSH-Server-In-TCP',
        displayName: 'OpenSSH SSH Server (sshd)',
        description: 'Inbound rule for OpenSSH SSH Server (sshd)',
        group: 'OpenSSH Server',
        displayGroup: 'OpenSSH Server',
        enabled: true,
        direction: 'Inbound',
        action: 'Allow',
        profile: 'Any',
        protocol: 'TCP',
        localPort: ['22'],
        remoteAddress: ['Any'],
      },
    ];
  }

  // ---- names, accounts, profiles ----

  get computerName(): string {
    return String(this.registry.getValue(REG.activeComputerName, 'ComputerName')?.data ?? '');
  }

  #setComputerName(name: string): void {
    for (const k of [REG.computerName, REG.activeComputerName])
      this.registry.setValue(k, 'ComputerName', name, 'String');
    this.registry.setValue(REG.tcpipParameters, 'Hostname', name, 'String');
    this.registry.setValue(REG.tcpipParameters, 'NV Hostname', name, 'String');
  }

  /** Rename-Computer: written to ComputerName\ComputerName, active after the next boot. */
  requestRename(name: string): void {
    this.pendingComputerName = name;
    this.registry.setValue(REG.computerName, 'ComputerName', name, 'String');
    this.registry.setValue(REG.tcpipParameters, 'NV Hostname', name, 'String');
  }

  get imageState(): string {
    return String(this.registry.getValue(REG.setupState, 'ImageState')?.data ?? '');
  }

  setImageState(state: string): void {
    this.registry.setValue(REG.setupState, 'ImageState', state, 'String');
    this.imageStateHistory.push(state);
  }

  userSid(user: LocalUser): string {
    return `${this.machineSid}-${user.rid}`;
  }

  findUser(name: string): LocalUser | undefined {
    const n = this.#stripComputer(name).toLowerCase();
    return this.users.find((u) => u.name.toLowerCase() === n);
  }

  findUserBySid(sid: string): LocalUser | undefined {
    return this.users.find((u) => this.userSid(u).toLowerCase() === sid.toLowerCase());
  }

  findGroup(name: string): LocalGroup | undefined {
    const n = this.#stripComputer(name).toLowerCase();
    return this.groups.find((g) => g.name.toLowerCase() === n || g.sid.toLowerCase() === n);
  }

  #stripComputer(name: string): string {
    const i = name.indexOf('\\');
    if (i < 0) return name;
    const prefix = name.slice(0, i).toLowerCase();
    return prefix === this.computerName.toLowerCase() || prefix === '.' || prefix === 'builtin'
      ? name.slice(i + 1)
      : name;
  }

  addUser(init: Partial<LocalUser> & { name: string }): LocalUser {
    const u: LocalUser = {
      enabled: true,
      fullName: '',
      description: '',
      password: null,
      passwordNeverExpires: false,
      userMayChangePassword: true,
      passwordRequired: true,
      accountExpires: null,
      passwordLastSet: this.now(),
      lastLogon: null,
      ...init,
      rid: init.rid ?? this.#nextRid++,
    };
    this.users.push(u);
    this.users.sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }));
    const usersGroup = this.findGroup('Users');
    usersGroup?.members.push(this.userSid(u));
    return u;
  }

  removeUser(user: LocalUser): void {
    const sid = this.userSid(user);
    this.users = this.users.filter((u) => u !== user);
    for (const g of this.groups) g.members = g.members.filter((m) => m !== sid);
  }

  /** The profile a first logon creates (C:\Users\<name>, a second same-named profile gets `.COMPUTER`). */
  ensureProfile(userName: string): UserProfile {
    const user = this.findUser(userName);
    if (!user) throw new Error(`no user ${userName}`);
    const sid = this.userSid(user);
    const existing = this.profiles.find((p) => p.sid === sid);
    if (existing) return existing;
    let path = `C:\\Users\\${user.name}`;
    if (this.fs.exists(path)) path = `${path}.${this.computerName}`;
    for (const d of [
      'Desktop',
      'Documents',
      'Downloads',
      'AppData\\Local\\Temp',
      'AppData\\Roaming',
    ])
      this.fs.mkdirp(`${path}\\${d}`);
    this.fs.writeFile(`${path}\\NTUSER.DAT`, Buffer.alloc(0)).hidden = true;
    const p: UserProfile = { sid, localPath: path, loaded: false, special: false };
    this.profiles.push(p);
    return p;
  }

  /** Win32_UserProfile.Delete: removes the profile directory and the ProfileList entry. */
  deleteProfile(profile: UserProfile): 'ok' | 'in-use' {
    if (profile.loaded) return 'in-use';
    this.fs.remove(profile.localPath);
    this.profiles = this.profiles.filter((p) => p !== profile);
    return 'ok';
  }

  // ---- sessions ----

  /** An interactive logon (console/RDP): creates the profile, loads it. */
  logon(userName: string, sessionName = 'console'): LogonSession {
    const user = this.findUser(userName);
    if (!user) throw new Error(`no user ${userName}`);
    const profile = this.ensureProfile(user.name);
    profile.loaded = true;
    user.lastLogon = this.now();
    const s: LogonSession = {
      id: this.#nextSessionId++,
      userName: user.name,
      sessionName,
      state: 'Active',
      idleMinutes: null,
      logonTime: this.now(),
    };
    this.sessions.push(s);
    return s;
  }

  /**
   * A network logon (an SSH connection): loads the user's profile — creating it on first logon — but
   * is no WTS session, so quser does not list it. Returns the release to call when the connection ends.
   */
  networkLogon(userName: string): () => void {
    const user = this.findUser(userName);
    if (!user) throw new Error(`no user ${userName}`);
    const profile = this.ensureProfile(user.name);
    profile.loaded = true;
    user.lastLogon = this.now();
    this.#networkLogons.set(user.name, (this.#networkLogons.get(user.name) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#networkLogons.get(user.name) ?? 1) - 1;
      if (n > 0) this.#networkLogons.set(user.name, n);
      else this.#networkLogons.delete(user.name);
      this.#unloadIfUnused(user.name);
    };
  }

  #unloadIfUnused(userName: string): void {
    if (this.sessions.some((x) => x.userName === userName) || this.#networkLogons.has(userName))
      return;
    const user = this.findUser(userName);
    const profile = user && this.profiles.find((p) => p.sid === this.userSid(user));
    if (profile) profile.loaded = false;
  }

  disconnect(id: number): void {
    const s = this.sessions.find((x) => x.id === id);
    if (s) {
      s.state = 'Disc';
      s.sessionName = '';
    }
  }

  logoff(id: number): boolean {
    const s = this.sessions.find((x) => x.id === id);
    if (!s) return false;
    this.sessions = this.sessions.filter((x) => x !== s);
    this.#unloadIfUnused(s.userName);
    return true;
  }

  /**
   * The environment powershell.exe starts with for `user` (names as Windows spells them; `$env:` lookups
   * are case-insensitive). Source: the standard variables,
   * https://learn.microsoft.com/en-us/windows/deployment/usmt/usmt-recognized-environment-variables
   */
  environmentFor(user: string): Map<string, string> {
    const profile = this.findUser(user) ? this.ensureProfile(user).localPath : `C:\\Users\\${user}`;
    const name = this.findUser(user)?.name ?? user;
    return new Map([
      ['ALLUSERSPROFILE', 'C:\\ProgramData'],
      ['APPDATA', `${profile}\\AppData\\Roaming`],
      ['CommonProgramFiles', 'C:\\Program Files\\Common Files'],
      ['COMPUTERNAME', this.computerName],
      ['ComSpec', 'C:\\Windows\\system32\\cmd.exe'],
      ['HOMEDRIVE', 'C:'],
      ['HOMEPATH', profile.slice(2)],
      ['LOCALAPPDATA', `${profile}\\AppData\\Local`],
      ['NUMBER_OF_PROCESSORS', '2'],
      ['OS', 'Windows_NT'],
      [
        'Path',
        'C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\;C:\\Windows\\System32\\OpenSSH\\',
      ],
      ['PATHEXT', '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC;.CPL'],
      ['PROCESSOR_ARCHITECTURE', 'AMD64'],
      ['ProgramData', 'C:\\ProgramData'],
      ['ProgramFiles', 'C:\\Program Files'],
      ['ProgramFiles(x86)', 'C:\\Program Files (x86)'],
      [
        'PSModulePath',
        `${profile}\\Documents\\WindowsPowerShell\\Modules;C:\\Program Files\\WindowsPowerShell\\Modules;C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules`,
      ],
      ['PUBLIC', 'C:\\Users\\Public'],
      ['SystemDrive', 'C:'],
      ['SystemRoot', 'C:\\Windows'],
      ['TEMP', `${profile}\\AppData\\Local\\Temp`],
      ['TMP', `${profile}\\AppData\\Local\\Temp`],
      ['USERDOMAIN', this.computerName],
      ['USERNAME', name],
      ['USERPROFILE', profile],
      ['windir', 'C:\\Windows'],
    ]);
  }

  // ---- services, event logs, host keys ----

  findService(name: string): WindowsService | undefined {
    const n = name.toLowerCase();
    return this.services.find(
      (s) => s.name.toLowerCase() === n || s.displayName.toLowerCase() === n,
    );
  }

  findEventLog(name: string): EventLogInfo | undefined {
    return this.eventLogs.find((l) => l.name.toLowerCase() === name.toLowerCase());
  }

  /** The host keys sshd would load now (the files present under %ProgramData%\\ssh), for the peer. */
  hostKeys(): { type: string; privateKey: string; publicKey: string | null }[] {
    return HOST_KEY_TYPES.flatMap((type) => {
      const privateKey = this.fs.readText(`${SSH_DIR}\\ssh_host_${type}_key`);
      if (privateKey === undefined) return [];
      return [
        {
          type,
          privateKey,
          publicKey: this.fs.readText(`${SSH_DIR}\\ssh_host_${type}_key.pub`) ?? null,
        },
      ];
    });
  }

  /** ssh-keygen -A semantics: creates each missing ssh_host_<type>_key(.pub); returns the types made. */
  generateMissingHostKeys(): string[] {
    const made: string[] = [];
    for (const type of HOST_KEY_TYPES) {
      const path = `${SSH_DIR}\\ssh_host_${type}_key`;
      if (this.fs.exists(path)) continue;
      const k = generateHostKey(
        type,
        `${this.computerName.toLowerCase()}\\system@${this.computerName}`,
      );
      this.fs.writeFile(path, k.privateKey);
      this.fs.writeFile(`${path}.pub`, k.publicKey);
      made.push(type.toUpperCase());
    }
    return made;
  }

  // ---- power ----

  /** A command asks for a shutdown/restart; it happens when the exec ends (flushPendingPower). */
  schedulePower(action: PendingPower['action'], by: string, delaySeconds = 0): void {
    this.pendingPower = { action, by, delaySeconds };
  }

  /**
   * Called by the peer once the current exec's output is flushed and its channel closed (real Windows:
   * Stop-Computer returns, then the machine goes down). Tests without a peer call it themselves.
   */
  flushPendingPower(): void {
    const p = this.pendingPower;
    if (!p || this.faults.powerNeverHappens) return;
    this.pendingPower = null;
    if (p.action === 'shutdown') this.powerOff();
    else this.reboot();
  }

  powerOff(): void {
    if (this.power === 'off') return;
    this.#setPower('off');
    this.events.emit('power', 'off' satisfies PowerEvent);
  }

  reboot(): void {
    if (this.power === 'on') {
      this.#setPower('off');
      this.events.emit('power', 'reboot' satisfies PowerEvent);
    }
    this.#boot();
  }

  powerOn(): void {
    if (this.power === 'on') return;
    this.#boot();
  }

  /** Resolves when the power state is (or becomes) `state`. */
  whenPowerIs(state: PowerState): Promise<void> {
    if (this.power === state) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ state, resolve }));
  }

  #setPower(state: PowerState): void {
    this.power = state;
    for (const w of [...this.#waiters]) {
      if (w.state !== state) continue;
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
  }

  #boot(): void {
    this.sessions = [];
    this.#networkLogons.clear();
    for (const p of this.profiles) p.loaded = p.special;
    this.pendingPower = null;
    if (this.pendingComputerName !== null) {
      this.#setComputerName(this.pendingComputerName);
      this.pendingComputerName = null;
    }
    if (this.imageState === IMAGE_STATE.generalizeResealToOobe) this.#specializeAndOobe();
    for (const s of this.services) s.status = s.startType === 'Automatic' ? 'Running' : 'Stopped';
    this.bootId = randomUUID();
    this.bootCount++;
    // A boot takes time: LastBootUpTime always moves on, even under a pinned test clock.
    const t = this.now();
    const min = this.lastBootUpTime.getTime() + 30_000;
    this.lastBootUpTime = t.getTime() >= min ? t : new Date(min);
    this.#setPower('on');
    this.events.emit('power', 'on' satisfies PowerEvent);
  }

  // ---- sysprep ----

  /** sysprep.exe with its arguments; the power change (if any) is scheduled, like Stop-Computer. */
  runSysprep(args: readonly string[]): SysprepResult {
    const act = `${SYSPREP_PANTHER}\\setupact.log`;
    const err = `${SYSPREP_PANTHER}\\setuperr.log`;
    const log = (level: 'Info' | 'Error', text: string) => {
      this.fs.appendFile(act, pantherLine(this.now(), level, text));
      if (level === 'Error') this.fs.appendFile(err, pantherLine(this.now(), level, text));
    };
    // A new run starts new logs (sysprep truncates setuperr.log at start; setupact.log is appended).
    this.fs.writeFile(err, '');
    log('Info', '========================================================');
    log('Info', '===          Beginning of a new sysprep run          ===');
    log('Info', '========================================================');
    log('Info', `SYSPRP Sysprep Command Line: sysprep.exe ${args.join(' ')}`);
    const parsed = parseSysprepArgs(args);
    if ('error' in parsed) {
      log('Error', `SYSPRP ParseCommands: ${parsed.error}`);
      return { exitCode: SYSPREP_FAILURE_EXIT_CODE, options: null };
    }
    if (parsed.unattend !== null) {
      const text = this.fs.readText(parsed.unattend);
      if (text === undefined) {
        log('Error', `SYSPRP Failed to open unattend file ${parsed.unattend}; dwRet = 0x2`);
        return { exitCode: SYSPREP_FAILURE_EXIT_CODE, options: parsed };
      }
    }
    log('Info', 'SYSPRP ValidateUser:User has required privileges to sysprep machine');
    const fault = this.faults.sysprep;
    if (fault && parsed.generalize) {
      for (const line of sysprepFaultLines(
        fault,
        this.faults.sysprepAppxPackage ?? 'Microsoft.Copilot_1.0.3.0_neutral__8wekyb3d8bbwe',
      ))
        log('Error', line);
      return { exitCode: SYSPREP_FAILURE_EXIT_CODE, options: parsed };
    }
    if (parsed.unattend !== null) {
      // Sysprep caches the answer file for the following passes.
      const text = this.fs.readText(parsed.unattend) ?? '';
      this.fs.writeFile('C:\\Windows\\Panther\\unattend.xml', text);
      this.#unattend = text;
    } else this.#unattend = null;
    if (parsed.generalize) {
      log(
        'Info',
        'SYSPRP RunPlatformActions:Successfully executed actions from C:\\Windows\\System32\\Sysprep\\ActionFiles\\Generalize.xml',
      );
      // Generalize removes machine-specific state: event logs are cleared, sessions' data goes.
      for (const l of this.eventLogs) l.records = 0;
      this.registry.setValue(REG.sysprepStatus, 'GeneralizationState', 7, 'DWord');
      this.registry.setValue(REG.sysprepStatus, 'CleanupState', 7, 'DWord');
    }
    if (parsed.mode === 'oobe')
      this.setImageState(
        parsed.generalize ? IMAGE_STATE.generalizeResealToOobe : IMAGE_STATE.specializeResealToOobe,
      );
    else if (parsed.mode === 'audit')
      this.setImageState(
        parsed.generalize
          ? IMAGE_STATE.generalizeResealToAudit
          : IMAGE_STATE.specializeResealToAudit,
      );
    log(
      'Info',
      `SYSPRP Sysprep_Finalize: sysprep will ${parsed.end === 'quit' ? 'quit' : parsed.end === 'reboot' ? 'reboot' : 'shut down'} the machine`,
    );
    log('Info', 'SYSPRP ========================================================');
    log('Info', 'SYSPRP ===          Successfully completed sysprep run          ===');
    if (parsed.end !== 'quit') this.schedulePower(parsed.end, 'sysprep.exe');
    return { exitCode: 0, options: parsed };
  }

  /** First boot after generalize: specialize (new SID, computer name) then oobeSystem. */
  #specializeAndOobe(): void {
    const settings =
      this.#unattend === null ? { localAccounts: [] } : parseUnattend(this.#unattend);
    const oldSid = this.machineSid;
    this.machineSid = randomMachineSid();
    const remap = (sid: string) =>
      sid.startsWith(`${oldSid}-`) ? `${this.machineSid}${sid.slice(oldSid.length)}` : sid;
    for (const g of this.groups) g.members = g.members.map(remap);
    for (const p of this.profiles) p.sid = remap(p.sid);
    const name = settings.computerName;
    this.#setComputerName(name === undefined || name === '*' ? randomComputerName() : name);
    this.setImageState(IMAGE_STATE.specializeResealToOobe);
    if ('administratorPassword' in settings && settings.administratorPassword !== undefined) {
      const admin = this.findUser('Administrator');
      if (admin) admin.password = settings.administratorPassword;
    }
    for (const a of settings.localAccounts) {
      const u = this.findUser(a.name) ?? this.addUser({ name: a.name });
      u.password = a.password;
      if (a.displayName !== null) u.fullName = a.displayName;
      const group = a.group === null ? undefined : this.findGroup(a.group);
      if (group && !group.members.includes(this.userSid(u))) group.members.push(this.userSid(u));
    }
    this.setImageState(IMAGE_STATE.complete);
    this.#unattend = null;
  }
}
