// Every PowerShell script the module sends, in one place, so the tests can parse each with the
// real grammar. Each is constant code (Windows PowerShell 5.1, as on Windows Server 2019/2022/2025
// and Windows 10/11): data arrives as `param()` arguments — verbatim literals — or as ASCII JSON
// on stdin, never pasted in. Each stays small: the transport sends it as an encoded command line
// that cmd.exe caps at 8191 characters (about 2.7 characters per character of script).
//
// Conventions: `-ErrorAction SilentlyContinue` only where "absent" is a normal answer; a script
// that calls a native program ends with an explicit `exit` (the wrapper would otherwise exit with
// that program's code); `$null = …` discards output objects (Out-Null is not used).

const READ_STDIN = '$in = [Console]::In.ReadToEnd() | ConvertFrom-Json';

/** The PowerShell scripts of the module, by name (the name is what errors and logs show). */
export const PS = {
  /** A text file's content (exit 3: no such file). */
  readFile: `param($Path)
if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { exit 3 }
$text = Get-Content -LiteralPath $Path -Raw
if ($null -ne $text) { Write-Output $text }`,

  /** Writes stdin's `text` to a file (ASCII, exactly, no final newline added), creating its directory. */
  writeFile: `param($Path, $Dir)
${READ_STDIN}
if (-not (Test-Path -LiteralPath $Dir)) { $null = New-Item -ItemType Directory -Path $Dir -Force }
Set-Content -LiteralPath $Path -Value $in.text -NoNewline -Encoding ASCII`,

  /** Removes stdin's `paths` (recursively, missing ones skipped); prints how many existed. */
  removePaths: `${READ_STDIN}
$n = 0
foreach ($p in $in.paths) {
  if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force; $n++ }
}
Write-Output $n`,

  /** One registry value (exit 3: no such key or value). */
  readRegistry: `param($Key, $Name)
$item = Get-ItemProperty -LiteralPath $Key -Name $Name -ErrorAction SilentlyContinue
if ($null -eq $item) { exit 3 }
$item | Select-Object -ExpandProperty $Name | Write-Output`,

  /** Sets one registry value (creating the key); prints `changed` when it was different. */
  writeRegistry: `param($Key, $Name, $Type, $Value)
if (-not (Test-Path -LiteralPath $Key)) { $null = New-Item -Path $Key -Force }
$item = Get-ItemProperty -LiteralPath $Key -Name $Name -ErrorAction SilentlyContinue
if ($null -ne $item -and ($item | Select-Object -ExpandProperty $Name) -eq $Value) { exit 0 }
$null = New-ItemProperty -LiteralPath $Key -Name $Name -PropertyType $Type -Value $Value -Force
Write-Output 'changed'`,

  /** What the module learns before it changes anything: setup state, names, boot, connection. */
  facts: `$state = Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State' -ErrorAction SilentlyContinue
$pending = Get-ItemProperty -LiteralPath 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName' -ErrorAction SilentlyContinue
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$active = & hostname.exe
@{
  imageState = $state.ImageState
  activeName = $active
  pendingName = $pending.ComputerName
  bootTime = $os.LastBootUpTime
  caption = $os.Caption
  connection = $env:SSH_CONNECTION
  architecture = $env:PROCESSOR_ARCHITECTURE
} | ConvertTo-Json -Compress
exit 0`,

  /** The current boot: Win32_OperatingSystem.LastBootUpTime, which changes at every boot. */
  bootTime: `$os = Get-CimInstance -ClassName Win32_OperatingSystem
$os.LastBootUpTime | ConvertTo-Json -Compress`,

  /** Answers when PowerShell runs: the responsiveness probe. */
  probe: `Write-Output 'vlab-ok'`,

  /** The local accounts' names and SIDs, as a JSON array. */
  listUsers: `$users = @(Get-LocalUser | ForEach-Object { @{ name = $_.Name; sid = $_.SID.Value } })
ConvertTo-Json -InputObject $users -Compress`,

  /**
   * Creates or updates a reservation account: password (stdin, always set: a key-only user gets
   * one nobody knows), full name, Remote Desktop Users, and Administrators only when admin.
   * Groups by SID: their names are localized. Prints the account's SID.
   */
  applyUser: `param($Name)
${READ_STDIN}
$password = ConvertTo-SecureString -String $in.password -AsPlainText -Force
$user = Get-LocalUser -Name $Name -ErrorAction SilentlyContinue
if ($null -eq $user) {
  $user = New-LocalUser -Name $Name -Password $password -FullName $in.fullName -Description 'vlab reservation account' -AccountNeverExpires -PasswordNeverExpires
} else {
  Set-LocalUser -Name $Name -Password $password -FullName $in.fullName
  Enable-LocalUser -Name $Name
}
if ($null -eq (Get-LocalGroupMember -SID 'S-1-5-32-555' -Member $Name -ErrorAction SilentlyContinue)) {
  Add-LocalGroupMember -SID 'S-1-5-32-555' -Member $Name
}
$isAdmin = $null -ne (Get-LocalGroupMember -SID 'S-1-5-32-544' -Member $Name -ErrorAction SilentlyContinue)
if ($in.admin -and -not $isAdmin) { Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $Name }
if (-not $in.admin -and $isAdmin) { Remove-LocalGroupMember -SID 'S-1-5-32-544' -Member $Name }
Write-Output $user.SID.Value`,

  /** The WTS sessions of one user (quser's table; exit 1 and stderr when there is none). */
  userSessions: `param($Name)
& quser.exe $Name`,

  /** Ends one WTS session. */
  logoffSession: `param($Id)
& logoff.exe $Id
exit $LASTEXITCODE`,

  /**
   * Removes an account: disabled first (no new logon), its processes ended (SSH logons have no WTS
   * session), then the account and its profile (Win32_UserProfile by SID: folder and registry).
   * `$Sid` is the recorded SID, for a profile whose account an interrupted sanitize already removed.
   */
  removeUser: `param($Name, $Sid)
$user = Get-LocalUser -Name $Name -ErrorAction SilentlyContinue
if ($null -ne $user) {
  $Sid = $user.SID.Value
  Disable-LocalUser -Name $Name
  $null = & taskkill.exe /F /FI ('USERNAME eq ' + $Name)
  Remove-LocalUser -Name $Name
}
if ($Sid -ne '') {
  Get-CimInstance -ClassName Win32_UserProfile | Where-Object { $_.SID -eq $Sid } | Remove-CimInstance
}
exit 0`,

  /** Sets the administrator's password from stdin and makes sure the account is enabled. */
  setAdministratorPassword: `param($Name)
${READ_STDIN}
Set-LocalUser -Name $Name -Password (ConvertTo-SecureString -String $in.password -AsPlainText -Force)
Enable-LocalUser -Name $Name`,

  /** Makes a (domain) group a member of Administrators; prints `changed` when it was not. */
  addAdministratorsMember: `param($Member)
if ($null -ne (Get-LocalGroupMember -SID 'S-1-5-32-544' -Member $Member -ErrorAction SilentlyContinue)) { exit 0 }
Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $Member
Write-Output 'changed'`,

  /**
   * Makes inbound rule stdin.name allow TCP stdin.port from stdin.addresses only (no addresses:
   * the rule goes). Prints `created`, `updated`, `removed` or nothing.
   */
  setFirewallRule: `${READ_STDIN}
$rule = Get-NetFirewallRule -Name $in.name -ErrorAction SilentlyContinue
$addresses = @($in.addresses)
if ($addresses.Count -eq 0) {
  if ($null -ne $rule) { Remove-NetFirewallRule -Name $in.name; Write-Output 'removed' }
  exit 0
}
if ($null -eq $rule) {
  $null = New-NetFirewallRule -Name $in.name -DisplayName $in.name -Group 'vlab' -Direction Inbound -Protocol TCP -LocalPort $in.port -RemoteAddress $addresses -Action Allow -Profile Any
  Write-Output 'created'
} else {
  Set-NetFirewallRule -Name $in.name -Protocol TCP -LocalPort $in.port -RemoteAddress $addresses -Enabled True
  Write-Output 'updated'
}`,

  /**
   * Disables the image's own open-to-everyone rules for Remote Desktop (the built-in group, by
   * its locale-independent resource name) and, when asked, OpenSSH's, so only vlab's rules open
   * the ports. Prints how many were enabled.
   */
  closeBuiltInRules: `param($Ssh)
$rules = @(Get-NetFirewallRule -Group '@FirewallAPI.dll,-28752' -ErrorAction SilentlyContinue)
if ($Ssh -eq 'yes') { $rules += @(Get-NetFirewallRule -Name 'OpenSSH-Server-In-TCP' -ErrorAction SilentlyContinue) }
$open = @($rules | Where-Object { $_.Enabled -eq 'True' })
foreach ($rule in $open) { Set-NetFirewallRule -Name $rule.Name -Enabled False }
Write-Output $open.Count`,

  /**
   * Gives the firewall back its image defaults for a capture: OpenSSH's own rule enabled first,
   * then every vlab rule removed (so a captured image answers SSH from any management address at
   * its first boot, until postLoad). Without OpenSSH's rule vlab's stay (no lock-out). Prints how
   * many rules went.
   */
  resetFirewall: `if ($null -eq (Get-NetFirewallRule -Name 'OpenSSH-Server-In-TCP' -ErrorAction SilentlyContinue)) { Write-Output 0; exit 0 }
Enable-NetFirewallRule -Name 'OpenSSH-Server-In-TCP'
$rules = @(Get-NetFirewallRule -Group 'vlab' -ErrorAction SilentlyContinue)
foreach ($rule in $rules) { Remove-NetFirewallRule -Name $rule.Name }
Write-Output $rules.Count`,

  /** Clears every event log (some cannot be cleared: they are skipped); prints how many were. */
  clearEventLogs: `$n = 0
foreach ($log in @(& wevtutil.exe el)) {
  & wevtutil.exe cl $log
  if ($LASTEXITCODE -eq 0) { $n++ }
}
Write-Output $n
exit 0`,

  /** Empties the temporary directories (files in use stay). */
  clearTemp: `foreach ($dir in @('C:\\Windows\\Temp', $env:TEMP)) {
  if ($dir -and (Test-Path -LiteralPath $dir)) {
    foreach ($item in @(Get-ChildItem -LiteralPath $dir -Force)) {
      Remove-Item -LiteralPath $item.FullName -Recurse -Force -ErrorAction SilentlyContinue
    }
  }
}`,

  /** The public host keys of sshd, one per line. */
  hostKeys: `Get-ChildItem -LiteralPath 'C:\\ProgramData\\ssh' -Filter 'ssh_host_*_key.pub' | ForEach-Object { Get-Content -LiteralPath $_.FullName -Raw }`,

  /** Removes sshd's host keys; prints how many files went. */
  removeHostKeys: `$keys = @(Get-ChildItem -LiteralPath 'C:\\ProgramData\\ssh' -Filter 'ssh_host_*')
foreach ($key in $keys) { Remove-Item -LiteralPath $key.FullName -Force }
Write-Output $keys.Count`,

  /** New host keys (the old ones removed first), printed one public key per line. */
  newHostKeys: `foreach ($key in @(Get-ChildItem -LiteralPath 'C:\\ProgramData\\ssh' -Filter 'ssh_host_*')) { Remove-Item -LiteralPath $key.FullName -Force }
$null = & ssh-keygen.exe -A
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Get-ChildItem -LiteralPath 'C:\\ProgramData\\ssh' -Filter 'ssh_host_*_key.pub' | ForEach-Object { Get-Content -LiteralPath $_.FullName -Raw }
exit 0`,

  /**
   * Gives a file the ACL OpenSSH for Windows demands of key files (Microsoft's instructions for
   * administrators_authorized_keys): no inherited entries, full control for Administrators and
   * SYSTEM only (by SID: the names are localized).
   */
  protectFile: `param($Path)
$null = & icacls.exe $Path /inheritance:r /grant '*S-1-5-32-544:F' '*S-1-5-18:F'
exit $LASTEXITCODE`,

  /** Restarts sshd (it re-reads its config and keys; open sessions stay) and keeps it automatic. */
  restartSshd: `Set-Service -Name sshd -StartupType Automatic
Restart-Service -Name sshd -Force`,

  /**
   * Runs sysprep and waits for it: sysprep.exe is a GUI program, which PowerShell would not wait
   * for; piping its (empty) output makes it wait and sets $LASTEXITCODE.
   */
  sysprep: `param($End, $Unattend)
& 'C:\\Windows\\System32\\Sysprep\\sysprep.exe' /generalize /oobe /quiet $End ('/unattend:' + $Unattend) | Write-Output
exit $LASTEXITCODE`,

  /** The last lines of sysprep's logs, as JSON `{ err: [...], act: [...] }`. */
  sysprepLogs: `$logs = @{ err = @(); act = @() }
foreach ($name in @('err', 'act')) {
  $path = Join-Path -Path 'C:\\Windows\\System32\\Sysprep\\Panther' -ChildPath ('setup' + $name + '.log')
  if (Test-Path -LiteralPath $path) { $logs[$name] = @(Get-Content -LiteralPath $path | Select-Object -Last 400) }
}
$logs | ConvertTo-Json -Compress`,

  /** Renames the computer (effective at the next boot). */
  renameComputer: `param($Name)
Rename-Computer -NewName $Name -Force -WarningAction SilentlyContinue`,

  /** Starts a shutdown (returns at once; the machine goes off shortly after). */
  shutdown: `Stop-Computer -Force`,

  /** Starts a reboot (returns at once). */
  reboot: `Restart-Computer -Force`,

  /** The executables of the image's end-of-reservation directory, in name order. */
  listPostReservation: `param($Dir)
if (-not (Test-Path -LiteralPath $Dir)) { exit 0 }
Get-ChildItem -LiteralPath $Dir -Filter '*.cmd' | Select-Object -ExpandProperty FullName | Write-Output`,

  /** Runs one end-of-reservation script. */
  runPostReservation: `param($Path)
& $Path
exit $LASTEXITCODE`,
} as const;

/** The name of one of the module's scripts. */
export type ScriptName = keyof typeof PS;
