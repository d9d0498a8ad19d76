// The sysprep model: command-line validation, Panther logs, the generalize step and the
// specialize/oobeSystem passes run at the next boot.
//
// Sources:
// - Sysprep command-line options:
//   https://learn.microsoft.com/en-us/windows-hardware/manufacture/desktop/sysprep-command-line-options
//   (/generalize, /oobe | /audit, /reboot | /shutdown | /quit, /quiet, /unattend:<file>, /mode:vm; /mode:vm
//   only together with /generalize /oobe). The page does not say what happens with none of
//   /reboot /shutdown /quit: the model then quits (no power change) — an assumption.
// - Sysprep process overview (logs in %WINDIR%\System32\Sysprep\Panther, setupact.log / setuperr.log):
//   https://learn.microsoft.com/en-us/windows-hardware/manufacture/desktop/sysprep-process-overview
// - Windows Setup states (ImageState values, HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State):
//   https://learn.microsoft.com/en-us/windows-hardware/manufacture/desktop/windows-setup-states
// - AppX failure ("was installed for a user, but not provisioned for all users", 0x80073cf2):
//   https://learn.microsoft.com/en-us/troubleshoot/windows-client/deployment/sysprep-fails-remove-or-update-store-apps
// - Rearm limit (slc.dll,SLReArmWindows returning 0xC004D307 = -1073425657, SL_E_REARM_LIMIT_EXCEEDED) and
//   pending servicing (Sysprep_Clean_Validate_Opk, "one or more Windows updates that require a reboot"):
//   as widely reported setuperr.log lines; the exact surrounding lines are modelled, not copied.
// - Unattend: Microsoft-Windows-Shell-Setup ComputerName (specialize), UserAccounts AdministratorPassword /
//   LocalAccounts (oobeSystem), passwords with PlainText=false are base64(UTF-16LE(password + "Password"
//   | "AdministratorPassword")):
//   https://learn.microsoft.com/en-us/windows-hardware/customize/desktop/unattend/microsoft-windows-shell-setup-computername
//   https://learn.microsoft.com/en-us/windows-hardware/customize/desktop/unattend/microsoft-windows-shell-setup-useraccounts
// sysprep.exe is a GUI-subsystem program: on real Windows an error is shown in a dialog and, launched
// from PowerShell without Start-Process -Wait, it returns at once. The model returns when done, with a
// nonzero exit code on failure (a test peer's choice, documented here).

export type SysprepEnd = 'shutdown' | 'reboot' | 'quit';
export type SysprepFault = 'appx-user-package' | 'pending-servicing' | 'rearm-limit';

export interface SysprepOptions {
  generalize: boolean;
  mode: 'oobe' | 'audit' | null;
  end: SysprepEnd;
  quiet: boolean;
  unattend: string | null;
  vm: boolean;
}

export const IMAGE_STATE = {
  complete: 'IMAGE_STATE_COMPLETE',
  generalizeResealToOobe: 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE',
  generalizeResealToAudit: 'IMAGE_STATE_GENERALIZE_RESEAL_TO_AUDIT',
  specializeResealToOobe: 'IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE',
  specializeResealToAudit: 'IMAGE_STATE_SPECIALIZE_RESEAL_TO_AUDIT',
  unDeployable: 'IMAGE_STATE_UNDEPLOYABLE',
} as const;

/** Parses sysprep switches (case-insensitive, `/` or `-`). Returns an error text for an invalid line. */
export function parseSysprepArgs(args: readonly string[]): SysprepOptions | { error: string } {
  const o: SysprepOptions = {
    generalize: false,
    mode: null,
    end: 'quit',
    quiet: false,
    unattend: null,
    vm: false,
  };
  const ends: SysprepEnd[] = [];
  for (const raw of args) {
    const a = raw.replace(/^-/, '/').toLowerCase();
    if (a === '/generalize') o.generalize = true;
    else if (a === '/oobe' || a === '/audit') {
      const mode = a === '/oobe' ? 'oobe' : 'audit';
      if (o.mode !== null && o.mode !== mode)
        return { error: 'Conflicting switches: /oobe and /audit' };
      o.mode = mode;
    } else if (a === '/shutdown' || a === '/reboot' || a === '/quit')
      ends.push(a.slice(1) as SysprepEnd);
    else if (a === '/quiet') o.quiet = true;
    else if (a === '/mode:vm') o.vm = true;
    else if (a.startsWith('/unattend:')) o.unattend = raw.slice('/unattend:'.length);
    else return { error: `Invalid command line switch: ${raw}` };
  }
  if (new Set(ends).size > 1)
    return { error: 'Conflicting switches: only one of /shutdown, /reboot, /quit' };
  if (ends[0]) o.end = ends[0];
  if (o.vm && !(o.generalize && o.mode === 'oobe'))
    return { error: '/mode:vm is only supported with /generalize /oobe' };
  return o;
}

