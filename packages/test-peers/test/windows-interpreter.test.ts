// The Windows peer's PowerShell interpreter, without SSH: each modelled construct, its errors,
// and that anything not modelled is an error rather than silently ignored.
import { describe, expect, it } from 'vitest';
import { defineCmdlet, defineNative, PsObject } from '../src/windows/interpreter/command.js';
import { runPowerShell } from '../src/windows/interpreter/exec.js';
import { wrapper } from './wrapper-script.js';

async function out(script: string, stdin?: string): Promise<string> {
  const result = await runPowerShell(script, stdin === undefined ? {} : { stdin });
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

describe('the wrapper script', () => {
  it('passes arguments to param() and writes the pid line, exit 0', async () => {
    const result = await runPowerShell(
      wrapper('param($A, $B)\nWrite-Output "$A|$B"', ["it's", 'b']),
    );
    expect(result).toMatchObject({
      stdout: "it's|b\r\n",
      stderr: 'vlab-pid:4000\r\n',
      exitCode: 0,
    });
  });

  it('reads JSON from stdin', async () => {
    const code =
      '$in = [Console]::In.ReadToEnd() | ConvertFrom-Json\n"$($in.name) $($in.list.Count) $($in.list[1])"';
    const result = await runPowerShell(wrapper(code), {
      stdin: '{"name":"secret","list":[1,2,3]}',
    });
    expect(result.stdout).toBe('secret 3 2\r\n');
  });

  it('reports an error through the catch block and exits 1', async () => {
    const result = await runPowerShell(wrapper("throw 'it broke'"));
    expect(result).toMatchObject({
      stdout: '',
      stderr: 'vlab-pid:4000\r\nit broke\r\n',
      exitCode: 1,
    });
  });

  it('exits with an explicit exit code from inside the block', async () => {
    expect((await runPowerShell(wrapper('exit 7'))).exitCode).toBe(7);
  });

  it('exits with a native command’s exit code through $LASTEXITCODE', async () => {
    const result = await runPowerShell(wrapper('& taskkill.exe /F /PID 999'));
    expect(result.exitCode).toBe(128);
    expect(result.stderr).toBe('vlab-pid:4000\r\nERROR: The process "999" not found.\r\n');
  });

  it('exits 0 when $LASTEXITCODE was never set ($null)', async () => {
    expect((await runPowerShell(wrapper("'x' | Out-Null"))).exitCode).toBe(0);
  });

  it('takes $args when there is no param block', async () => {
    expect((await runPowerShell(wrapper('$args.Count; $args[1]', ['a', 'b']))).stdout).toBe(
      '2\r\nb\r\n',
    );
  });
});

describe('console encodings', () => {
  it('start as the OEM code page: stdin and stdout lose what is not ASCII', async () => {
    const result = await runPowerShell('[Console]::Out.Write([Console]::In.ReadToEnd() + "|ü")', {
      stdin: '名前 ok',
    });
    expect(result.stdout).toBe('?? ok|?');
  });

  it('carry unicode both ways once the script sets UTF-8 (as the wrapper does)', async () => {
    const result = await runPowerShell(
      wrapper('[Console]::Out.Write([Console]::In.ReadToEnd() + "|ü")'),
      { stdin: '名前 ok' },
    );
    expect(result.stdout).toBe('名前 ok|ü');
  });

  it('model only UTF-8', async () => {
    const result = await runPowerShell('[Console]::OutputEncoding = 5');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/does not model setting the static member/);
  });
});

