/**
 * Parameter binding of modelled cmdlets, after PowerShell's rules (about_Parameters,
 * about_CommonParameters): named parameters by full name, alias or unambiguous prefix, switches,
 * `-Name:value`, positional arguments in declared order, then mandatory checks.
 */
import type { CmdletDefinition, ParameterSpec, ParameterType } from './command.js';
import { PsError } from './errors.js';
import { PsScriptBlock, type PsValue, toPsBool, toPsNumber, toPsString } from './values.js';

/** One element of a command's argument list, as the interpreter evaluated it. */
export type CommandArgument =
  | {
      readonly kind: 'parameter';
      readonly name: string;
      readonly text: string;
      readonly value?: PsValue;
    }
  | { readonly kind: 'argument'; readonly value: PsValue; readonly text: string };

/** Common parameters every cmdlet accepts (about_CommonParameters) that the peer models. */
const COMMON: readonly ParameterSpec[] = [
  { name: 'ErrorAction', aliases: ['ea'], type: 'string' },
  { name: 'WarningAction', aliases: ['wa'], type: 'string' },
  { name: 'InformationAction', aliases: ['infa'], type: 'string' },
  { name: 'Verbose', aliases: ['vb'], type: 'switch' },
  { name: 'Debug', aliases: ['db'], type: 'switch' },
];

const TYPE_NAMES: Record<ParameterType, string> = {
  any: 'System.Object',
  string: 'System.String',
  'string[]': 'System.String[]',
  int: 'System.Int32',
  bool: 'System.Boolean',
  switch: 'System.Management.Automation.SwitchParameter',
  scriptblock: 'System.Management.Automation.ScriptBlock',
  'object[]': 'System.Object[]',
};

/** Converts a bound value to the parameter's declared type. */
export function convertParameter(spec: ParameterSpec, value: PsValue, cmdlet: string): PsValue {
  const type = spec.type ?? 'any';
  const fail = (): PsError =>
    new PsError(
      `Cannot bind parameter '${spec.name}'. Cannot convert the "${toPsString(value)}" value of type "${value === null ? 'null' : typeof value}" to type "${TYPE_NAMES[type]}".`,
      {
        fullyQualifiedErrorId: `CannotConvertArgumentNoMessage,${cmdlet}`,
        category: 'InvalidArgument',
        terminating: true,
      },
    );
  switch (type) {
    case 'any':
      return value;
    case 'string':
      if (Array.isArray(value)) return value.map(toPsString).join(' ');
      return value === null ? null : toPsString(value);
    case 'string[]':
      if (value === null) return null;
      return (Array.isArray(value) ? value : [value]).map(toPsString);
    case 'object[]':
      return Array.isArray(value) ? value : [value];
    case 'int':
      try {
        return Math.trunc(toPsNumber(value));
      } catch {
        throw fail();
      }
    case 'bool':
    case 'switch':
      return toPsBool(value);
    case 'scriptblock':
      if (value instanceof PsScriptBlock) return value;
      throw fail();
  }
}

/** Finds the parameter a `-name` token means: exact name or alias first, then a unique prefix. */
function resolve(specs: readonly ParameterSpec[], token: string, cmdlet: string): ParameterSpec {
  const lower = token.toLowerCase();
  const names = (spec: ParameterSpec): string[] =>
    [spec.name, ...(spec.aliases ?? [])].map((name) => name.toLowerCase());
  const exact = specs.find((spec) => names(spec).includes(lower));
  if (exact !== undefined) return exact;
  const matches = specs.filter((spec) => names(spec).some((name) => name.startsWith(lower)));
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) {
    throw new PsError(
      `Parameter cannot be processed because the parameter name '${token}' is ambiguous. Possible matches include: ${matches.map((spec) => `-${spec.name}`).join(' ')}.`,
      {
        fullyQualifiedErrorId: `AmbiguousParameter,${cmdlet}`,
        category: 'InvalidArgument',
        terminating: true,
      },
    );
  }
  throw new PsError(`A parameter cannot be found that matches parameter name '${token}'.`, {
    fullyQualifiedErrorId: `NamedParameterNotFound,${cmdlet}`,
    category: 'InvalidArgument',
    terminating: true,
  });
}

