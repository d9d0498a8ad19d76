// Local accounts (Microsoft.PowerShell.LocalAccounts 1.0.0.0, Windows PowerShell 5.1) and
// ConvertTo-SecureString.
// Sources (Microsoft Learn, module microsoft.powershell.localaccounts, view=powershell-5.1):
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/get-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/new-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/set-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/remove-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/enable-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/disable-localuser?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/get-localgroup?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/get-localgroupmember?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/add-localgroupmember?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts/remove-localgroupmember?view=powershell-5.1
// - https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.security/convertto-securestring?view=powershell-5.1
// Error texts/ids follow the module's exception classes (UserNotFoundException "User {0} was not found.",
// UserExistsException "User {0} already exists.", GroupNotFoundException "Group {0} was not found.",
// PrincipalNotFoundException "Principal {0} was not found.", MemberExistsException "{0} is already a
// member of group {1}.", MemberNotFoundException "Member {0} was not found in group {1}.",
// InvalidPasswordException (the password-policy text)); FullyQualifiedErrorId = "<Id>,<cmdlet class>".
// The module is closed source and Learn does not print these strings: the UserExists/UserNotFound/
// MemberExists texts are as commonly quoted; the Principal/Member-not-found ones are unverified.
// The password policy: Windows Server enables "Password must meet complexity requirements" and a
// minimum length of 7 by default; client editions do not:
// https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/security-policy-settings/password-must-meet-complexity-requirements
import { type CommandCall, defineCmdlet, type PsValue } from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import { hasWildcard, wildcardToRegExp } from '../model/file-system.js';
import type { LocalGroup, LocalUser, WindowsMachine } from '../model/windows-machine.js';
import {
  dateValue,
  flag,
  has,
  machineOf,
  obj,
  principalText,
  psError,
  SecureStringValue,
  sidValue,
  str,
  strs,
  value,
} from './common.js';

const NS = 'Microsoft.PowerShell.Commands';
const LA = 'https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.localaccounts';

function cls(cmdlet: string): string {
  return `${NS}.${cmdlet.replace('-', '')}Command`;
}

export function localUserObject(m: WindowsMachine, u: LocalUser): PsValue {
  return obj(`${NS}.LocalUser`, [
    ['AccountExpires', dateValue(u.accountExpires)],
    ['Description', u.description],
    ['Enabled', u.enabled],
    ['FullName', u.fullName],
    ['PasswordChangeableDate', dateValue(u.passwordLastSet)],
    [
      'PasswordExpires',
      u.passwordNeverExpires || u.passwordLastSet === null
        ? null
        : dateValue(new Date(u.passwordLastSet.getTime() + 42 * 86_400_000)),
    ],
    ['UserMayChangePassword', u.userMayChangePassword],
    ['PasswordRequired', u.passwordRequired],
    ['PasswordLastSet', dateValue(u.passwordLastSet)],
    ['LastLogon', dateValue(u.lastLogon)],
    ['Name', u.name],
    ['SID', sidValue(m.userSid(u))],
    ['PrincipalSource', 'Local'],
    ['ObjectClass', 'User'],
  ]);
}

function localGroupObject(g: LocalGroup): PsValue {
  return obj(`${NS}.LocalGroup`, [
    ['Description', g.description],
    ['Name', g.name],
    ['SID', sidValue(g.sid)],
    ['PrincipalSource', 'Local'],
    ['ObjectClass', 'Group'],
  ]);
}

const WELL_KNOWN: Record<string, string> = {
  'S-1-5-4': 'NT AUTHORITY\\INTERACTIVE',
  'S-1-5-11': 'NT AUTHORITY\\Authenticated Users',
  'S-1-5-18': 'NT AUTHORITY\\SYSTEM',
};

function memberObject(m: WindowsMachine, sid: string): PsValue {
  const u = m.findUserBySid(sid);
  const g = m.groups.find((x) => x.sid === sid);
  const name = u
    ? `${m.computerName}\\${u.name}`
    : g
      ? `BUILTIN\\${g.name}`
      : (WELL_KNOWN[sid] ?? sid);
  return obj(`${NS}.LocalPrincipal`, [
    ['Name', name],
    ['SID', sidValue(sid)],
    ['PrincipalSource', u ? 'Local' : 'Unknown'],
    ['ObjectClass', g ? 'Group' : 'User'],
  ]);
}

function userNotFound(name: string, cmdlet: string) {
  return psError(
    `User ${name} was not found.`,
    `UserNotFound,${cls(cmdlet)}`,
    'ObjectNotFound',
    `${NS}.UserNotFoundException`,
  );
}