describe('values and operators', () => {
  it('strings: verbatim, expandable, sub-expressions, here-strings, escapes', async () => {
    const script = [
      '[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)',
      "$n = 'wor''ld'",
      '"hello $n"',
      '"sum $(1 + 2) `"q`" ""d"""',
      "@'\nraw $n\n'@",
      '@"\nexp $n\n"@',
      "'a’’b'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell syntax on purpose
      '"${n}!"',
    ].join('\n');
    expect(await out(script)).toBe(
      'hello wor\'ld\r\nsum 3 "q" "d"\r\nraw $n\r\nexp wor\'ld\r\na’b\r\nwor\'ld!\r\n',
    );
  });

  it('numbers, arithmetic, casts, and their string forms', async () => {
    expect(
      await out('1 + 2 * 3; 7 / 2; [int]2.5; [int]3.5; [int]"42" + 1; "1" + 2; 0x10; 2kb; -5'),
    ).toBe('7\r\n3.5\r\n2\r\n4\r\n43\r\n12\r\n16\r\n2048\r\n-5\r\n');
  });

  it('booleans and comparisons', async () => {
    expect(
      await out(
        "$true; 1 -eq '1'; 'ABC' -eq 'abc'; 'ABC' -ceq 'abc'; 2 -gt 1; 'b' -lt 'a'; 3 -ge 3; 1 -le 0; 1 -ne 2",
      ),
    ).toBe('True\r\nTrue\r\nTrue\r\nFalse\r\nTrue\r\nFalse\r\nTrue\r\nFalse\r\nTrue\r\n');
  });

  it('-like, -match with $Matches, -contains, -in, -join, -split, -replace, -not, !, -and, -or', async () => {
    const script = [
      "'Windows' -like 'win*'",
      "'Windows' -notlike 'x*'",
      "if ('Build 20348' -match '(\\d+)') { $Matches[1] }",
      "@('a','b') -contains 'B'",
      "'c' -in @('a','b')",
      "@(1,2,3) -join '-'",
      "('a,b' -split ',').Count",
      "'a.b.c' -replace '\\.', '/'",
      '-not $false',
      '!$true',
      '$true -and $false',
      '$false -or 1',
      "@(1,2,3) -gt 1 -join ','",
    ].join('\n');
    expect(await out(script)).toBe(
      'True\r\nTrue\r\n20348\r\nTrue\r\nFalse\r\n1-2-3\r\n2\r\na/b/c\r\nTrue\r\nFalse\r\nFalse\r\nTrue\r\n2,3\r\n',
    );
  });

  it('arrays, hashtables, ordered and pscustomobject, member access, indexing', async () => {
    const script = [
      '$a = @(1, 2, 3)',
      '$a.Count; $a[-1]; $a.Length',
      '$b = 4, 5',
      '$b.Count',
      '$e = @()',
      '$e.Count',
      '$h = @{ Name = "n"; Value = 2 }',
      '$h.Name; $h["Value"]; $h.Count',
      '$h.Extra = "x"; $h.Extra',
      '$o = [pscustomobject]@{ z = 1; a = 2 }',
      '$o.z + $o.A',
      '[ordered]@{ z = 1; a = @(1, 2) } | ConvertTo-Json -Compress',
      '$s = "  padded  "; $s.Trim(); $s.Length; "A,B".Split(",")[1]; "Mixed".ToLower(); "abc".Contains("b"); "abc".StartsWith("ab")',
      '[string[]]$list = 1, 2; $list[0].GetType',
    ].join('\n');
    const result = await runPowerShell(script);
    expect(result.stdout).toBe(
      '3\r\n3\r\n3\r\n2\r\n0\r\nn\r\n2\r\n2\r\nx\r\n3\r\n{"z":1,"a":[1,2]}\r\npadded\r\n10\r\nB\r\nmixed\r\nTrue\r\nTrue\r\n',
    );
    // .GetType is a .NET method group the peer does not model: an error, not silence.
    expect(result.stderr).toContain('the Windows peer does not model the property String.GetType');
  });

  it('+= on numbers, strings and arrays', async () => {
    expect(
      await out(
        '$n = 1; $n += 2; $n; $s = "a"; $s += "b"; $s; $l = @(); $l += 1; $l += 2; $l.Count',
      ),
    ).toBe('3\r\nab\r\n2\r\n');
  });
});

