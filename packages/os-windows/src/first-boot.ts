import { IDENTITY_DISK } from '@vlab/core';
import { GUEST_PATHS } from './paths.js';

/**
 * `SetupComplete.cmd`: Windows Setup runs it once, as SYSTEM, after OOBE and before the logon
 * screen (not on an edition activated with an OEM key: Microsoft documents that it is skipped
 * there). It runs {@link FIRST_BOOT_PS1}, logging to `C:\ProgramData\vlab\first-boot.log`.
 */
export const SETUP_COMPLETE_CMD = `@echo off\r
rem Written by vlab os-windows: runs once, as SYSTEM, when Windows Setup has finished.\r
powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "${GUEST_PATHS.firstBootScript}" >> "${GUEST_PATHS.vlabDir}\\first-boot.log" 2>&1\r
`;

/**
 * The first-boot script. It deletes the answer file (it carried the image's administrator
 * password), enables the administrator account named in `first-boot.json` (client editions leave
 * the built-in one disabled after OOBE), installs host keys from an identity disk when one is
 * attached — a volume labelled `VLAB-ID` that Windows can read, with the layout of core's
 * identity disk protocol (manifest version 1, `ssh\ssh_host_<type>_key` and `.pub`) — else makes
 * keys where there are none, and only then starts sshd.
 */
export const FIRST_BOOT_PS1 =
  `# Written by vlab os-windows. Run once by SetupComplete.cmd, as SYSTEM, before the logon screen.
$ErrorActionPreference = 'Continue'
$vlab = '${GUEST_PATHS.vlabDir}'
$ssh = '${GUEST_PATHS.sshDir}'
Remove-Item -LiteralPath (Join-Path -Path $vlab -ChildPath 'unattend.xml') -Force -ErrorAction SilentlyContinue
Remove-Item -LiteralPath 'C:\\Windows\\Panther\\unattend.xml' -Force -ErrorAction SilentlyContinue
$settings = Get-Content -LiteralPath (Join-Path -Path $vlab -ChildPath 'first-boot.json') -Raw | ConvertFrom-Json
if ($null -ne $settings.administrator) { Enable-LocalUser -Name $settings.administrator }
$volume = Get-Volume -FileSystemLabel '${IDENTITY_DISK.label}' -ErrorAction SilentlyContinue | Where-Object { $_.DriveLetter } | Select-Object -First 1
if ($null -ne $volume) {
  $root = '' + $volume.DriveLetter + ':\\'
  $manifest = Get-Content -LiteralPath (Join-Path -Path $root -ChildPath '${IDENTITY_DISK.manifestPath}') -Raw -ErrorAction SilentlyContinue | ConvertFrom-Json
  if ($null -ne $manifest -and $manifest.version -eq ${IDENTITY_DISK.version}) {
    Stop-Service -Name sshd -Force -ErrorAction SilentlyContinue
    foreach ($key in @(Get-ChildItem -LiteralPath $ssh -Filter 'ssh_host_*')) { Remove-Item -LiteralPath $key.FullName -Force }
    Get-ChildItem -LiteralPath (Join-Path -Path $root -ChildPath '${IDENTITY_DISK.hostKeyDirectory}') -Filter 'ssh_host_*' | Copy-Item -Destination $ssh -Force
    # Windows' sshd refuses a private host key others can read: SYSTEM and Administrators only.
    foreach ($key in @(Get-ChildItem -LiteralPath $ssh -Filter 'ssh_host_*_key')) { $null = & icacls.exe $key.FullName /inheritance:r /grant '*S-1-5-18:F' '*S-1-5-32-544:F' }
    Write-Output 'host keys installed from the identity disk'
  }
}
if (@(Get-ChildItem -LiteralPath $ssh -Filter 'ssh_host_*_key').Count -eq 0) { & ssh-keygen.exe -A }
Set-Service -Name sshd -StartupType Automatic
Restart-Service -Name sshd -Force
`.replace(/\n/g, '\r\n');
