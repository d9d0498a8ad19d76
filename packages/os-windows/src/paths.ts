import { IMAGE_STAMP_PATHS } from '@vlab/core';

/** Every file and registry key the module reads or writes on a guest (the README lists them too). */
export const GUEST_PATHS = {
  /** The module's directory: stamp, reservation record, unattend file, first-boot script. */
  vlabDir: 'C:\\ProgramData\\vlab',
  /** The image stamp (fixed by the core contract). */
  stamp: IMAGE_STAMP_PATHS.windows,
  /** The accounts and addresses of the running reservation: what `sanitize` undoes. */
  reservation: 'C:\\ProgramData\\vlab\\reservation.json',
  /** The answer file `preCapture` hands sysprep; the first boot's SetupComplete deletes it. */
  unattend: 'C:\\ProgramData\\vlab\\unattend.xml',
  /** The first-boot script SetupComplete.cmd runs (host keys from an identity disk). */
  firstBootScript: 'C:\\ProgramData\\vlab\\first-boot.ps1',
  /** Windows Setup runs it once, as SYSTEM, after OOBE and before the logon screen. */
  setupComplete: 'C:\\Windows\\Setup\\Scripts\\SetupComplete.cmd',
  /** OpenSSH for Windows' configuration directory (`__PROGRAMDATA__\ssh`). */
  sshDir: 'C:\\ProgramData\\ssh',
  /** Keys that log in to any member of Administrators (the default sshd_config's Match block). */
  adminAuthorizedKeys: 'C:\\ProgramData\\ssh\\administrators_authorized_keys',
  /** Reservation users' keys, one file per login, named by `AuthorizedKeysFile` (see the README). */
  userKeysDir: 'C:\\ProgramData\\ssh\\vlab-authorized-keys',
  sshdConfig: 'C:\\ProgramData\\ssh\\sshd_config',
  sysprep: 'C:\\Windows\\System32\\Sysprep\\sysprep.exe',
  /** Sysprep's own logs (setupact.log, setuperr.log). */
  sysprepPanther: 'C:\\Windows\\System32\\Sysprep\\Panther',
  /** `ImageState`: where Windows Setup is (`IMAGE_STATE_COMPLETE` once OOBE finished). */
  setupStateKey: 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State',
  /** `fDenyTSConnections`: 0 lets Remote Desktop connections in. */
  terminalServerKey: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server',
} as const;

/** Well-known SIDs: group names are localized ("Administratoren"), SIDs are not. */
export const WELL_KNOWN_SIDS = {
  administrators: 'S-1-5-32-544',
  remoteDesktopUsers: 'S-1-5-32-555',
} as const;
