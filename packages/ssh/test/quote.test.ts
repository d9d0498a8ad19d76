import { isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_LINE_BYTES, quoteArgument, quoteCommand } from '../src/quote.js';

describe('quoteArgument', () => {
  it('leaves plain words bare and quotes everything else', () => {
    expect(quoteArgument('ls')).toBe('ls');
    expect(quoteArgument('/var/log/x.log')).toBe('/var/log/x.log');
    expect(quoteArgument('a b')).toBe("'a b'");
    expect(quoteArgument('')).toBe("''");
    expect(quoteArgument("it's")).toBe(`'it'\\''s'`);
    expect(quoteArgument('$(reboot)')).toBe("'$(reboot)'");
    expect(quoteArgument('`id`')).toBe("'`id`'");
    expect(quoteArgument('a\nb')).toBe("'a\nb'");
    expect(quoteArgument('~')).toBe("'~'");
    expect(quoteArgument('*')).toBe("'*'");
    expect(quoteArgument('-n')).toBe('-n');
  });

  it('rejects a NUL byte with a typed error that does not echo the argument', () => {
    let error: unknown;
    try {
      quoteArgument('secret\0value', 3);
    } catch (caught) {
      error = caught;
    }
    expect(isVlabError(error, 'VLAB_ERR_SSH_ARGUMENT_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/argument 3 holds a NUL byte/);
    expect((error as Error).message).not.toMatch(/secret/);
  });

  it('rejects an unpaired surrogate (no UTF-8 form) but keeps paired ones', () => {
    expect(() => quoteArgument('a\uD800b')).toThrow(/unpaired UTF-16 surrogate/);
    expect(() => quoteArgument('\uDC00')).toThrow(/unpaired UTF-16 surrogate/);
    expect(quoteArgument('😀')).toBe("'😀'");
  });
});

describe('quoteCommand', () => {
  it('joins quoted arguments', () => {
    expect(quoteCommand(['printf', '%s\\n', "'; rm -rf / #"])).toBe(
      `printf '%s\\n' ''\\''; rm -rf / #'`,
    );
  });

  it('rejects an empty vector and a line longer than one exec accepts', () => {
    expect(() => quoteCommand([])).toThrow(
      /VLAB_ERR_SSH_ARGUMENT_INVALID: the argument vector is empty/,
    );
    expect(() => quoteCommand(['echo', 'x'.repeat(MAX_COMMAND_LINE_BYTES)])).toThrow(
      /over the 131071 bytes one remote exec accepts/,
    );
    expect(quoteCommand(['echo', 'x'.repeat(100 * 1024)]).length).toBe(5 + 100 * 1024);
  });
});
