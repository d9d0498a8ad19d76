import { isVlabError } from '@vlab/core';
import {
  assertOnlyLiteral,
  listParseProblems,
  literalOccurrences,
  POWERSHELL_HOSTILE_VALUES,
  parsePowerShell,
} from '@vlab/test-peers';
import { describe, expect, it } from 'vitest';
import {
  encodePowerShellCommand,
  MAX_POWERSHELL_COMMAND_LINE,
  powerShellKillCommand,
  powerShellScript,
  quotePowerShellLiteral,
} from '../src/powershell.js';
import { wrapCommand } from '../src/remote-process.js';

/** The script inside a command line, as Windows' PowerShell decodes `-EncodedCommand`. */
function decode(line: string): string {
  const match =
    /^powershell\.exe -NoProfile -NonInteractive -EncodedCommand ([A-Za-z0-9+/=]+)$/.exec(line);
  if (match === null) throw new Error(`not a PowerShell command line: ${line.slice(0, 80)}`);
  return Buffer.from(match[1] as string, 'base64').toString('utf16le');
}

/** The script's syntax tree without its text: what a value must not be able to change. */
async function shape(script: string): Promise<string> {
  const tree = await parsePowerShell(script);
  try {
    return tree.rootNode.toString();
  } finally {
    tree.delete();
  }
}

/** The wrapper's own text, in which a short value (`#`, `-`) may occur as code. */
const WRAPPER = powerShellScript(['x']);

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('quotePowerShellLiteral', () => {
  it('doubles every quote PowerShell reads as a single quote, and nothing else', () => {
    expect(quotePowerShellLiteral('plain')).toBe("'plain'");
    expect(quotePowerShellLiteral('')).toBe("''");
    expect(quotePowerShellLiteral("it's")).toBe("'it''s'");
    expect(quotePowerShellLiteral('‘a’ ‚b‛')).toBe("'‘‘a’’ ‚‚b‛‛'");
    expect(quotePowerShellLiteral('$(x) `n "y" “z”')).toBe('\'$(x) `n "y" “z”\'');
  });

  it('refuses NUL, an unpaired surrogate and a non-string, without echoing the value', () => {
    const nul = thrown(() => quotePowerShellLiteral('hunter2\0value', 2));
    expect(isVlabError(nul, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
    expect((nul as Error).message).toMatch(/argument 2 holds a NUL byte/);
    expect((nul as Error).message).not.toMatch(/hunter2/);
    expect(() => quotePowerShellLiteral('a\uD800')).toThrow(/unpaired UTF-16 surrogate/);
    expect(() => quotePowerShellLiteral(7 as unknown as string)).toThrow(/not a string/);
  });
});

describe('powerShellScript', () => {
  it('runs argv[0] as a script block with the rest as literal arguments', () => {
    const script = powerShellScript(['param($Name) Remove-LocalUser -Name $Name', "o'brien"]);
    expect(script).toContain("& {\nparam($Name) Remove-LocalUser -Name $Name\n} 'o''brien'");
    expect(script.split('\n')[0]).toBe("$ErrorActionPreference = 'Stop'");
    expect(script).toContain("[Console]::Error.WriteLine('vlab-pid:' + $PID)");
  });

  it('refuses an empty vector or empty code', () => {
    expect(
      isVlabError(
        thrown(() => powerShellScript([])),
        'VLAB_ERR_ARGUMENT_INVALID',
      ),
    ).toBe(true);
    expect(() => powerShellScript(['  '])).toThrow(/PowerShell code/);
  });

  it('parses, with every hostile value only as a verbatim literal (tree-sitter-powershell)', async () => {
    const code = 'param($A, $B) Write-Output $A $B';
    const plain = await shape(powerShellScript([code, 'x', 'x']));
    for (const value of POWERSHELL_HOSTILE_VALUES) {
      const label = JSON.stringify(value.slice(0, 40));
      const script = powerShellScript([code, value, value]);
      expect(await listParseProblems(script), label).toEqual([]);
      // The value cannot change the script's structure: the same tree as with a plain word.
      expect(await shape(script), label).toBe(plain);
      if (value === '') continue;
      const exact = (await literalOccurrences(script, value)).filter(
        (o) => o.isExactVerbatimLiteral,
      );
      expect(exact.length, label).toBeGreaterThanOrEqual(2);
      if (!code.includes(value) && !WRAPPER.includes(value)) await assertOnlyLiteral(script, value);
    }
  });

  it('refuses a line over cmd.exe’s limit, naming the limit, and takes one just under it', () => {
    const error = thrown(() =>
      encodePowerShellCommand(powerShellScript(['$args', 'x'.repeat(10_000)])),
    );
    expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/over the 8191 cmd\.exe accepts/);
    expect((error as { hint?: string }).hint).toMatch(/stdin/);
    // The longest script that fits is taken whole; one character more is refused.
    const fits = (n: number): boolean => {
      try {
        return encodePowerShellCommand('x'.repeat(n)).length <= MAX_POWERSHELL_COMMAND_LINE;
      } catch {
        return false;
      }
    };
    let n = 0;
    while (fits(n + 1)) n += 1;
    expect(n).toBeGreaterThan(3000);
    expect(() => encodePowerShellCommand('x'.repeat(n + 1))).toThrow(/cmd\.exe/);
  });

  it('encodes the script as base64 of UTF-16LE, unicode included', () => {
    const script = powerShellScript(['$args', 'ünï 名前 🙂']);
    expect(decode(encodePowerShellCommand(script))).toBe(script);
  });
});

describe('the PowerShell dialect of a remote command', () => {
  it('wraps argv in the encoded script, and refuses sudo', () => {
    const line = wrapCommand(['hostname'], false, 'powershell');
    expect(decode(line)).toBe(powerShellScript(['hostname']));
    const error = thrown(() => wrapCommand(['hostname'], true, 'powershell'));
    expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
    expect((error as { hint?: string }).hint).toMatch(/administrator/);
  });

  it('ends a process tree with taskkill /T /F, the pid a literal', async () => {
    const script = decode(powerShellKillCommand(4242));
    expect(script).toContain('& taskkill.exe /T /F /PID $Id');
    expect(await listParseProblems(script)).toEqual([]);
    await assertOnlyLiteral(script, '4242');
  });
});
