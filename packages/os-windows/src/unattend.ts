import type { Secret } from '@vlab/core';

/** What the answer file sets; every string already validated (see `validate.ts`). */
export interface UnattendSettings {
  /** The answer file's processorArchitecture. */
  readonly architecture: 'amd64' | 'arm64';
  readonly locale: string;
  readonly timeZone: string;
  /** The administrator password of the image's first boot. */
  readonly administratorPassword: Secret;
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/**
 * A password as the answer file stores it with `PlainText` false: base64 of the UTF-16LE bytes
 * of the password followed by the element name (`AdministratorPassword`). Obfuscation only, as
 * Windows System Image Manager writes it: the file is deleted at the first boot (SetupComplete).
 */
export function hiddenPassword(password: string, element = 'AdministratorPassword'): string {
  return Buffer.from(password + element, 'utf16le').toString('base64');
}

/**
 * The answer file `sysprep /unattend:` gets. generalize: drivers of this machine dropped, the
 * activation rearm skipped (the rearm count is limited). specialize: a new random computer name
 * (`*`: the machine's own name is reset; `postLoad` sets the lab's), time zone, Remote Desktop
 * allowed. oobeSystem: locale, every OOBE page answered, the administrator's password.
 */
export function unattendXml(settings: UnattendSettings): string {
  const component = (name: string, body: string): string =>
    `    <component name="${name}" processorArchitecture="${settings.architecture}" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">\n${body}    </component>\n`;
  const locale = xml(settings.locale);
  const timeZone = xml(settings.timeZone);
  return `<?xml version="1.0" encoding="utf-8"?>
<!-- Written by vlab os-windows for sysprep; deleted at the first boot by SetupComplete.cmd. -->
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="generalize">
${component('Microsoft-Windows-PnpSysprep', '      <PersistAllDeviceInstalls>false</PersistAllDeviceInstalls>\n')}${component('Microsoft-Windows-Security-SPP', '      <SkipRearm>1</SkipRearm>\n')}  </settings>
  <settings pass="specialize">
${component('Microsoft-Windows-Shell-Setup', `      <ComputerName>*</ComputerName>\n      <TimeZone>${timeZone}</TimeZone>\n`)}${component('Microsoft-Windows-TerminalServices-LocalSessionManager', '      <fDenyTSConnections>false</fDenyTSConnections>\n')}  </settings>
  <settings pass="oobeSystem">
${component('Microsoft-Windows-International-Core', `      <InputLocale>${locale}</InputLocale>\n      <SystemLocale>${locale}</SystemLocale>\n      <UILanguage>${locale}</UILanguage>\n      <UserLocale>${locale}</UserLocale>\n`)}${component(
  'Microsoft-Windows-Shell-Setup',
  `      <OOBE>
        <HideEULAPage>true</HideEULAPage>
        <HideLocalAccountScreen>true</HideLocalAccountScreen>
        <HideOEMRegistrationScreen>true</HideOEMRegistrationScreen>
        <HideOnlineAccountScreens>true</HideOnlineAccountScreens>
        <HideWirelessSetupInOOBE>true</HideWirelessSetupInOOBE>
        <ProtectYourPC>3</ProtectYourPC>
      </OOBE>
      <UserAccounts>
        <AdministratorPassword>
          <Value>${hiddenPassword(settings.administratorPassword.reveal())}</Value>
          <PlainText>false</PlainText>
        </AdministratorPassword>
      </UserAccounts>
      <TimeZone>${timeZone}</TimeZone>
`,
)}  </settings>
</unattend>
`.replace(/\n/g, '\r\n');
}
