/**
 * JSON as Windows PowerShell 5.1 writes and reads it (ConvertTo-Json / ConvertFrom-Json).
 * Sources: https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertto-json?view=powershell-5.1
 * and .../convertfrom-json?view=powershell-5.1. 5.1 serializes through JavaScriptSerializer, which
 * escapes < > ' & as \u003c \u003e \u0027 \u0026 and control characters as \uXXXX (\b \f \n \r \t
 * short forms); the default -Depth is 2, deeper objects become their string form.
 */
import { PsError } from './errors.js';
import {
  ErrorRecord,
  PsHashtable,
  PsObject,
  type PsObjectHooks,
  PsScriptBlock,
  type PsValue,
  toPsString,
} from './values.js';

function escapeString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char === '\b') out += '\\b';
    else if (char === '\f') out += '\\f';
    else if (code < 0x20 || char === '<' || char === '>' || char === "'" || char === '&') {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += char;
  }
  return `${out}"`;
}

function entriesOf(value: PsObject | PsHashtable): [string, PsValue][] {
  return value instanceof PsHashtable ? [...value.entries] : [...value.properties];
}

/** ConvertTo-Json of one value. `depth` is how many levels of objects below this one are expanded. */
export function toJson(value: PsValue, options: { compress: boolean; depth: number }): string {
  const write = (item: PsValue, level: number, indent: string): string => {
    if (item === null) return 'null';
    if (typeof item === 'boolean') return item ? 'true' : 'false';
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return escapeString(toPsString(item));
      return String(item);
    }
    if (typeof item === 'string') return escapeString(item);
    if (item instanceof PsScriptBlock) return escapeString(item.text);
    if (item instanceof ErrorRecord) return escapeString(item.error.message);
    const hooks = item as PsObjectHooks;
    if (typeof hooks.psJson === 'function') return hooks.psJson();
    if (level > options.depth) return escapeString(toPsString(item));
    const inner = `${indent}    `;
    if (Array.isArray(item)) {
      const parts = item.map((element) => write(element, level + 1, inner));
      if (options.compress) return `[${parts.join(',')}]`;
      if (parts.length === 0) return '[\r\n\r\n]';
      return `[\r\n${parts.map((part) => inner + part).join(',\r\n')}\r\n${indent}]`;
    }
    const entries = entriesOf(item);
    const parts = entries.map(([key, element]) => {
      const written = write(element, level + 1, inner);
      return options.compress
        ? `${escapeString(key)}:${written}`
        : `${escapeString(key)}:  ${written}`;
    });
    if (options.compress) return `{${parts.join(',')}}`;
    if (parts.length === 0) return '{\r\n\r\n}';
    return `{\r\n${parts.map((part) => inner + part).join(',\r\n')}\r\n${indent}}`;
  };
  return write(value, 0, '');
}

function fromParsed(value: unknown): PsValue {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return value;
  }
  if (Array.isArray(value)) return value.map(fromParsed);
  const object = new PsObject();
  for (const [key, element] of Object.entries(value as Record<string, unknown>)) {
    object.properties.set(key, fromParsed(element));
  }
  return object;
}

/** ConvertFrom-Json of a text: objects become PSCustomObjects, arrays object[]. */
export function fromJson(text: string): PsValue {
  try {
    return fromParsed(JSON.parse(text) as unknown);
  } catch {
    const trimmed = text.trim();
    throw new PsError(`Invalid JSON primitive: ${trimmed.slice(0, 40)}.`, {
      fullyQualifiedErrorId:
        'System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand',
      category: 'NotSpecified',
      exceptionType: 'System.ArgumentException',
    });
  }
}