describe('statements', () => {
  it('if / elseif / else', async () => {
    const script =
      "foreach ($n in 1, 2, 3) { if ($n -eq 1) { 'one' } elseif ($n -eq 2) { 'two' } else { 'many' } }";
    expect(await out(script)).toBe('one\r\ntwo\r\nmany\r\n');
  });

  it('foreach with break and continue, while, for, do', async () => {
    const script = [
      '$t = 0; foreach ($i in 1..10) { if ($i -eq 2) { continue }; if ($i -eq 5) { break }; $t += $i }; $t',
      '$i = 0; while ($i -lt 3) { $i++ }; $i',
      '$s = ""; for ($j = 0; $j -lt 3; $j++) { $s += $j }; $s',
      '$k = 0; do { $k += 1 } while ($k -lt 4); $k',
    ].join('\n');
    expect(await out(script)).toBe('8\r\n3\r\n012\r\n4\r\n');
  });

  it('try / catch / finally, $_ as an ErrorRecord', async () => {
    const script = [
      "try { Get-Nothing } catch { $_.Exception.Message.Length -gt 0; $_.FullyQualifiedErrorId } finally { 'finally' }",
      'try { throw \'custom\' } catch { $_.ToString(); "$_" }',
      "try { 'body' } finally { 'always' }",
    ].join('\n');
    const result = await runPowerShell(`$ErrorActionPreference = 'Stop'\n${script}`);
    expect(result.stdout).toBe(
      'True\r\nCommandNotFoundException\r\nfinally\r\ncustom\r\ncustom\r\nbody\r\nalways\r\n',
    );
    expect(result.exitCode).toBe(0);
  });

  it('finally runs on exit', async () => {
    const result = await runPowerShell("try { exit 4 } finally { 'cleanup' }");
    expect(result).toMatchObject({ stdout: 'cleanup\r\n', exitCode: 4 });
  });

  it('return leaves the script block with its output', async () => {
    expect(await out("$r = & { 'a'; return 'b'; 'c' }; $r -join ','")).toBe('a,b\r\n');
  });

  it('functions with parameters', async () => {
    const script = [
      'function Add-Two {',
      '  param([int]$X, [switch]$Loud)',
      '  if ($Loud) { "LOUD $($X + 2)" } else { $X + 2 }',
      '}',
      'Add-Two 3',
      'Add-Two -X 4 -Loud',
      'function Get-Pair($a, $b) { "$a/$b" }',
      'Get-Pair 1 2',
    ].join('\n');
    expect(await out(script)).toBe('5\r\nLOUD 6\r\n1/2\r\n');
  });

  it('scopes: a block’s assignment is local; $script: and $global: reach the top', async () => {
    const script = [
      '$v = 1',
      '& { $v = 2; $script:w = 3; $global:g = 4 }',
      '$v; $w; $g',
      '. { $v = 5 }',
      '$v',
    ].join('\n');
    expect(await out(script)).toBe('1\r\n3\r\n4\r\n5\r\n');
  });

  it('& with a command name string and a variable holding a script block', async () => {
    const script =
      "$sb = { param($p) \"got $p\" }\n& $sb 'x'\n& 'Write-Output' 'named'\n$name = 'hostname.exe'\n& $name";
    expect(await out(script)).toBe('got x\r\nnamed\r\nVLAB-WIN\r\n');
  });

  it('$env: variables', async () => {
    expect(await out('$env:COMPUTERNAME; $env:VLAB_X = "y"; $env:vlab_x')).toBe(
      'VLAB-WIN\r\ny\r\n',
    );
  });
});

