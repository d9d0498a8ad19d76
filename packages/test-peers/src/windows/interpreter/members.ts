/**
 * Members of the .NET values the peer models: properties and methods of strings, arrays,
 * hashtables, PSCustomObjects and ErrorRecords, and the static types scripts use
 * ([Console]::In/Out/Error, [string]::IsNullOrEmpty ...). Anything else is a "does not model" error.
 */
import { type ConsoleEncodings, Utf8Encoding } from './console-encoding.js';
import { notModelled, PsError } from './errors.js';
import {
  CaseInsensitiveMap,
  ErrorRecord,
  PsHashtable,
  PsObject,
  PsScriptBlock,
  type PsValue,
  toPsBool,
  toPsNumber,
  toPsString,
  typeNameOf,
} from './values.js';

/** A .NET object with methods the peer implements (console readers and writers). */
export class HostObject extends PsObject {
  constructor(
    typeName: string,
    readonly methods: ReadonlyMap<string, (args: PsValue[]) => PsValue | Promise<PsValue>>,
  ) {
    super([], typeName);
  }
}

/** What [Console] gives a script: the exec's stdin and output writers. */
export interface ConsoleHost {
  readonly stdin: () => Promise<string>;
  /** `[Console]::InputEncoding` and `OutputEncoding`. */
  readonly encodings: ConsoleEncodings;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

function writer(name: string, write: (text: string) => void): HostObject {
  return new HostObject(
    name,
    new Map<string, (args: PsValue[]) => PsValue | Promise<PsValue>>([
      [
        'writeline',
        (args) => {
          write(`${args.length === 0 ? '' : toPsString(args[0] ?? null)}\r\n`);
          return null;
        },
      ],
      [
        'write',
        (args) => {
          write(toPsString(args[0] ?? null));
          return null;
        },
      ],
      ['flush', () => null],
    ]),
  );
}

/** `[Type]::Member`. */
export function staticMember(typeName: string, member: string, host: ConsoleHost): PsValue {
  const type = canonicalType(typeName);
  const name = member.toLowerCase();
  if (type === 'System.Console') {
    if (name === 'in') {
      return new HostObject(
        'System.IO.SyncTextReader',
        new Map([['readtoend', () => host.stdin()]]),
      );
    }
    if (name === 'out') return writer('System.IO.SyncTextWriter', host.stdout);
    if (name === 'error') return writer('System.IO.SyncTextWriter', host.stderr);
  }
  if (type === 'System.Int32' && name === 'maxvalue') return 2147483647;
  if (type === 'System.String' && name === 'empty') return '';
  throw notModelled(`the static member [${typeName}]::${member}`, 'member_access');
}

/** `[Type]::Method(args)`. */
export function staticCall(
  typeName: string,
  method: string,
  args: PsValue[],
  host: ConsoleHost,
): PsValue {
  const type = canonicalType(typeName);
  const name = method.toLowerCase();
  if (type === 'System.String') {
    if (name === 'isnullorempty') return toPsString(args[0] ?? null) === '';
    if (name === 'isnullorwhitespace') return toPsString(args[0] ?? null).trim() === '';
    if (name === 'join') {
      const [separator, ...rest] = args;
      const items = rest.length === 1 && Array.isArray(rest[0]) ? rest[0] : rest;
      return items.map(toPsString).join(toPsString(separator ?? null));
    }
  }
  if (type === 'System.Text.UTF8Encoding' && name === 'new') {
    return new Utf8Encoding(args[0] === undefined ? false : toPsBool(args[0] ?? null));
  }
  if (type === 'System.Console' && (name === 'writeline' || name === 'write')) {
    const text = toPsString(args[0] ?? null);
    host.stdout(name === 'writeline' ? `${text}\r\n` : text);
    return null;
  }
  throw notModelled(`the static method [${typeName}]::${method}()`, 'invokation_expression');
}

/** `[Type]::Member = value`: the console encodings only. */
export function setStaticMember(
  typeName: string,
  member: string,
  value: PsValue,
  host: ConsoleHost,
): void {
  const name = member.toLowerCase();
  if (canonicalType(typeName) === 'System.Console') {
    const which =
      name === 'inputencoding' ? 'input' : name === 'outputencoding' ? 'output' : undefined;
    if (which !== undefined && host.encodings.set(which, value)) return;
  }
  throw notModelled(`setting the static member [${typeName}]::${member}`, 'member_access');
}

const TYPE_ALIASES: Record<string, string> = {
  'system.text.utf8encoding': 'System.Text.UTF8Encoding',
  'text.utf8encoding': 'System.Text.UTF8Encoding',
  console: 'System.Console',
  'system.console': 'System.Console',
  string: 'System.String',
  'system.string': 'System.String',
  int: 'System.Int32',
  int32: 'System.Int32',
  'system.int32': 'System.Int32',
};

export function canonicalType(typeName: string): string {
  return TYPE_ALIASES[typeName.toLowerCase()] ?? typeName;
}

/** `$value.Name` (with PowerShell's member enumeration over arrays). */
export function getMember(value: PsValue, member: string): PsValue {
  const name = member.toLowerCase();
  if (value === null) return null;
  if (typeof value === 'string') {
    if (name === 'length') return value.length;
    if (name === 'count') return 1;
    throw notModelled(`the property String.${member}`, 'member_access');
  }
  if (Array.isArray(value)) {
    if (name === 'count' || name === 'length') return value.length;
    // Member enumeration: the property of each element that has it.
    const values = value.map((element) => getMember(element, member)).filter((v) => v !== null);
    return values.length === 0 ? null : values.length === 1 ? (values[0] ?? null) : values;
  }
  if (value instanceof PsHashtable) {
    if (value.entries.has(member)) return value.entries.get(member) ?? null;
    if (name === 'count') return value.entries.size;
    if (name === 'keys') return value.entries.keys();
    if (name === 'values') return [...value.entries].map(([, v]) => v);
    return null;
  }
  if (value instanceof PsObject) {
    if (value.properties.has(member)) return value.get(member);
    if (value instanceof HostObject) {
      throw notModelled(`the property ${value.typeName}.${member}`, 'member_access');
    }
    // PowerShell: every object has Count 1 (PS 3+), absent properties are $null.
    if (name === 'count' || name === 'length') return 1;
    return null;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    if (name === 'count' || name === 'length') return 1;
  }
  throw notModelled(`the property ${member} of ${typeNameOf(value)}`, 'member_access');
}

/** `$value.Name = x`. */
export function setMember(value: PsValue, member: string, newValue: PsValue): void {
  if (value instanceof PsHashtable) {
    value.entries.set(member, newValue);
    return;
  }
  if (
    value instanceof PsObject &&
    !(value instanceof HostObject) &&
    !(value instanceof ErrorRecord)
  ) {
    if (!value.properties.has(member)) {
      throw new PsError(
        `The property '${member}' cannot be found on this object. Verify that the property exists and can be set.`,
        { fullyQualifiedErrorId: 'PropertyAssignmentException', category: 'InvalidOperation' },
      );
    }
    value.properties.set(member, newValue);
    return;
  }
  throw notModelled(
    `setting the property ${member} of ${typeNameOf(value)}`,
    'assignment_expression',
  );
}

function splitString(text: string, args: PsValue[]): PsValue {
  // String.Split(char[]) / Split(string) with one argument: every character is a separator.
  if (args.length !== 1) throw notModelled('String.Split with options', 'invokation_expression');
  const separators = [...toPsString(args[0] ?? null)];
  if (separators.length === 0) return text.split(/\s/);
  const parts: string[] = [];
  let current = '';
  for (const char of text) {
    if (separators.includes(char)) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

function trimChars(args: PsValue[]): string | undefined {
  if (args.length === 0) return undefined;
  return args.map(toPsString).join('');
}

function trim(text: string, chars: string | undefined, start: boolean, end: boolean): string {
  const isTrim = (char: string): boolean =>
    chars === undefined ? /\s/.test(char) : chars.includes(char);
  let from = 0;
  let to = text.length;
  while (start && from < to && isTrim(text[from] ?? '')) from += 1;
  while (end && to > from && isTrim(text[to - 1] ?? '')) to -= 1;
  return text.slice(from, to);
}

/** `$value.Method(args)`. */
export function callMethod(
  value: PsValue,
  method: string,
  args: PsValue[],
): PsValue | Promise<PsValue> {
  const name = method.toLowerCase();
  if (name === 'tostring' && args.length === 0 && !(value instanceof HostObject)) {
    return toPsString(value);
  }
  if (typeof value === 'string') {
    const arg = (i: number): string => toPsString(args[i] ?? null);
    switch (name) {
      case 'trim':
        return trim(value, trimChars(args), true, true);
      case 'trimstart':
        return trim(value, trimChars(args), true, false);
      case 'trimend':
        return trim(value, trimChars(args), false, true);
      case 'tolower':
      case 'tolowerinvariant':
        return value.toLowerCase();
      case 'toupper':
      case 'toupperinvariant':
        return value.toUpperCase();
      case 'contains':
        return value.includes(arg(0));
      case 'startswith':
        return value.startsWith(arg(0));
      case 'endswith':
        return value.endsWith(arg(0));
      case 'indexof':
        return value.indexOf(arg(0));
      case 'replace':
        return value.split(arg(0)).join(arg(1));
      case 'split':
        return splitString(value, args);
      case 'substring':
        return args.length === 1
          ? value.slice(toPsNumber(args[0] ?? null))
          : value.substr(toPsNumber(args[0] ?? null), toPsNumber(args[1] ?? null));
      case 'padleft':
        return value.padStart(toPsNumber(args[0] ?? null), args[1] === undefined ? ' ' : arg(1));
      case 'equals':
        return value === arg(0);
    }
  }
  if (Array.isArray(value)) {
    if (name === 'contains') return value.some((element) => element === (args[0] ?? null));
  }
  if (value instanceof PsHashtable) {
    const key = toPsString(args[0] ?? null);
    if (name === 'containskey') return value.entries.has(key);
    if (name === 'add') {
      if (value.entries.has(key)) {
        throw new PsError(
          `Exception calling "Add" with "2" argument(s): "Item has already been added. Key in dictionary: '${key}'  Key being added: '${key}'"`,
          { fullyQualifiedErrorId: 'ArgumentException', category: 'NotSpecified' },
        );
      }
      value.entries.set(key, args[1] ?? null);
      return null;
    }
    if (name === 'remove') {
      value.entries.delete(key);
      return null;
    }
  }
  if (value instanceof HostObject) {
    const implementation = value.methods.get(name);
    if (implementation !== undefined) return implementation(args);
  }
  if (value instanceof PsScriptBlock) {
    throw notModelled('calling methods of a script block', 'invokation_expression');
  }
  if (value === null) {
    throw new PsError('You cannot call a method on a null-valued expression.', {
      fullyQualifiedErrorId: 'InvokeMethodOnNull',
      category: 'InvalidOperation',
    });
  }
  throw notModelled(`the method ${typeNameOf(value)}.${method}()`, 'invokation_expression');
}

/** `$value[index]`. */
export function getElement(value: PsValue, index: PsValue): PsValue {
  if (value === null) {
    throw new PsError('Cannot index into a null array.', {
      fullyQualifiedErrorId: 'NullArray',
      category: 'InvalidOperation',
    });
  }
  if (value instanceof PsHashtable) return value.entries.get(toPsString(index)) ?? null;
  if (Array.isArray(index)) return index.map((i) => getElement(value, i));
  if (Array.isArray(value) || typeof value === 'string') {
    const length = value.length;
    let i = toPsNumber(index);
    if (i < 0) i += length;
    if (i < 0 || i >= length) return null;
    return Array.isArray(value) ? (value[i] ?? null) : (value[i] ?? null);
  }
  if (value instanceof PsObject && !(value instanceof HostObject)) {
    const i = toPsNumber(index);
    return i === 0 || i === -1 ? value : null;
  }
  throw notModelled(`indexing into ${typeNameOf(value)}`, 'element_access');
}

export { CaseInsensitiveMap };
