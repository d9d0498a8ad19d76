import { describe, expect, it } from 'vitest';
import { FIRST_BOOT_PS1 } from '../src/first-boot.js';
import { PS } from '../src/scripts.js';
import {
  encodePowerShellCommand,
  listParseProblems,
  MAX_POWERSHELL_COMMAND_LINE,
  powerShellScript,
} from './peer-kit.js';

// Every script the module can send, parsed with PowerShell's real grammar (tree-sitter-powershell),
// as the transport wraps it, with arguments as long as the module ever passes.
const LONG_ARGUMENT = `C:\\${'x'.repeat(250)}`;

describe('the PowerShell scripts of os-windows', () => {
  it.each(Object.entries(PS))(
    '%s parses as PowerShell and fits the command line',
    async (_name, code) => {
      expect(await listParseProblems(code)).toEqual([]);
      const script = powerShellScript([
        code,
        LONG_ARGUMENT,
        LONG_ARGUMENT,
        LONG_ARGUMENT,
        LONG_ARGUMENT,
      ]);
      expect(await listParseProblems(script)).toEqual([]);
      expect(encodePowerShellCommand(script).length).toBeLessThanOrEqual(
        MAX_POWERSHELL_COMMAND_LINE,
      );
    },
  );

  it('the first-boot script parses as PowerShell', async () => {
    expect(await listParseProblems(FIRST_BOOT_PS1)).toEqual([]);
  });

  it('scripts hold no data: only fixed paths, SIDs and names of the module', () => {
    for (const [name, code] of Object.entries(PS)) {
      // A script that takes data declares it as parameters or reads stdin; nothing is pasted in.
      expect(code, name).not.toMatch(/\$\{/);
      expect(code, name).not.toMatch(/@"|"@/);
    }
  });
});
