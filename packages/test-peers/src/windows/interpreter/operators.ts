/**
 * PowerShell's binary operators on the modelled values (about_Comparison_Operators,
 * about_Arithmetic_Operators, about_Split, about_Join): comparisons convert the right operand to
 * the left's type, are case-insensitive unless `c`-prefixed, and filter when the left is an array.
 */
import { notModelled, PsError } from './errors.js';
import {
  PsHashtable,
  type PsValue,
  toPsBool,
  toPsNumber,
  toPsString,
  typeNameOf,
} from './values.js';

export function psEquals(left: PsValue, right: PsValue, caseSensitive = false): boolean {
  if (left === null) return right === null;
  if (right === null) return false;
  if (typeof left === 'string') {
    const r = toPsString(right);
    return caseSensitive ? left === r : left.toLowerCase() === r.toLowerCase();
  }
  if (typeof left === 'number') {
    try {
      return left === toPsNumber(right);
    } catch {
      return false;
    }
  }
  if (typeof left === 'boolean') return left === toPsBool(right);
  return left === right;
}

function compareOrder(left: PsValue, right: PsValue, caseSensitive: boolean): number {
  if (typeof left === 'number' || (left === null && typeof right === 'number')) {
    const a = left === null ? 0 : left;
    const b = toPsNumber(right);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof left === 'string' || left === null) {
    let a = left ?? '';
    let b = toPsString(right);
    if (!caseSensitive) {
      a = a.toLowerCase();
      b = b.toLowerCase();
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  throw notModelled(`ordering comparison of ${typeNameOf(left)}`, 'comparison_expression');
}

/** A -like pattern as a regular expression (about_Wildcards: * ? [a-z], ` escapes). */
export function wildcardToRegExp(pattern: string, caseSensitive: boolean): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] ?? '';
    if (char === '`' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[i + 1] ?? '');
      i += 1;
    } else if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) source += '\\[';
      else {
        source += `[${pattern.slice(i + 1, close).replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, caseSensitive ? 'u' : 'iu');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A .NET regular expression as a JavaScript one (the common subset). */
export function dotNetRegExp(pattern: string, caseSensitive: boolean, global = false): RegExp {
  if (/\(\?<[a-zA-Z]|\(\?[imsx]+\)/.test(pattern) && /\(\?[imsx]+\)/.test(pattern)) {
    throw notModelled(
      `the regular expression option group in ${JSON.stringify(pattern)}`,
      'comparison_operator',
    );
  }
  return new RegExp(pattern, `${caseSensitive ? '' : 'i'}${global ? 'g' : ''}`);
}

/** The result of `-match`: whether it matched and the groups for `$Matches`. */
export function match(
  left: string,
  pattern: string,
  caseSensitive: boolean,
): PsHashtable | undefined {
  const result = dotNetRegExp(pattern, caseSensitive).exec(left);
  if (result === null) return undefined;
  const matches = new PsHashtable();
  result.forEach((group, index) => {
    if (group !== undefined) matches.entries.set(String(index), group);
  });
  for (const [name, group] of Object.entries(result.groups ?? {})) {
    if (group !== undefined) matches.entries.set(name, group);
  }
  return matches;
}

/**
 * Comparison operators except -match (which sets $Matches; the interpreter does it).
 * `op` is the operator without the dash, lowercase.
 */
export function compare(op: string, left: PsValue, right: PsValue): PsValue {
  const caseSensitive = op.startsWith('c') && op !== 'contains';
  const base =
    /^[ci](eq|ne|gt|ge|lt|le|like|notlike|match|notmatch|contains|notcontains|in|notin|replace|split)$/.test(
      op,
    )
      ? op.slice(1)
      : op;
  const scalar = (l: PsValue): boolean => {
    switch (base) {
      case 'eq':
        return psEquals(l, right, caseSensitive);
      case 'ne':
        return !psEquals(l, right, caseSensitive);
      case 'gt':
        return compareOrder(l, right, caseSensitive) > 0;
      case 'ge':
        return compareOrder(l, right, caseSensitive) >= 0;
      case 'lt':
        return compareOrder(l, right, caseSensitive) < 0;
      case 'le':
        return compareOrder(l, right, caseSensitive) <= 0;
      case 'like':
        return wildcardToRegExp(toPsString(right), caseSensitive).test(toPsString(l));
      case 'notlike':
        return !wildcardToRegExp(toPsString(right), caseSensitive).test(toPsString(l));
      default:
        throw notModelled(`the operator -${op}`, 'comparison_operator');
    }
  };
  switch (base) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
    case 'like':
    case 'notlike':
      return Array.isArray(left) ? left.filter(scalar) : scalar(left);
    case 'contains':
    case 'notcontains': {
      const found = (Array.isArray(left) ? left : [left]).some((l) =>
        psEquals(l, right, caseSensitive),
      );
      return base === 'contains' ? found : !found;
    }
    case 'in':
    case 'notin': {
      const found = (Array.isArray(right) ? right : [right]).some((r) =>
        psEquals(r, left, caseSensitive),
      );
      return base === 'in' ? found : !found;
    }
    case 'join':
      return (Array.isArray(left) ? left : [left]).map(toPsString).join(toPsString(right));
    case 'split': {
      if (Array.isArray(right)) throw notModelled('-split with options', 'comparison_operator');
      const items = Array.isArray(left) ? left : [left];
      return items.flatMap((item) =>
        toPsString(item).split(dotNetRegExp(toPsString(right), caseSensitive)),
      );
    }
    case 'replace': {
      const [pattern, replacement] = Array.isArray(right) ? right : [right, ''];
      if (Array.isArray(right) && right.length > 2) {
        throw new PsError('The -replace operator allows only two elements to follow it, not 3.', {
          fullyQualifiedErrorId: 'BadReplaceArgument',
          category: 'InvalidOperation',
        });
      }
      const regex = dotNetRegExp(toPsString(pattern ?? null), caseSensitive, true);
      const replace = (item: PsValue): string =>
        toPsString(item).replace(regex, toPsString(replacement ?? null));
      return Array.isArray(left) ? left.map(replace) : replace(left);
    }
    default:
      throw notModelled(`the operator -${op}`, 'comparison_operator');
  }
}

/** `+`. */
export function add(left: PsValue, right: PsValue): PsValue {
  if (left === null) return right;
  if (typeof left === 'string') return left + toPsString(right);
  if (typeof left === 'number') return left + toPsNumber(right, 'System.Double');
  if (Array.isArray(left)) return Array.isArray(right) ? [...left, ...right] : [...left, right];
  if (left instanceof PsHashtable && right instanceof PsHashtable) {
    const sum = new PsHashtable(left.ordered);
    for (const [key, value] of left.entries) sum.entries.set(key, value);
    for (const [key, value] of right.entries) {
      if (sum.entries.has(key)) {
        throw new PsError(
          `Item has already been added. Key in dictionary: '${key}'  Key being added: '${key}'`,
          { fullyQualifiedErrorId: 'System.ArgumentException', category: 'OperationStopped' },
        );
      }
      sum.entries.set(key, value);
    }
    return sum;
  }
  throw notModelled(`adding to ${typeNameOf(left)}`, 'additive_expression');
}

/** `- * / %`. */
export function arithmetic(op: string, left: PsValue, right: PsValue): PsValue {
  if (op === '*' && typeof left === 'string') return left.repeat(toPsNumber(right));
  if (op === '*' && Array.isArray(left)) {
    return Array.from({ length: toPsNumber(right) }, () => left).flat();
  }
  if (
    left !== null &&
    typeof left !== 'number' &&
    typeof left !== 'string' &&
    typeof left !== 'boolean'
  ) {
    throw notModelled(`the operator ${op} on ${typeNameOf(left)}`, 'multiplicative_expression');
  }
  const a = toPsNumber(left, 'System.Double');
  const b = toPsNumber(right, 'System.Double');
  switch (op) {
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (b === 0) {
        throw new PsError('Attempted to divide by zero.', {
          fullyQualifiedErrorId: 'RuntimeException',
          category: 'NotSpecified',
        });
      }
      return a / b;
    case '%':
      return a % b;
    default:
      throw notModelled(`the operator ${op}`, 'multiplicative_expression');
  }
}
