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
    expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
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

  it('refuses a program name that starts with "-": exec, sudo and env would read it as options', () => {
    expect(() => quoteCommand(['-c', 'id', '-u'])).toThrow(
      /VLAB_ERR_ARGUMENT_INVALID: the program name .*starts with "-"/,
    );
    expect(() => quoteCommand(['-'])).toThrow(/starts with "-"/);
    expect(quoteCommand(['printf', '-c'])).toBe('printf -c');
    expect(quoteCommand(['./-c'])).toBe('./-c');
  });

  it('names an element that is not a string, and its type', () => {
    expect(() => quoteCommand(['echo', 7 as unknown as string])).toThrow(
      /VLAB_ERR_ARGUMENT_INVALID: argument 1 is a number, not a string/,
    );
    expect(() => quoteArgument(null as unknown as string, 4)).toThrow(
      /argument 4 is null, not a string/,
    );
  });

  it('rejects an empty vector and a line longer than one exec accepts', () => {
    expect(() => quoteCommand([])).toThrow(
      /VLAB_ERR_ARGUMENT_INVALID: the argument vector is empty/,
    );
    expect(() => quoteCommand(['echo', 'x'.repeat(MAX_COMMAND_LINE_BYTES)])).toThrow(
      /over the 131071 bytes one remote exec accepts/,
    );
    expect(quoteCommand(['echo', 'x'.repeat(100 * 1024)]).length).toBe(5 + 100 * 1024);
  });
});
