/**
 * Values a user or a configuration could supply that would be code if pasted into a PowerShell
 * script: each must reach Windows as data (a verbatim literal, or on stdin) or be refused. The
 * POSIX corpus's classics plus PowerShell's own syntax: sub-expressions, back-tick escapes, here
 * strings, `${…}` variables, the stop-parsing token, the typographic quotes PowerShell reads as
 * quotes, and sizes past cmd.exe's line limit.
 */
export const POWERSHELL_HOSTILE_VALUES: readonly string[] = [
  "'; rm -rf / #",
  "'; Remove-Item -Recurse -Force C:\\ #",
  '$(Stop-Computer -Force)',
  '$(whoami)',
  '@(1,2)',
  '`whoami`',
  '`n`r`0`$`"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell syntax on purpose
  '${env:ComputerName}${function:Get-Item}',
  '$env:USERNAME $PID $true',
  '; Stop-Computer',
  '| Out-File C:\\pwned.txt',
  '& calc.exe',
  '&& echo pwned',
  "@'\nhere string\n'@",
  '@"\n$(whoami)\n"@',
  '--% /c echo pwned',
  '‘single’ “double” ‚low‛',
  "'‘’‚‛",
  '"',
  '“$(whoami)”',
  '#',
  '<# comment #>',
  'line one\nline two\r\n',
  '\t leading and trailing \t',
  '-Force',
  '-Name:evil',
  '--',
  '{ Stop-Computer }',
  '[Environment]::Exit(3)',
  'ünïcödé 名前 🙂',
  '\u2028\u2029\u0085',
  '',
  ' ',
  'x'.repeat(10 * 1024),
  `'${'$(x)'.repeat(2000)}'`,
];