function groupNotFound(name: string, cmdlet: string) {
  return psError(
    `Group ${name} was not found.`,
    `GroupNotFound,${cls(cmdlet)}`,
    'ObjectNotFound',
    `${NS}.GroupNotFoundException`,
  );
}

function secret(call: CommandCall, name: string): string | null {
  const v = value(call, name);
  if (v === undefined || v === null) return null;
  if (v instanceof SecureStringValue) return v.reveal();
  // A plain string cannot bind to a SecureString parameter (PowerShell's binding error).
  throw psError(
    `Cannot bind parameter '${name}'. Cannot convert the "${toPsString(v)}" value of type "System.String" to type "System.Security.SecureString".`,
    `CannotConvertArgumentNoMessage,${cls(call.name)}`,
    'InvalidArgument',
    'System.Management.Automation.ParameterBindingException',
  );
}

/** Windows' complexity rule: length, 3 of 4 character classes, not containing the account name. */
export function passwordMeetsPolicy(
  m: WindowsMachine,
  userName: string,
  password: string,
): boolean {
  const p = m.passwordPolicy;
  if (password.length < p.minLength) return false;
  if (!p.complexity) return true;
  if (userName.length >= 3 && password.toLowerCase().includes(userName.toLowerCase())) return false;
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) =>
    re.test(password),
  ).length;
  return classes >= 3;
}

function checkPassword(
  m: WindowsMachine,
  call: CommandCall,
  userName: string,
  password: string,
): void {
  if (!passwordMeetsPolicy(m, userName, password))
    throw psError(
      'The password does not meet the password policy requirements. Check the minimum password length, password complexity and password history requirements.',
      `InvalidPassword,${cls(call.name.toLowerCase().startsWith('new') ? 'New-LocalUser' : 'Set-LocalUser')}`,
      'InvalidOperation',
      `${NS}.InvalidPasswordException`,
    );
}

/** -Name / -InputObject / pipeline → the users named (error for an unknown literal name). */
function targetUsers(call: CommandCall, cmdlet: string): LocalUser[] {
  const m = machineOf(call);
  const names = [
    ...strs(call, 'Name'),
    ...[value(call, 'InputObject') ?? null, ...call.input]
      .filter((x) => x !== null)
      .map(principalText),
  ];
  return names.map((n) => {
    const u = n.startsWith('S-1-') ? m.findUserBySid(n) : m.findUser(n);
    if (!u) throw userNotFound(n, cmdlet);
    return u;
  });
}

function targetGroup(call: CommandCall, cmdlet: string): LocalGroup {
  const m = machineOf(call);
  const raw = value(call, 'Group') ?? value(call, 'Name') ?? value(call, 'SID') ?? null;
  const name = principalText(raw);
  const g = m.findGroup(name);
  if (!g) throw groupNotFound(name, cmdlet);
  return g;
}

function resolveMember(m: WindowsMachine, text: string): string | null {
  if (text.startsWith('S-1-')) return text;
  const u = m.findUser(text);
  if (u) return m.userSid(u);
  const g = m.findGroup(text);
  if (g) return g.sid;
  const wk = Object.entries(WELL_KNOWN).find(([, n]) => n.toLowerCase() === text.toLowerCase());
  return wk ? wk[0] : null;
}

const userParams = [
  { name: 'Name', type: 'string[]', position: 0 },
  { name: 'InputObject', valueFromPipeline: true },
  { name: 'SID' },
] as const;

