// Shared helpers of the modelled commands: reaching the WindowsMachine, reading bound parameters,
// building the objects Windows PowerShell 5.1 returns, and its error shapes.
import { type CommandCall, PsError, PsObject, type PsValue } from '../interpreter/command.js';
import { toPsString } from '../interpreter/values.js';
import type { WindowsMachine } from '../model/windows-machine.js';

export function machineOf(call: CommandCall): WindowsMachine {
  return call.session.machine as WindowsMachine;
}

/** A bound parameter as a string (null when not bound). */
export function str(call: CommandCall, name: string): string | null {
  const v = call.named.get(name.toLowerCase());
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.length === 0 ? null : toPsString(v[0] ?? null);
  return toPsString(v);
}

/** A bound parameter as a list of strings ([] when not bound). */
export function strs(call: CommandCall, name: string): string[] {
  const v = call.named.get(name.toLowerCase());
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => toPsString(x));
}

export function flag(call: CommandCall, name: string): boolean {
  const v = call.named.get(name.toLowerCase());
  return v === true || (typeof v === 'string' && v.toLowerCase() === 'true') || v === 1;
}

export function has(call: CommandCall, name: string): boolean {
  return call.named.has(name.toLowerCase());
}

export function value(call: CommandCall, name: string): PsValue | undefined {
  return call.named.get(name.toLowerCase());
}

export function obj(typeName: string, entries: [string, PsValue][]): PsObject {
  return new PsObject(entries, typeName);
}

/** `Microsoft.PowerShell.Commands.<Verb><Noun>Command`-style FullyQualifiedErrorId. */
export function psError(
  message: string,
  id: string,
  category: string,
  exceptionType?: string,
): PsError {
  return new PsError(message, {
    fullyQualifiedErrorId: id,
    category,
    ...(exceptionType === undefined ? {} : { exceptionType }),
  });
}

/**
 * A SecureString (ConvertTo-SecureString's output): keeps its text out of every property, so it never
 * prints; `Length` is its one public property (as .NET's SecureString has).
 */
export class SecureStringValue extends PsObject {
  readonly #secret: string;
  constructor(secret: string) {
    super([['Length', secret.length]], 'System.Security.SecureString');
    this.#secret = secret;
  }
  /** The plain text (for the model only: New-LocalUser stores it). */
  reveal(): string {
    return this.#secret;
  }
  /** `"$s"`: .NET's Object.ToString() — the type name, never the text. */
  psToString(): string {
    return 'System.Security.SecureString';
  }
}

/** A System.DateTime value: PS 5.1's ConvertTo-Json writes it as `\/Date(<ms>)\/`. */
export class DateTimeValue extends PsObject {
  constructor(readonly date: Date) {
    super(
      [
        ['DateTime', formatLongDate(date)],
        ['Ticks', date.getTime() * 10_000 + 621_355_968_000_000_000],
      ],
      'System.DateTime',
    );
  }
  /** `"$d"`: PowerShell formats a DateTime in a string with the invariant culture: `05/01/2024 10:00:00`. */
  psToString(): string {
    const d = this.date;
    const p = (n: number) => String(n).padStart(2, '0');
    return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  }
  /** Windows PowerShell 5.1's ConvertTo-Json writes a DateTime property as `"\/Date(<ms since epoch>)\/"`. */
  psJson(): string {
    return `"\\/Date(${this.date.getTime()})\\/"`;
  }
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** en-US long date/time, e.g. `Wednesday, May 1, 2024 10:00:00 AM` (UTC used as local time). */
export function formatLongDate(d: Date): string {
  const h = d.getUTCHours() % 12 || 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  const ss = String(d.getUTCSeconds()).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${h}:${mm}:${ss} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}

/** en-US short date/time, e.g. `5/1/2024 10:00 AM` (quser's LOGON TIME). */
export function formatShortDateTime(d: Date): string {
  const h = d.getUTCHours() % 12 || 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${mm} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}

export function dateValue(d: Date | null): PsValue {
  return d === null ? null : new DateTimeValue(d);
}

/** A SecurityIdentifier: ConvertTo-Json shows its properties; in a string it is the S-1-... text. */
export class SidValue extends PsObject {
  constructor(readonly sid: string) {
    const m = /^(S-1-5-21-\d+-\d+-\d+)-\d+$/.exec(sid);
    super(
      [
        ['BinaryLength', 8 + 4 * (sid.split('-').length - 3)],
        ['AccountDomainSid', m?.[1] ?? null],
        ['Value', sid],
      ],
      'System.Security.Principal.SecurityIdentifier',
    );
  }
  psToString(): string {
    return this.sid;
  }
}

export function sidValue(sid: string): PsObject {
  return new SidValue(sid);
}

/** The text of a SID-or-name value that came through the pipeline or a parameter. */
export function principalText(v: PsValue): string {
  if (v instanceof PsObject) {
    const sid = v.get('SID');
    if (sid instanceof PsObject) return toPsString(sid.get('Value'));
    if (sid !== null) return toPsString(sid);
    const name = v.get('Name');
    if (name !== null) return toPsString(name);
    const value = v.get('Value');
    if (value !== null) return toPsString(value);
  }
  return toPsString(v);
}

/** Writes PowerShell's warning-stream line; powershell.exe with redirected output puts it on stdout. */
export function warn(call: CommandCall, text: string): void {
  call.session.stdout(`WARNING: ${text}\r\n`);
}