describe('pipelines and commands', () => {
  it('passes output objects along a pipeline', async () => {
    expect(
      await out(
        '1..6 | Where-Object { $_ % 2 -eq 0 } | ForEach-Object { $_ * 10 } | Select-Object -First 2',
      ),
    ).toBe('20\r\n40\r\n');
  });

  it('Select-Object -ExpandProperty, ConvertTo-Json of objects', async () => {
    const script = [
      "$items = @([pscustomobject]@{ Name = 'a'; N = 1 }, [pscustomobject]@{ Name = 'b'; N = 2 })",
      '$items | Select-Object -ExpandProperty Name',
      '$items | ConvertTo-Json -Compress',
      '@($items[0]) | ConvertTo-Json -Compress',
      'ConvertTo-Json -InputObject @(1) -Compress',
      '$null | ConvertTo-Json',
      '\'<tag> & "q"\' | ConvertTo-Json',
      '@{ a = @{ b = @{ c = @{ d = 1 } } } } | ConvertTo-Json -Compress',
      '@{ a = @{ b = @{ c = @{ d = 1 } } } } | ConvertTo-Json -Compress -Depth 5',
    ].join('\n');
    expect(await out(script)).toBe(
      [
        'a',
        'b',
        '[{"Name":"a","N":1},{"Name":"b","N":2}]',
        '{"Name":"a","N":1}',
        '[1]',
        'null',
        '"\\u003ctag\\u003e \\u0026 \\"q\\""',
        '{"a":{"b":{"c":"System.Collections.Hashtable"}}}',
        '{"a":{"b":{"c":{"d":1}}}}',
        '',
      ].join('\r\n'),
    );
  });

  it('ConvertTo-Json without -Compress uses 5.1’s layout', async () => {
    expect(await out('[ordered]@{ a = 1; b = "x" } | ConvertTo-Json')).toBe(
      '{\r\n    "a":  1,\r\n    "b":  "x"\r\n}\r\n',
    );
  });

  it('ConvertFrom-Json writes an array as one object (5.1)', async () => {
    expect(
      await out(
        "$x = '[1,2,3]' | ConvertFrom-Json; $x.Count; ('[1,2]' | ConvertFrom-Json | ForEach-Object { 'item' }).Count",
      ),
    ).toBe('3\r\n1\r\n');
  });

  it('Write-Output, Out-Null, Out-String, > $null, [void]', async () => {
    expect(
      await out(
        "Write-Output 'a' 'b'; 'gone' | Out-Null; 'gone' > $null; [void]'x'; $null = 'y'; ('l1', 'l2' | Out-String)",
      ),
    ).toBe('a\r\nb\r\nl1\r\nl2\r\n\r\n');
  });

  it('Join-Path', async () => {
    expect(await out("Join-Path 'C:\\ProgramData\\' '\\ssh'")).toBe('C:\\ProgramData\\ssh\r\n');
  });

  it('Write-Error is terminating under Stop and printed under Continue', async () => {
    const stop = await runPowerShell(
      "$ErrorActionPreference = 'Stop'\ntry { Write-Error 'bad' } catch { 'caught ' + $_ }",
    );
    expect(stop.stdout).toBe('caught bad\r\n');
    const go = await runPowerShell("Write-Error 'bad'\n'next'");
    expect(go.stdout).toBe('next\r\n');
    expect(go.stderr).toContain('bad\r\n');
    expect(go.exitCode).toBe(0);
    const quiet = await runPowerShell("Write-Error 'bad' -ErrorAction SilentlyContinue\n'next'");
    expect(quiet).toMatchObject({ stdout: 'next\r\n', stderr: '' });
  });

  it('binds parameters by prefix, -Name:value, position, and reports binding errors', async () => {
    const echo = defineCmdlet({
      name: 'Get-Echo',
      parameters: [
        { name: 'Name', position: 0, type: 'string', mandatory: true },
        { name: 'Count', type: 'int' },
        { name: 'Force', type: 'switch' },
        { name: 'ForceAll', type: 'switch' },
      ],
      run: (call) => [
        `${call.named.get('name')}/${call.named.get('count') ?? '-'}/${call.named.get('force') ?? false}`,
      ],
    });
    const run = (script: string) =>
      runPowerShell(`$ErrorActionPreference = 'Stop'\n${script}`, { commands: [echo] });
    expect((await run('Get-Echo x -Co 3 -Force:$false')).stdout).toBe('x/3/false\r\n');
    expect((await run('get-echo -name:y -Force')).stdout).toBe('y/-/true\r\n');
    const ambiguous = await run('Get-Echo x -Forc');
    expect(ambiguous.stderr).toContain(
      "Parameter cannot be processed because the parameter name 'Forc' is ambiguous. Possible matches include: -Force -ForceAll.",
    );
    const unknown = await run('Get-Echo x -Bogus 1');
    expect(unknown.stderr).toContain(
      "A parameter cannot be found that matches parameter name 'Bogus'.",
    );
    expect(unknown.stderr).toContain('NamedParameterNotFound,Get-Echo');
    expect(unknown.exitCode).toBe(1);
    const missing = await run('Get-Echo -Count 1');
    expect(missing.stderr).toContain(
      'Cannot process command because of one or more missing mandatory parameters: Name.',
    );
    const extra = await run('Get-Echo a b');
    expect(extra.stderr).toContain(
      "A positional parameter cannot be found that accepts argument 'b'.",
    );
  });

  it('native commands: output lines, $LASTEXITCODE, 2>&1 under Stop, paths', async () => {
    const tool = defineNative({
      names: ['tool.exe'],
      run: (call) => ({
        stdout: `args:${call.positional.join('|')}\r\nline2\r\n`,
        stderr: 'warn\r\n',
        exitCode: 3,
      }),
    });
    const result = await runPowerShell(
      "$lines = & tool.exe a '' @('b','c') 2>$null\n$lines.Count; $lines[0]; $LASTEXITCODE\nC:\\Tools\\TOOL.EXE x 2>$null",
      {
        commands: [tool],
      },
    );
    expect(result.stdout).toBe('2\r\nargs:a|b|c\r\n3\r\nargs:x\r\nline2\r\n');
    expect(result.stderr).toBe('');
    const merged = await runPowerShell(
      "$ErrorActionPreference = 'Stop'\ntry { tool.exe 2>&1 } catch { 'caught ' + $_.FullyQualifiedErrorId }",
      {
        commands: [tool],
      },
    );
    expect(merged.stdout).toBe('args:\r\nline2\r\ncaught NativeCommandError\r\n');
  });

  it('hostname.exe and whoami', async () => {
    expect(await out('hostname; whoami.exe')).toBe('VLAB-WIN\r\nvlab-win\\vlab\r\n');
  });

  it('an unknown command is CommandNotFoundException with PowerShell’s text', async () => {
    const result = await runPowerShell("Get-Missing -Name x\n'after'");
    expect(result.stderr).toContain(
      "The term 'Get-Missing' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.\r\n",
    );
    expect(result.stderr).toContain('FullyQualifiedErrorId : CommandNotFoundException');
    // Continue (the default): the script goes on, and ends 1 because its last statement… succeeded.
    expect(result.stdout).toBe('after\r\n');
  });

  it('an uncaught error under Stop ends the script with exit 1', async () => {
    const result = await runPowerShell("$ErrorActionPreference = 'Stop'\nGet-Missing\n'never'");
    expect(result.stdout).toBe('');
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split('\r\n')[0]).toMatch(/^The term 'Get-Missing' is not recognized/);
  });

  it('reports each started command', async () => {
    expect((await runPowerShell('Write-Output 1 | Out-Null; hostname.exe')).started).toEqual([
      'Write-Output',
      'Out-Null',
      'hostname.exe',
    ]);
  });
});