/** The result of binding: lowercase parameter name → value. */
export interface Bound {
  readonly named: Map<string, PsValue>;
  /** The parameter pipeline input binds to, if the cmdlet has one and it is still unbound. */
  readonly pipelineParameter: ParameterSpec | undefined;
}

/** Binds a cmdlet's arguments (not yet its pipeline input). */
export function bindParameters(
  definition: CmdletDefinition,
  args: readonly CommandArgument[],
  hasInput: boolean,
): Bound {
  const cmdlet = definition.name;
  const specs = [...definition.parameters, ...COMMON];
  const named = new Map<string, PsValue>();
  const positional: { value: PsValue; text: string }[] = [];
  const bind = (spec: ParameterSpec, value: PsValue): void => {
    const key = spec.name.toLowerCase();
    if (named.has(key)) {
      throw new PsError(
        `Cannot bind parameter because parameter '${spec.name}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, "-parameter value1,value2,value3".`,
        {
          fullyQualifiedErrorId: `ParameterAlreadyBound,${cmdlet}`,
          category: 'InvalidArgument',
          terminating: true,
        },
      );
    }
    named.set(key, convertParameter(spec, value, cmdlet));
  };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === undefined) continue;
    if (arg.kind === 'argument') {
      positional.push({ value: arg.value, text: arg.text });
      continue;
    }
    const spec = resolve(specs, arg.name, cmdlet);
    if (spec.type === 'switch') {
      bind(spec, arg.value === undefined ? true : arg.value);
      continue;
    }
    if (arg.value !== undefined) {
      bind(spec, arg.value);
      continue;
    }
    const next = args[i + 1];
    if (next === undefined || next.kind === 'parameter') {
      throw new PsError(
        `Missing an argument for parameter '${spec.name}'. Specify a parameter of type '${TYPE_NAMES[spec.type ?? 'any']}' and try again.`,
        {
          fullyQualifiedErrorId: `MissingArgument,${cmdlet}`,
          category: 'InvalidArgument',
          terminating: true,
        },
      );
    }
    bind(spec, next.value);
    i += 1;
  }
  const remaining = definition.parameters.find((spec) => spec.remaining === true);
  const byPosition = definition.parameters
    .filter((spec) => spec.position !== undefined)
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  for (const [index, arg] of positional.entries()) {
    const spec = byPosition.find((candidate) => !named.has(candidate.name.toLowerCase()));
    if (spec === remaining && remaining !== undefined) {
      // ValueFromRemainingArguments: every leftover positional argument goes to it.
      named.set(
        remaining.name.toLowerCase(),
        positional.slice(index).map((rest) => rest.value),
      );
      break;
    }
    if (spec === undefined) {
      throw new PsError(
        `A positional parameter cannot be found that accepts argument '${arg.text}'.`,
        {
          fullyQualifiedErrorId: `PositionalParameterNotFound,${cmdlet}`,
          category: 'InvalidArgument',
          terminating: true,
        },
      );
    }
    bind(spec, arg.value);
  }
  const pipelineParameter = definition.parameters.find(
    (spec) => spec.valueFromPipeline === true && !named.has(spec.name.toLowerCase()),
  );
  const missing = definition.parameters.filter(
    (spec) =>
      spec.mandatory === true &&
      !named.has(spec.name.toLowerCase()) &&
      !(hasInput && spec === pipelineParameter),
  );
  if (missing.length > 0) {
    throw new PsError(
      `Cannot process command because of one or more missing mandatory parameters: ${missing.map((spec) => spec.name).join(' ')}.`,
      {
        fullyQualifiedErrorId: `MissingMandatoryParameter,${cmdlet}`,
        category: 'InvalidArgument',
        terminating: true,
      },
    );
  }
  return { named, pipelineParameter };
}
