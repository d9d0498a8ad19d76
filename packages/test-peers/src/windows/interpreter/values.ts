/**
 * The values the Windows peer's PowerShell interpreter works with, and PowerShell's conversions
 * between them (string, bool, number forms), as far as the modelled scripts need them.
 */
import { PsError } from './errors.js';

/** A PowerShell value: scalars, arrays (object[]), objects, hashtables, script blocks. */
export type PsValue =
  | null
  | boolean
  | number
  | string
  | PsValue[]
  | PsObject
  | PsScriptBlock
  | PsHashtable;

/** A map with case-insensitive string keys that keeps insertion order and the keys' spelling. */
export class CaseInsensitiveMap<V> {
  private readonly entries = new Map<string, { key: string; value: V }>();
  get(key: string): V | undefined {
    return this.entries.get(key.toLowerCase())?.value;
  }
  has(key: string): boolean {
    return this.entries.has(key.toLowerCase());
  }
  set(key: string, value: V): this {
    const existing = this.entries.get(key.toLowerCase());
    if (existing === undefined) this.entries.set(key.toLowerCase(), { key, value });
    else existing.value = value;
    return this;
  }
  delete(key: string): boolean {
    return this.entries.delete(key.toLowerCase());
  }
  get size(): number {
    return this.entries.size;
  }
  keys(): string[] {
    return [...this.entries.values()].map((entry) => entry.key);
  }
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const { key, value } of this.entries.values()) yield [key, value];
  }
}

/** A PSCustomObject (or another object with note properties): ordered, case-insensitive names. */
export class PsObject {
  readonly properties = new CaseInsensitiveMap<PsValue>();
  constructor(
    entries: Iterable<[string, PsValue]> = [],
    /** The .NET type name shown by `.GetType().FullName`, e.g. `System.Management.Automation.PSCustomObject`. */
    readonly typeName = 'System.Management.Automation.PSCustomObject',
  ) {
    for (const [key, value] of entries) this.properties.set(key, value);
  }
  get(name: string): PsValue {
    return this.properties.get(name) ?? null;
  }
}

/** A hashtable (`@{}`), or an ordered dictionary (`[ordered]@{}`). Keys are strings here. */
export class PsHashtable {
  readonly entries = new CaseInsensitiveMap<PsValue>();
  constructor(readonly ordered = false) {}
}

/** A script block value: the tree-sitter node of its body, evaluated by the interpreter. */
export class PsScriptBlock {
  constructor(
    /** The `script_block` node (or a `statement_block` for an `if` body turned into a value). */
    readonly node: unknown,
    readonly text: string,
  ) {}
}

/** `$_` inside a catch block: an ErrorRecord. ToString() is the message. */
export class ErrorRecord extends PsObject {
  constructor(readonly error: PsError) {
    super(
      [
        ['Exception', new PsObject([['Message', error.message]], error.exceptionType)],
        ['FullyQualifiedErrorId', error.fullyQualifiedErrorId],
        ['CategoryInfo', new PsObject([['Category', error.category]])],
      ],
      'System.Management.Automation.ErrorRecord',
    );
  }
}

/**
 * Hooks a PsObject subclass may implement (duck-typed): `psToString()` — its string form (what
 * .NET's ToString gives); `psJson()` — its complete ConvertTo-Json text (DateTime: "\/Date(ms)\/").
 */
export interface PsObjectHooks {
  psToString?(): string;
  psJson?(): string;
}

function hasPsToString(value: object): value is { psToString(): string } {
  return typeof (value as PsObjectHooks).psToString === 'function';
}

/** PowerShell's string form of a value (what `"$x"` and `[string]$x` give). */
export function toPsString(value: PsValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return numberToString(value);
  if (Array.isArray(value)) return value.map(toPsString).join(' ');
  if (value instanceof ErrorRecord) return value.error.message;
  if (value instanceof PsScriptBlock) return value.text;
  if (value instanceof PsHashtable) {
    return value.ordered
      ? 'System.Collections.Specialized.OrderedDictionary'
      : 'System.Collections.Hashtable';
  }
  // A modelled .NET object may say how it looks in a string (SecurityIdentifier: its S-1-… text).
  if (hasPsToString(value)) return value.psToString();
  // PSCustomObject in a string: PowerShell 5.1 renders `@{a=1; b=x}`.
  return `@{${value.properties
    .keys()
    .map((key) => `${key}=${toPsString(value.get(key))}`)
    .join('; ')}}`;
}

function numberToString(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(value);
}

/** PowerShell's truthiness (LanguagePrimitives.IsTrue). */
export function toPsBool(value: PsValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) {
    if (value.length === 0) return false;
    if (value.length === 1) return toPsBool(value[0] ?? null);
    return true;
  }
  return true;
}

/** `[int]`/arithmetic conversion of a value to a number; throws PowerShell's conversion error. */
export function toPsNumber(value: PsValue, typeName = 'System.Int32'): number {
  if (value === null) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return 0;
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
    if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  }
  if (Array.isArray(value) && value.length === 1) return toPsNumber(value[0] ?? null, typeName);
  throw new PsError(
    `Cannot convert value "${toPsString(value)}" to type "${typeName}". Error: "Input string was not in a correct format."`,
    { fullyQualifiedErrorId: 'InvalidCastFromStringToInteger', category: 'InvalidArgument' },
  );
}

/** A value as the list a pipeline or `foreach` enumerates (null → nothing, scalars → one item). */
export function enumerate(value: PsValue): PsValue[] {
  if (value === null) return [];
  if (Array.isArray(value)) return value;
  return [value];
}

/** What a pipeline's collected output becomes as a value: nothing → $null, one → it, more → array. */
export function collapse(values: readonly PsValue[]): PsValue {
  if (values.length === 0) return null;
  if (values.length === 1) return values[0] ?? null;
  return [...values];
}

/** A short name of the value's .NET type, for error messages. */
export function typeNameOf(value: PsValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'System.String';
  if (typeof value === 'boolean') return 'System.Boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'System.Int32' : 'System.Double';
  if (Array.isArray(value)) return 'System.Object[]';
  if (value instanceof PsScriptBlock) return 'System.Management.Automation.ScriptBlock';
  if (value instanceof PsHashtable) {
    return value.ordered
      ? 'System.Collections.Specialized.OrderedDictionary'
      : 'System.Collections.Hashtable';
  }
  return value.typeName;
}