describe('interfaces for modelled commands', () => {
  it('call.warning honours -WarningAction and $WarningPreference', async () => {
    const warns = defineCmdlet({
      name: 'Set-Thing',
      parameters: [],
      run: (call) => {
        call.warning?.('careful');
        return ['done'];
      },
    });
    const run = (script: string) => runPowerShell(script, { commands: [warns] });
    expect((await run('Set-Thing')).stdout).toBe('WARNING: careful\r\ndone\r\n');
    expect((await run('Set-Thing -WarningAction SilentlyContinue')).stdout).toBe('done\r\n');
    expect((await run("$WarningPreference = 'SilentlyContinue'; Set-Thing")).stdout).toBe(
      'done\r\n',
    );
  });

  it('psToString and psJson hooks of modelled .NET objects', async () => {
    class Stamp extends PsObject {
      constructor() {
        super([['Ticks', 1]], 'System.DateTime');
      }
      psToString(): string {
        return '05/01/2024 10:00:00';
      }
      psJson(): string {
        return '"\\/Date(1714557600000)\\/"';
      }
    }
    const stamp = defineCmdlet({ name: 'Get-Stamp', parameters: [], run: () => [new Stamp()] });
    const result = await runPowerShell(
      '"at $(Get-Stamp)"; @{ t = (Get-Stamp) } | ConvertTo-Json -Compress',
      {
        commands: [stamp],
      },
    );
    expect(result.stdout).toBe('at 05/01/2024 10:00:00\r\n{"t":"\\/Date(1714557600000)\\/"}\r\n');
  });

  it('resolvers find natives no definition lists (files of the modelled machine)', async () => {
    const { CommandTable } = await import('../src/windows/interpreter/command.js');
    const table = new CommandTable().addResolver((name) =>
      name.toLowerCase().endsWith('.cmd')
        ? defineNative({
            names: [name],
            run: () => ({ stdout: `ran ${name}\r\n`, stderr: '', exitCode: 0 }),
          })
        : undefined,
    );
    expect(table.resolveNative('C:\\vlab\\a.cmd', {} as never)?.names).toEqual(['C:\\vlab\\a.cmd']);
    expect(table.resolveNative('b.exe', {} as never)).toBeUndefined();
  });

  it('taskkill /FI "USERNAME eq name"', async () => {
    const none = await runPowerShell("& taskkill.exe /F /FI 'USERNAME eq bob'");
    expect(none).toMatchObject({
      stdout: 'INFO: No tasks running with the specified criteria.\r\n',
      exitCode: 0,
    });
  });

  it('[Console]::Out, $input in a script block, pipeline into & { }', async () => {
    expect(
      await out("[Console]::Out.WriteLine('direct'); [Console]::Out.Write('no newline'); ''"),
    ).toBe('direct\r\nno newline\r\n');
    expect(await out("1, 2 | & { ($input | ForEach-Object { $_ + 1 }) -join ',' }")).toBe(
      '2,3\r\n',
    );
  });
});

