/**
 * The console encodings of a Windows PowerShell 5.1 process whose stdio sshd redirected: both
 * `[Console]::InputEncoding` and `[Console]::OutputEncoding` start as the OEM code page (437 on an
 * en-US Windows), so stdin is decoded and stdout encoded through it until a script sets UTF-8.
 * Sources: Microsoft Learn, "about_Character_Encoding" (Windows PowerShell 5.1: the console's
 * encoding is the OEM code page; `$OutputEncoding` and `[Console]::OutputEncoding`), and
 * "Console.OutputEncoding Property" (.NET Framework). Modelled coarsely: under the OEM page every
 * character outside ASCII arrives as `?` — what a UTF-8 reader gets from an OEM page is garbage
 * there too, and only ASCII is the same in both.
 */
import { PsObject, type PsValue } from './values.js';

/** A `System.Text.UTF8Encoding`, as `[System.Text.UTF8Encoding]::new($false)` makes it. */
export class Utf8Encoding extends PsObject {
  constructor(readonly emitsBom: boolean) {
    super([], 'System.Text.UTF8Encoding');
    this.properties.set('WebName', 'utf-8');
    this.properties.set('CodePage', 65001);
  }
}

/** The two console encodings of one exec. */
export class ConsoleEncodings {
  input: 'oem' | 'utf-8' = 'oem';
  output: 'oem' | 'utf-8' = 'oem';

  /** Sets `[Console]::InputEncoding` or `OutputEncoding`; only UTF-8 is modelled. */
  set(which: 'input' | 'output', value: PsValue): boolean {
    if (!(value instanceof Utf8Encoding)) return false;
    this[which] = 'utf-8';
    return true;
  }

  /** Text as it reaches the client through the output encoding. */
  encodeOutput(text: string): string {
    return this.output === 'utf-8' ? text : oem(text);
  }

  /** Stdin's bytes (UTF-8 from the client) as the script reads them. */
  decodeInput(text: string): string {
    return this.input === 'utf-8' ? text : oem(text);
  }
}

function oem(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the part every OEM page shares
  return text.replace(/[^\x00-\x7F]/gu, '?');
}