/** A setupact/setuperr line: `2024-05-01 10:00:00, Info                  SYSPRP text`. */
export function pantherLine(at: Date, level: 'Info' | 'Warning' | 'Error', text: string): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const ts = `${at.getUTCFullYear()}-${p(at.getUTCMonth() + 1)}-${p(at.getUTCDate())} ${p(at.getUTCHours())}:${p(at.getUTCMinutes())}:${p(at.getUTCSeconds())}`;
  return `${ts}, ${level.padEnd(22)}${text}\r\n`;
}

/** The failing lines each fault writes (to both setupact.log and setuperr.log). */
export function sysprepFaultLines(fault: SysprepFault, appxPackage: string): string[] {
  switch (fault) {
    case 'appx-user-package':
      return [
        `SYSPRP Package ${appxPackage} was installed for a user, but not provisioned for all users. This package will not function properly in the sysprep image.`,
        'SYSPRP Failed to remove apps for the current user: 0x80073cf2.',
        'SYSPRP Exit code of RemoveAllApps thread was 0x3cf2.',
        "SYSPRP ActionPlatform::LaunchModule: Failure occurred while executing 'SysprepGeneralizeValidate' from C:\\Windows\\System32\\AppxSysprep.dll; dwRet = 0x3cf2",
        'SYSPRP SysprepSession::Validate: Error in validating actions from C:\\Windows\\System32\\Sysprep\\ActionFiles\\Generalize.xml; dwRet = 0x3cf2',
        'SYSPRP RunPlatformActions:Failed while validating Sysprep session actions; dwRet = 0x3cf2',
        'SYSPRP RunDlls:An error occurred while running registry sysprep DLLs, halting sysprep execution. dwRet = 0x3cf2',
      ];
    case 'pending-servicing':
      return [
        'SYSPRP Sysprep_Clean_Validate_Opk: There are one or more Windows updates that require a reboot. To run Sysprep, reboot the computer and restart the application.[gle=0x000036b7]',
        "SYSPRP ActionPlatform::LaunchModule: Failure occurred while executing 'Sysprep_Clean_Validate_Opk' from C:\\Windows\\System32\\spopk.dll; dwRet = 0x36b7",
        'SYSPRP SysprepSession::Validate: Error in validating actions from C:\\Windows\\System32\\Sysprep\\ActionFiles\\Cleanup.xml; dwRet = 0x36b7',
        'SYSPRP RunPlatformActions:Failed while validating Sysprep session actions; dwRet = 0x36b7',
      ];
    case 'rearm-limit':
      return [
        "SYSPRP LaunchDll:Failure occurred while executing 'C:\\Windows\\System32\\slc.dll,SLReArmWindows', returned error code -1073425657",
        'SYSPRP RunRegistryDlls:An error occurred while running registry sysprep DLLs, halting sysprep execution. dwRet = -1073425657',
      ];
  }
}

/** Exit code of a failed sysprep run (the model's choice: nonzero; see the header). */
export const SYSPREP_FAILURE_EXIT_CODE = 1;

export interface UnattendSettings {
  computerName?: string;
  administratorPassword?: string;
  localAccounts: {
    name: string;
    password: string;
    group: string | null;
    displayName: string | null;
  }[];
}

function pass(xml: string, name: string): string {
  const re = new RegExp(`<settings\\s+pass="${name}"\\s*>([\\s\\S]*?)</settings>`, 'i');
  return re.exec(xml)?.[1] ?? '';
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'i').exec(xml);
  return m?.[1];
}

function xmlText(s: string): string {
  return s
    .trim()
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function password(block: string | undefined, suffix: string): string | undefined {
  if (block === undefined) return undefined;
  const value = xmlText(tag(block, 'Value') ?? '');
  const plain = (tag(block, 'PlainText') ?? 'true').trim().toLowerCase() !== 'false';
  if (plain) return value;
  const decoded = Buffer.from(value, 'base64').toString('utf16le');
  return decoded.endsWith(suffix) ? decoded.slice(0, -suffix.length) : decoded;
}

/** Minimal unattend.xml reading: the settings the model applies (see the header). */
export function parseUnattend(xml: string): UnattendSettings {
  const out: UnattendSettings = { localAccounts: [] };
  const specialize = pass(xml, 'specialize');
  const name = tag(specialize, 'ComputerName');
  if (name !== undefined) out.computerName = xmlText(name);
  const oobe = pass(xml, 'oobeSystem');
  const admin = password(tag(oobe, 'AdministratorPassword'), 'AdministratorPassword');
  if (admin !== undefined) out.administratorPassword = admin;
  const accounts = tag(oobe, 'LocalAccounts') ?? '';
  for (const m of accounts.matchAll(/<LocalAccount(?:\s[^>]*)?>([\s\S]*?)<\/LocalAccount>/gi)) {
    const body = m[1] ?? '';
    const n = tag(body, 'Name');
    if (n === undefined) continue;
    const g = tag(body, 'Group');
    const d = tag(body, 'DisplayName');
    out.localAccounts.push({
      name: xmlText(n),
      password: password(tag(body, 'Password'), 'Password') ?? '',
      group: g === undefined ? null : xmlText(g),
      displayName: d === undefined ? null : xmlText(d),
    });
  }
  return out;
}