export const accountCommands = [
  defineCmdlet({
    name: 'Get-LocalUser',
    parameters: [
      { name: 'Name', type: 'string[]', position: 0 },
      { name: 'SID', type: 'string[]' },
    ],
    source: `${LA}/get-localuser?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const names = strs(call, 'Name');
      const sids = strs(call, 'SID');
      if (names.length === 0 && sids.length === 0) return m.users.map((u) => localUserObject(m, u));
      const out: PsValue[] = [];
      for (const n of names) {
        if (hasWildcard(n)) {
          const re = wildcardToRegExp(n);
          for (const u of m.users) if (re.test(u.name)) out.push(localUserObject(m, u));
          continue;
        }
        const u = m.findUser(n);
        if (!u) throw userNotFound(n, 'Get-LocalUser');
        out.push(localUserObject(m, u));
      }
      for (const s of sids) {
        const u = m.findUserBySid(s);
        if (!u) throw userNotFound(s, 'Get-LocalUser');
        out.push(localUserObject(m, u));
      }
      return out;
    },
  }),
  defineCmdlet({
    name: 'New-LocalUser',
    parameters: [
      { name: 'Name', type: 'string', position: 0, mandatory: true },
      { name: 'Password', position: 1 },
      { name: 'NoPassword', type: 'switch' },
      { name: 'FullName', type: 'string' },
      { name: 'Description', type: 'string' },
      { name: 'AccountExpires' },
      { name: 'AccountNeverExpires', type: 'switch' },
      { name: 'Disabled', type: 'switch' },
      { name: 'PasswordNeverExpires', type: 'switch' },
      { name: 'UserMayNotChangePassword', type: 'switch' },
    ],
    source: `${LA}/new-localuser?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const name = str(call, 'Name') ?? '';
      const noPassword = flag(call, 'NoPassword');
      const password = secret(call, 'Password');
      if (password === null && !noPassword)
        throw psError(
          'Cannot process command because of one or more missing mandatory parameters: Password.',
          `MissingMandatoryParameter,${cls('New-LocalUser')}`,
          'InvalidArgument',
          'System.Management.Automation.ParameterBindingException',
        );
      if (m.findUser(name) || m.findGroup(name))
        throw psError(
          `User ${name} already exists.`,
          `UserExists,${cls('New-LocalUser')}`,
          'ResourceExists',
          `${NS}.UserExistsException`,
        );
      if (password !== null) checkPassword(m, call, name, password);
      const u = m.addUser({
        name,
        password,
        passwordRequired: !noPassword,
        enabled: !flag(call, 'Disabled'),
        fullName: str(call, 'FullName') ?? '',
        description: str(call, 'Description') ?? '',
        passwordNeverExpires: flag(call, 'PasswordNeverExpires'),
        userMayChangePassword: !flag(call, 'UserMayNotChangePassword'),
      });
      return [localUserObject(m, u)];
    },
  }),
  defineCmdlet({
    name: 'Set-LocalUser',
    parameters: [
      ...userParams,
      { name: 'Password' },
      { name: 'FullName', type: 'string' },
      { name: 'Description', type: 'string' },
      { name: 'AccountExpires' },
      { name: 'AccountNeverExpires', type: 'switch' },
      { name: 'PasswordNeverExpires', type: 'bool' },
      { name: 'UserMayChangePassword', type: 'bool' },
    ],
    source: `${LA}/set-localuser?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      for (const u of targetUsers(call, 'Set-LocalUser')) {
        const password = secret(call, 'Password');
        if (password !== null) {
          checkPassword(m, call, u.name, password);
          u.password = password;
          u.passwordLastSet = m.now();
        }
        const fullName = str(call, 'FullName');
        if (fullName !== null) u.fullName = fullName;
        const description = str(call, 'Description');
        if (description !== null) u.description = description;
        if (has(call, 'PasswordNeverExpires'))
          u.passwordNeverExpires = flag(call, 'PasswordNeverExpires');
        if (has(call, 'UserMayChangePassword'))
          u.userMayChangePassword = flag(call, 'UserMayChangePassword');
        if (flag(call, 'AccountNeverExpires')) u.accountExpires = null;
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'Remove-LocalUser',
    parameters: userParams,
    source: `${LA}/remove-localuser?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      for (const u of targetUsers(call, 'Remove-LocalUser')) m.removeUser(u);
      return [];
    },
  }),
  defineCmdlet({
    name: 'Enable-LocalUser',
    parameters: userParams,
    source: `${LA}/enable-localuser?view=powershell-5.1`,
    run(call) {
      for (const u of targetUsers(call, 'Enable-LocalUser')) u.enabled = true;
      return [];
    },
  }),
  defineCmdlet({
    name: 'Disable-LocalUser',
    parameters: userParams,
    source: `${LA}/disable-localuser?view=powershell-5.1`,
    run(call) {
      for (const u of targetUsers(call, 'Disable-LocalUser')) u.enabled = false;
      return [];
    },
  }),
  defineCmdlet({
    name: 'Get-LocalGroup',
    parameters: [
      { name: 'Name', type: 'string[]', position: 0 },
      { name: 'SID', type: 'string[]' },
    ],
    source: `${LA}/get-localgroup?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const names = [...strs(call, 'Name'), ...strs(call, 'SID')];
      if (names.length === 0) return m.groups.map(localGroupObject);
      return names.flatMap((n) => {
        if (hasWildcard(n))
          return m.groups.filter((g) => wildcardToRegExp(n).test(g.name)).map(localGroupObject);
        const g = m.findGroup(n);
        if (!g) throw groupNotFound(n, 'Get-LocalGroup');
        return [localGroupObject(g)];
      });
    },
  }),
  defineCmdlet({
    name: 'Get-LocalGroupMember',
    parameters: [
      { name: 'Group', position: 0 },
      { name: 'Name', type: 'string' },
      { name: 'SID' },
      { name: 'Member', type: 'string', position: 1 },
    ],
    source: `${LA}/get-localgroupmember?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const g = targetGroup(call, 'Get-LocalGroupMember');
      const member = str(call, 'Member');
      const all = g.members.map((s) => memberObject(m, s));
      if (member === null) return all;
      const matching = all.filter((o) => {
        const n = principalText((o as { get(k: string): PsValue }).get('Name'));
        const re = wildcardToRegExp(member.includes('\\') ? member : `*\\${member}`);
        return re.test(n);
      });
      if (matching.length === 0 && !hasWildcard(member))
        throw psError(
          `Member ${member} was not found in group ${g.name}.`,
          `MemberNotFound,${cls('Get-LocalGroupMember')}`,
          'ObjectNotFound',
          `${NS}.MemberNotFoundException`,
        );
      return matching;
    },
  }),
  defineCmdlet({
    name: 'Add-LocalGroupMember',
    parameters: [
      { name: 'Group', position: 0 },
      { name: 'Name', type: 'string' },
      { name: 'SID' },
      { name: 'Member', type: 'object[]', position: 1, mandatory: true, valueFromPipeline: true },
    ],
    source: `${LA}/add-localgroupmember?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const g = targetGroup(call, 'Add-LocalGroupMember');
      const members = [
        ...((value(call, 'Member') as PsValue[] | null) ?? []),
        ...call.input,
      ].flat();
      for (const raw of members) {
        const text = principalText(raw);
        const sid = resolveMember(m, text);
        if (sid === null)
          throw psError(
            `Principal ${text} was not found.`,
            `PrincipalNotFound,${cls('Add-LocalGroupMember')}`,
            'ObjectNotFound',
            `${NS}.PrincipalNotFoundException`,
          );
        if (g.members.includes(sid))
          throw psError(
            `${text} is already a member of group ${g.name}.`,
            `MemberExists,${cls('Add-LocalGroupMember')}`,
            'ResourceExists',
            `${NS}.MemberExistsException`,
          );
        g.members.push(sid);
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'Remove-LocalGroupMember',
    parameters: [
      { name: 'Group', position: 0 },
      { name: 'Name', type: 'string' },
      { name: 'SID' },
      { name: 'Member', type: 'object[]', position: 1, mandatory: true, valueFromPipeline: true },
    ],
    source: `${LA}/remove-localgroupmember?view=powershell-5.1`,
    run(call) {
      const m = machineOf(call);
      const g = targetGroup(call, 'Remove-LocalGroupMember');
      const members = [
        ...((value(call, 'Member') as PsValue[] | null) ?? []),
        ...call.input,
      ].flat();
      for (const raw of members) {
        const text = principalText(raw);
        const sid = resolveMember(m, text);
        if (sid === null)
          throw psError(
            `Principal ${text} was not found.`,
            `PrincipalNotFound,${cls('Remove-LocalGroupMember')}`,
            'ObjectNotFound',
            `${NS}.PrincipalNotFoundException`,
          );
        if (!g.members.includes(sid))
          throw psError(
            `Member ${text} was not found in group ${g.name}.`,
            `MemberNotFound,${cls('Remove-LocalGroupMember')}`,
            'ObjectNotFound',
            `${NS}.MemberNotFoundException`,
          );
        g.members = g.members.filter((s) => s !== sid);
      }
      return [];
    },
  }),
  defineCmdlet({
    name: 'ConvertTo-SecureString',
    parameters: [
      { name: 'String', type: 'string', position: 0, mandatory: true, valueFromPipeline: true },
      { name: 'AsPlainText', type: 'switch' },
      { name: 'Force', type: 'switch' },
      { name: 'Key' },
      { name: 'SecureKey' },
    ],
    pipeline: 'each',
    source:
      'https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.security/convertto-securestring?view=powershell-5.1',
    run(call) {
      const text = str(call, 'String') ?? '';
      if (!flag(call, 'AsPlainText'))
        // Without -AsPlainText the input is an encrypted standard string (DPAPI); the model has none.
        throw psError(
          'Input string was not in a correct format.',
          'ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand',
          'InvalidArgument',
          'System.FormatException',
        );
      if (!flag(call, 'Force'))
        throw psError(
          'The system cannot protect plain text input. To suppress this warning and convert the plain text to a SecureString, reissue the command specifying the Force parameter. For more information ,type: get-help ConvertTo-SecureString.',
          'ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand',
          'InvalidArgument',
          'System.ArgumentException',
        );
      return [new SecureStringValue(text)];
    },
  }),
];
