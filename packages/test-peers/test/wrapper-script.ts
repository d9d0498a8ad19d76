// The script @vlab/ssh sends (its powershell.ts), written once more here on purpose: the peer's
// tests must not take the client's word for the wire format they check it against.

/** Quotes like @vlab/ssh must: ' ‘ ’ ‚ ‛ are all quote characters and are doubled. */
export function quote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`;
}

/** The wrapper around `code`, with `argumentText` as written after the block (quoted or not). */
export function wrapperWithText(code: string, argumentText: string): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    '$OutputEncoding = [Console]::InputEncoding = [Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)',
    "[Console]::Error.WriteLine('vlab-pid:' + $PID)",
    'try {',
    '& {',
    code,
    `} ${argumentText}`,
    '} catch {',
    '[Console]::Error.WriteLine($_.ToString())',
    'exit 1',
    '}',
    'exit $LASTEXITCODE',
  ].join('\n');
}

/** The wrapper around `code` with `args` as verbatim literals. */
export function wrapper(code: string, args: readonly string[] = []): string {
  return wrapperWithText(code, args.map(quote).join(' '));
}

/** The exec command line Windows' sshd receives for `script`. */
export function commandLine(script: string): string {
  return `powershell.exe -NoProfile -NonInteractive -EncodedCommand ${Buffer.from(script, 'utf16le').toString('base64')}`;
}