describe('what the peer does not model is an error', () => {
  const notModelled = async (script: string, what: RegExp): Promise<void> => {
    const result = await runPowerShell(`$ErrorActionPreference = 'Stop'\n${script}`);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the Windows peer does not model/);
    expect(result.stderr).toMatch(what);
  };

  it('switch statements', () => notModelled("switch (1) { 1 { 'one' } }", /switch_statement/));
  it('classes', () => notModelled('class A { }', /class_statement/));
  it('default formatting of objects', () =>
    notModelled('[pscustomobject]@{ a = 1 }', /default formatting/));
  it('unknown static members', () =>
    notModelled('[Environment]::Exit(3)', /\[Environment\]::Exit/));
  it('redirection to a file', () => notModelled("'x' > C:\\out.txt", /redirecting to a file/));
  it('the stop-parsing token', () => notModelled('hostname.exe --% /x', /stop-parsing/));
  it('splatting', () => notModelled('$p = @{}; Write-Output @p', /splatting/));
  it('catch with a type', () =>
    notModelled("try { throw 'x' } catch [System.Exception] { 'c' }", /exception types/));
  it('a lone typographic quote that would end a string early', () =>
    notModelled("'a\u2019b'", /typographic quote/));
});

describe('parse errors', () => {
  it('are reported as a ParserError with exit 1, nothing run', async () => {
    const result = await runPowerShell("hostname.exe\nif (1 -eq 1 { 'x' }");
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.started).toEqual([]);
    expect(result.stderr).toMatch(/^At line:\d+ char:\d+\r\n/);
    expect(result.stderr).toContain('ParserError');
  });
});
