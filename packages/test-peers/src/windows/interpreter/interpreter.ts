/**
 * Evaluates a PowerShell syntax tree (tree-sitter-powershell) for the subset of the language the
 * wrapper script and the Windows OS module's scripts use: statements, pipelines, commands,
 * expressions. Any other construct raises "the Windows peer does not model ..." (never ignored).
 * Semantics follow the about_* pages of Windows PowerShell 5.1 (about_Scopes, about_Pipelines,
 * about_Try_Catch_Finally, about_Script_Blocks, about_Parsing, about_Redirection, about_Automatic_Variables).
 */
import type { Node, Tree } from 'web-tree-sitter';
import { decodeVerbatimString } from '../powershell-grammar.js';
import { bindParameters, type CommandArgument, convertParameter } from './binding.js';
import {
  type CmdletDefinition,
  type CommandCall,
  type CommandTable,
  commandNotFound,
  type InvokeOptions,
  type NativeDefinition,
  type WindowsSession,
} from './command.js';
import { ConsoleEncodings } from './console-encoding.js';
import {
  ExitSignal,
  KilledSignal,
  LoopSignal,
  notModelled,
  PsError,
  ReturnSignal,
} from './errors.js';
import {
  type ConsoleHost,
  callMethod,
  getElement,
  getMember,
  setMember,
  setStaticMember,
  staticCall,
  staticMember,
} from './members.js';
import { add, arithmetic, compare, match } from './operators.js';
import { Scope } from './scope.js';
import {
  collapse,
  ErrorRecord,
  enumerate,
  PsHashtable,
  PsObject,
  PsScriptBlock,
  type PsValue,
  toPsBool,
  toPsNumber,
  toPsString,
  typeNameOf,
} from './values.js';

/** Where output objects go. */
export interface Sink {
  write(value: PsValue): void;
  /** Present only where a native program's stdout goes straight to the exec's stdout. */
  readonly raw?: (text: string) => void;
}

/** A sink that keeps what is written. */
class Collector implements Sink {
  readonly values: PsValue[] = [];
  write(value: PsValue): void {
    this.values.push(value);
  }
}

const DISCARD: Sink = { write() {} };

/** What an exec runs with. */
export interface ExecOptions {
  readonly table: CommandTable;
  readonly session: WindowsSession;
  /** The exec's stdin, read to the end (resolves at EOF). */
  readonly stdin: () => Promise<string>;
}

type Redirect = { readonly discardOutput: boolean; readonly stderr: 'pass' | 'discard' | 'merge' };

const PASS_THROUGH = new Set([
  'logical_expression',
  'bitwise_expression',
  'comparison_expression',
  'additive_expression',
  'multiplicative_expression',
  'format_expression',
  'range_expression',
  'array_literal_expression',
  'unary_expression',
  'left_assignment_expression',
  'argument_expression',
  'logical_argument_expression',
  'bitwise_argument_expression',
  'comparison_argument_expression',
  'additive_argument_expression',
  'multiplicative_argument_expression',
  'format_argument_expression',
  'range_argument_expression',
]);

function kids(node: Node): Node[] {
  return node.children.filter((child): child is Node => child !== null && child.type !== 'comment');
}

function namedKids(node: Node): Node[] {
  return node.namedChildren.filter(
    (child): child is Node => child !== null && child.type !== 'comment',
  );
}

/** Descends through the grammar's single-child precedence layers. */
function unwrap(node: Node): Node {
  let current = node;
  for (;;) {
    if (!PASS_THROUGH.has(current.type)) return current;
    const children = kids(current);
    if (children.length !== 1 || children[0] === undefined) return current;
    current = children[0];
  }
}

/** PowerShell's [int] conversion rounds half to even. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The stderr text of an error record, as powershell.exe writes an uncaught one. */
export function formatErrorRecord(error: PsError): string {
  const short = error.exceptionType.split('.').pop() ?? error.exceptionType;
  return (
    `${error.message}\r\n` +
    `    + CategoryInfo          : ${error.category}: (:) [], ${short}\r\n` +
    `    + FullyQualifiedErrorId : ${error.fullyQualifiedErrorId}\r\n \r\n`
  );
}

/** One exec's PowerShell runspace. */
export class Interpreter {
  readonly global = new Scope();
  private lastSucceeded = true;
  private readonly host: ConsoleHost;
  /** The exec's session, its stdout through the console's output encoding. */
  private readonly session: WindowsSession;
  readonly encodings = new ConsoleEncodings();

  constructor(private readonly options: ExecOptions) {
    const { session: raw } = options;
    const session: WindowsSession = {
      ...raw,
      stdout: (text) => raw.stdout(this.encodings.encodeOutput(text)),
      stderr: (text) => raw.stderr(this.encodings.encodeOutput(text)),
    };
    this.session = session;
    this.global.set('PID', session.pid);
    this.global.set('ErrorActionPreference', 'Continue');
    this.global.set('ProgressPreference', 'Continue');
    this.global.set('WarningPreference', 'Continue');
    this.global.set('PSVersionTable', new PsHashtable());
    this.host = {
      stdin: async () => this.encodings.decodeInput(await options.stdin()),
      encodings: this.encodings,
      stdout: (text) => session.stdout(text),
      stderr: (text) => session.stderr(text),
    };
  }

  /** Runs a parsed script; resolves with the exit code powershell.exe would end with. */
  async run(tree: Tree): Promise<number> {
    const root = tree.rootNode;
    const top: Sink = {
      write: (value) => this.writeTop(value),
      raw: (text) => this.session.stdout(text),
    };
    try {
      for (const child of namedKids(root)) {
        if (child.type === 'param_block')
          throw notModelled('a param block of the whole script', child.type);
        if (child.type === 'statement_list') await this.statementList(child, this.global, top);
        else throw notModelled(`the top-level ${child.type}`, child.type);
      }
      return this.lastSucceeded ? 0 : 1;
    } catch (error) {
      if (error instanceof ExitSignal) return error.code;
      if (error instanceof ReturnSignal) return 0;
      if (error instanceof LoopSignal) return 0;
      if (error instanceof PsError) {
        this.session.stderr(formatErrorRecord(error));
        return 1;
      }
      throw error;
    }
  }

  private writeTop(value: PsValue): void {
    if (value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) this.writeTop(item);
      return;
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      this.session.stdout(`${toPsString(value)}\r\n`);
      return;
    }
    throw notModelled(
      `PowerShell's default formatting of a ${typeNameOf(value)} written to the console (format it with ConvertTo-Json or as a string)`,
    );
  }

  private checkAbort(): void {
    if (this.session.signal.aborted) throw new KilledSignal('signal');
  }

  private errorAction(scope: Scope): string {
    return toPsString(scope.lookup('ErrorActionPreference').value).toLowerCase();
  }

  /** Applies an error action to a non-terminating error: Stop rethrows, Continue prints it. */
  private handleError(error: PsError, action: string, quiet: boolean): void {
    switch (action) {
      case 'stop':
        throw error;
      case 'continue':
        if (!quiet) this.session.stderr(formatErrorRecord(error));
        return;
      case 'silentlycontinue':
      case 'ignore':
        return;
      default:
        throw notModelled(`the error action '${action}'`);
    }
  }

  // ---------------------------------------------------------------- statements

  async statementList(node: Node, scope: Scope, sink: Sink): Promise<void> {
    for (const statement of namedKids(node)) await this.statement(statement, scope, sink);
  }

  private async block(node: Node, scope: Scope, sink: Sink): Promise<void> {
    // statement_block: '{' statement_list? '}'
    const list = node.childForFieldName('statement_list');
    if (list !== null) await this.statementList(list, scope, sink);
  }

  async statement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    this.checkAbort();
    try {
      await this.statementInner(node, scope, sink);
    } catch (error) {
      if (!(error instanceof PsError) || error.terminating) throw error;
      this.lastSucceeded = false;
      this.handleError(error, this.errorAction(scope), false);
    }
  }

  private async statementInner(node: Node, scope: Scope, sink: Sink): Promise<void> {
    switch (node.type) {
      case 'pipeline':
        this.lastSucceeded = true;
        await this.pipeline(node, scope, sink);
        return;
      case 'empty_statement':
        return;
      case 'if_statement':
        return this.ifStatement(node, scope, sink);
      case 'foreach_statement':
        return this.foreachStatement(node, scope, sink);
      case 'while_statement':
        return this.whileStatement(node, scope, sink);
      case 'for_statement':
        return this.forStatement(node, scope, sink);
      case 'do_statement':
        return this.doStatement(node, scope, sink);
      case 'flow_control_statement':
        return this.flowControl(node, scope, sink);
      case 'try_statement':
        return this.tryStatement(node, scope, sink);
      case 'function_statement':
        return this.functionStatement(node, scope);
      default:
        throw notModelled(`the statement '${node.type}'`, node.type);
    }
  }

  private async ifStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const condition = node.childForFieldName('condition');
    const body = namedKids(node).find((child) => child.type === 'statement_block');
    if (condition === null || body === undefined) throw notModelled('this if statement', node.type);
    if (toPsBool(await this.pipelineValue(condition, scope))) return this.block(body, scope, sink);
    const elseifs = node.childForFieldName('elseif_clauses');
    for (const clause of elseifs === null ? [] : namedKids(elseifs)) {
      const clauseCondition = clause.childForFieldName('condition');
      const clauseBody = namedKids(clause).find((child) => child.type === 'statement_block');
      if (clauseCondition === null || clauseBody === undefined)
        throw notModelled('this elseif', clause.type);
      if (toPsBool(await this.pipelineValue(clauseCondition, scope))) {
        return this.block(clauseBody, scope, sink);
      }
    }
    const elseClause = node.childForFieldName('else_clause');
    const elseBody = elseClause === null ? undefined : namedKids(elseClause)[0];
    if (elseBody !== undefined) await this.block(elseBody, scope, sink);
  }

  /** Runs a loop body; true when the loop must stop (break). */
  private async loopBody(body: Node, scope: Scope, sink: Sink): Promise<boolean> {
    try {
      await this.block(body, scope, sink);
      return false;
    } catch (error) {
      if (error instanceof LoopSignal) return error.kind === 'break';
      throw error;
    }
  }

  private async foreachStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const children = namedKids(node);
    if (children.some((child) => child.type === 'foreach_parameter')) {
      throw notModelled('foreach -parallel', 'foreach_parameter');
    }
    const [variable, source, body] = children;
    if (variable?.type !== 'variable' || source === undefined || body === undefined) {
      throw notModelled('this foreach statement', node.type);
    }
    const items = enumerate(await this.pipelineValue(source, scope));
    for (const item of items) {
      this.checkAbort();
      this.assignVariable(variable.text, item, scope);
      if (await this.loopBody(body, scope, sink)) break;
    }
  }

  private async whileStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const condition = node.childForFieldName('condition');
    const body = namedKids(node).find((child) => child.type === 'statement_block');
    const pipeline = condition === null ? undefined : namedKids(condition)[0];
    if (pipeline === undefined || body === undefined)
      throw notModelled('this while statement', node.type);
    while (toPsBool(await this.pipelineValue(pipeline, scope))) {
      this.checkAbort();
      if (await this.loopBody(body, scope, sink)) break;
    }
  }

  private async doStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const body = namedKids(node).find((child) => child.type === 'statement_block');
    const condition = node.childForFieldName('condition');
    const pipeline = condition === null ? undefined : namedKids(condition)[0];
    const until = kids(node).some((child) => child.text.toLowerCase() === 'until');
    if (pipeline === undefined || body === undefined)
      throw notModelled('this do statement', node.type);
    for (;;) {
      this.checkAbort();
      if (await this.loopBody(body, scope, sink)) break;
      const value = toPsBool(await this.pipelineValue(pipeline, scope));
      if (until ? value : !value) break;
    }
  }

  private async forStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const part = (field: string): Node | undefined => {
      const found = node.childForFieldName(field);
      return found === null ? undefined : namedKids(found)[0];
    };
    const initializer = part('for_initializer');
    const condition = part('for_condition');
    const iterator = part('for_iterator');
    const body = namedKids(node).find((child) => child.type === 'statement_block');
    if (body === undefined) throw notModelled('this for statement', node.type);
    if (initializer !== undefined) await this.pipeline(initializer, scope, DISCARD);
    for (;;) {
      this.checkAbort();
      if (condition !== undefined && !toPsBool(await this.pipelineValue(condition, scope))) break;
      if (await this.loopBody(body, scope, sink)) break;
      if (iterator !== undefined) await this.pipeline(iterator, scope, DISCARD);
    }
  }

  private async flowControl(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const keyword = (kids(node)[0]?.text ?? '').toLowerCase();
    const argument = namedKids(node)[0];
    switch (keyword) {
      case 'break':
      case 'continue':
        if (argument !== undefined) throw notModelled(`${keyword} with a label`, argument.type);
        throw new LoopSignal(keyword);
      case 'return':
        if (argument !== undefined) await this.pipeline(argument, scope, sink);
        throw new ReturnSignal([]);
      case 'exit': {
        const value = argument === undefined ? null : await this.pipelineValue(argument, scope);
        let code: number;
        try {
          code = Math.trunc(toPsNumber(value));
        } catch {
          throw notModelled(`exit with the non-numeric value '${toPsString(value)}'`, node.type);
        }
        throw new ExitSignal(code);
      }
      case 'throw': {
        if (argument === undefined) {
          throw new PsError('ScriptHalted', {
            fullyQualifiedErrorId: 'ScriptHalted',
            category: 'OperationStopped',
            terminating: true,
          });
        }
        const value = await this.pipelineValue(argument, scope);
        if (value instanceof ErrorRecord) {
          const { error } = value;
          throw new PsError(error.message, {
            fullyQualifiedErrorId: error.fullyQualifiedErrorId,
            category: error.category,
            exceptionType: error.exceptionType,
            terminating: true,
          });
        }
        const message = toPsString(value);
        throw new PsError(message, {
          fullyQualifiedErrorId: message,
          category: 'OperationStopped',
          terminating: true,
        });
      }
      default:
        throw notModelled(`the flow control statement '${keyword}'`, node.type);
    }
  }

  private async tryStatement(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const children = namedKids(node);
    const body = children.find((child) => child.type === 'statement_block');
    const catches = children.find((child) => child.type === 'catch_clauses');
    const finallyClause = children.find((child) => child.type === 'finally_clause');
    if (body === undefined) throw notModelled('this try statement', node.type);
    try {
      try {
        await this.block(body, scope, sink);
      } catch (error) {
        if (!(error instanceof PsError) || catches === undefined) throw error;
        const clause = namedKids(catches)[0];
        if (clause === undefined) throw error;
        if (
          namedKids(catches).length > 1 ||
          namedKids(clause).some((c) => c.type === 'catch_type_list')
        ) {
          throw notModelled('catch clauses with exception types', 'catch_type_list');
        }
        const catchBody = namedKids(clause).find((child) => child.type === 'statement_block');
        const previous = scope.lookup('_');
        scope.set('_', new ErrorRecord(error));
        try {
          if (catchBody !== undefined) await this.block(catchBody, scope, sink);
        } finally {
          scope.set('_', previous.value);
        }
      }
    } catch (error) {
      if (error instanceof KilledSignal) throw error;
      if (finallyClause !== undefined) {
        const finallyBody = namedKids(finallyClause)[0];
        if (finallyBody !== undefined) await this.block(finallyBody, scope, sink);
      }
      throw error;
    }
    if (finallyClause !== undefined) {
      const finallyBody = namedKids(finallyClause)[0];
      if (finallyBody !== undefined) await this.block(finallyBody, scope, sink);
    }
  }

  private functionStatement(node: Node, scope: Scope): void {
    const keyword = (kids(node)[0]?.text ?? '').toLowerCase();
    if (keyword !== 'function') throw notModelled(`${keyword} definitions`, node.type);
    const name = namedKids(node).find((child) => child.type === 'function_name');
    if (name === undefined) throw notModelled('this function definition', node.type);
    scope.set(`function:${name.text}`, new PsScriptBlock(node, node.text));
  }

  // ---------------------------------------------------------------- pipelines

  /** The value of a pipeline used as an expression: an expression's own value, else its collapsed output. */
  async pipelineValue(node: Node, scope: Scope): Promise<PsValue> {
    if (node.type !== 'pipeline') return this.expression(node, scope);
    const children = namedKids(node);
    const first = children[0];
    if (first?.type === 'assignment_expression') return this.assignment(first, scope);
    if (children.length === 1 && first?.type === 'pipeline_chain') {
      const stages = namedKids(first);
      const only = stages[0];
      if (stages.length === 1 && only !== undefined && only.type !== 'command') {
        return this.expression(only, scope);
      }
    }
    const collector = new Collector();
    await this.pipeline(node, scope, collector);
    return collapse(collector.values);
  }

  async pipeline(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const children = namedKids(node);
    const first = children[0];
    if (first?.type === 'assignment_expression') {
      await this.assignment(first, scope);
      return;
    }
    if (children.length !== 1 || first === undefined) {
      // `&&` / `||` exist from PowerShell 7 on; 5.1's parser rejects them.
      throw new PsError("The token '&&' is not a valid statement separator in this version.", {
        fullyQualifiedErrorId: 'InvalidEndOfLine',
        category: 'ParserError',
        terminating: true,
      });
    }
    await this.pipelineChain(first, scope, sink);
  }

  private async pipelineChain(node: Node, scope: Scope, sink: Sink): Promise<void> {
    const stages: { node: Node; redirect: Redirect }[] = [];
    for (const child of namedKids(node)) {
      if (child.type === 'redirections') {
        const last = stages[stages.length - 1];
        if (last !== undefined) {
          last.redirect = await this.redirections(namedKids(child), scope);
        }
        continue;
      }
      if (child.type === 'verbatim_command_argument') {
        throw notModelled('the stop-parsing token --%', child.type);
      }
      stages.push({ node: child, redirect: { discardOutput: false, stderr: 'pass' } });
    }
    let input: PsValue[] = [];
    let hasInput = false;
    for (const [index, stage] of stages.entries()) {
      const last = index === stages.length - 1;
      const collector = new Collector();
      const out: Sink = stage.redirect.discardOutput ? DISCARD : last ? sink : collector;
      if (stage.node.type === 'command') {
        await this.command(stage.node, scope, input, hasInput, out);
      } else {
        if (index > 0) throw notModelled('an expression after | in a pipeline', stage.node.type);
        const value = await this.expression(stage.node, scope);
        // `$i++` as a statement writes nothing (PowerShell voids increments at statement level).
        if (
          stages.length === 1 &&
          /^(pre|post)_(in|de)crement_expression$/.test(this.innermost(stage.node).type)
        ) {
          continue;
        }
        for (const item of value === null ? [null] : enumerate(value)) out.write(item);
      }
      input = collector.values;
      hasInput = true;
    }
  }

  private async redirections(nodes: Node[], scope: Scope): Promise<Redirect> {
    let discardOutput = false;
    let stderr: Redirect['stderr'] = 'pass';
    for (const redirection of nodes) {
      const parts = namedKids(redirection);
      const operator = parts[0];
      if (operator?.type === 'merging_redirection_operator') {
        if (operator.text !== '2>&1')
          throw notModelled(`the redirection ${operator.text}`, operator.type);
        stderr = 'merge';
        continue;
      }
      const target = parts[1];
      if (operator?.type !== 'file_redirection_operator' || target === undefined) {
        throw notModelled(`the redirection ${redirection.text}`, redirection.type);
      }
      const targetNode =
        namedKids(target).find((child) => child.type !== 'command_argument_sep') ?? target;
      const isNull =
        unwrap(targetNode).type === 'variable' && unwrap(targetNode).text.toLowerCase() === '$null';
      if (!isNull)
        throw notModelled(`redirecting to a file (${redirection.text})`, redirection.type);
      void scope;
      switch (operator.text.trim()) {
        case '>':
        case '1>':
          discardOutput = true;
          break;
        case '2>':
          stderr = 'discard';
          break;
        case '*>':
          discardOutput = true;
          stderr = 'discard';
          break;
        default:
          throw notModelled(`the redirection ${operator.text}`, operator.type);
      }
    }
    return { discardOutput, stderr };
  }

  // ---------------------------------------------------------------- commands

  /** The expression under the precedence layers and unary wrappers. */
  private innermost(node: Node): Node {
    let current = unwrap(node);
    while (current.type === 'expression_with_unary_operator' && kids(current).length === 1) {
      const only = kids(current)[0];
      if (only === undefined) break;
      current = unwrap(only);
    }
    return current;
  }

  private async commandArguments(
    elements: Node | null,
    scope: Scope,
  ): Promise<{ args: CommandArgument[]; redirect: Redirect }> {
    const args: CommandArgument[] = [];
    const redirectionNodes: Node[] = [];
    const tokenRedirections: string[] = [];
    const children = elements === null ? [] : namedKids(elements);
    for (let i = 0; i < children.length; i += 1) {
      const child = children[i];
      if (child === undefined) continue;
      switch (child.type) {
        case 'command_argument_sep':
          continue;
        case 'command_parameter': {
          const text = child.text;
          if (text === '--') throw notModelled('the end-of-parameters token --', child.type);
          const next = children[i + 1];
          // `-Name:value`: the colon is a command_argument_sep right after the parameter.
          if (
            next?.type === 'command_argument_sep' &&
            next.text === ':' &&
            next.startIndex === child.endIndex
          ) {
            const valueNode = children[i + 2];
            if (valueNode === undefined) throw notModelled(`the parameter ${text}:`, child.type);
            const value = await this.argumentValue(valueNode, scope);
            args.push({
              kind: 'parameter',
              name: text.slice(1),
              text: `${text}:${valueNode.text}`,
              value,
            });
            i += 2;
            continue;
          }
          args.push({ kind: 'parameter', name: text.slice(1), text });
          continue;
        }
        case 'redirection':
          redirectionNodes.push(child);
          continue;
        case 'generic_token':
          // The grammar reads `2>$null` (no space) as a bare word; PowerShell reads a redirection.
          if (/^[0-9*]?>/.test(child.text)) {
            tokenRedirections.push(child.text);
            continue;
          }
          args.push({
            kind: 'argument',
            value: await this.argumentValue(child, scope),
            text: child.text,
          });
          continue;
        case 'stop_parsing':
          throw notModelled('the stop-parsing token --%', child.type);
        case 'argument_list':
          throw notModelled('an argument list directly after a command argument', child.type);
        default:
          args.push({
            kind: 'argument',
            value: await this.argumentValue(child, scope),
            text: child.text,
          });
      }
    }
    let redirect = await this.redirections(redirectionNodes, scope);
    for (const text of tokenRedirections) {
      const found = /^([12*]?)>\$null$/i.exec(text);
      if (found === null) throw notModelled(`the redirection ${text}`, 'generic_token');
      const stream = found[1] ?? '';
      redirect = {
        discardOutput: redirect.discardOutput || stream !== '2',
        stderr: stream === '2' || stream === '*' ? 'discard' : redirect.stderr,
      };
    }
    return { args, redirect };
  }

  private async argumentValue(node: Node, scope: Scope): Promise<PsValue> {
    if (node.type === 'generic_token') {
      // A bare word is a string (about_Parsing, argument mode); variables inside it are not modelled.
      if (/[$`]/.test(node.text))
        throw notModelled('variables or escapes inside a bare-word argument', node.type);
      return node.text;
    }
    return this.expression(node, scope);
  }

  private async command(
    node: Node,
    scope: Scope,
    input: PsValue[],
    hasInput: boolean,
    sink: Sink,
  ): Promise<void> {
    this.checkAbort();
    const operatorNode = namedKids(node).find(
      (child) => child.type === 'command_invokation_operator',
    );
    const dot = operatorNode?.text === '.';
    const nameNode = node.childForFieldName('command_name');
    if (nameNode === null) throw notModelled('a command without a name', node.type);
    const { args, redirect } = await this.commandArguments(
      node.childForFieldName('command_elements'),
      scope,
    );
    const out = redirect.discardOutput ? DISCARD : sink;
    let target: PsValue;
    if (nameNode.type === 'command_name' && /^\d/.test(nameNode.text)) {
      // PowerShell parses a statement starting with a digit in expression mode; tree-sitter's
      // grammar takes e.g. `1..5` for a command name. Only an integer range is modelled.
      const range = /^(\d+)\.\.(\d+)$/.exec(nameNode.text);
      if (range === null || operatorNode !== undefined || args.length > 0) {
        throw notModelled(
          `'${nameNode.text}', which the grammar parsed as a command name`,
          nameNode.type,
        );
      }
      const from = Number(range[1]);
      const to = Number(range[2]);
      for (let i = from; from <= to ? i <= to : i >= to; i += from <= to ? 1 : -1) out.write(i);
      return;
    }
    if (nameNode.type === 'command_name' || nameNode.type === 'path_command_name') {
      target = this.commandNameText(nameNode, scope);
    } else {
      const inner = namedKids(nameNode)[0];
      if (inner === undefined) throw notModelled('this command name', nameNode.type);
      target =
        inner.type === 'command_name' || inner.type === 'path_command_name'
          ? this.commandNameText(inner, scope)
          : await this.expression(inner, scope);
    }
    if (target instanceof PsScriptBlock) {
      await this.invokeBlock(target, scope, { args, input, dot, sink: out });
      return;
    }
    if (typeof target !== 'string') {
      throw notModelled(`invoking a ${typeNameOf(target)} as a command`, nameNode.type);
    }
    if (dot) throw notModelled(`dot-sourcing the command '${target}'`, node.type);
    const fn = scope.lookup(`function:${target}`);
    if (fn.found && fn.value instanceof PsScriptBlock) {
      await this.invokeBlock(fn.value, scope, { args, input, dot: false, sink: out });
      return;
    }
    const cmdlet = this.options.table.cmdlet(target);
    if (cmdlet !== undefined) {
      await this.invokeCmdlet(cmdlet, target, args, input, hasInput, scope, out, redirect);
      return;
    }
    const native = this.options.table.resolveNative(target, this.session);
    if (native !== undefined) {
      await this.invokeNative(native, target, args, input, hasInput, out, redirect, scope);
      return;
    }
    throw commandNotFound(target);
  }

  private commandNameText(node: Node, scope: Scope): PsValue {
    // `& $name`: the grammar reads the variable as a path command name.
    const parts = namedKids(node);
    if (node.type === 'path_command_name' && parts.length === 1 && parts[0]?.type === 'variable') {
      return this.variable(parts[0].text, scope);
    }
    if (
      node.type === 'path_command_name' &&
      namedKids(node).some((child) => child.type === 'variable')
    ) {
      throw notModelled('a command path containing variables', node.type);
    }
    if (/["'`$]/.test(node.text))
      throw notModelled('quotes or variables inside a bare command name', node.type);
    return node.text;
  }

  private makeCall(
    name: string,
    named: ReadonlyMap<string, PsValue>,
    positional: readonly PsValue[],
    input: readonly PsValue[],
    scope: Scope,
  ): CommandCall {
    const explicit = named.get('warningaction');
    const warningAction = (
      explicit === undefined || explicit === null
        ? toPsString(scope.lookup('WarningPreference').value || 'Continue')
        : toPsString(explicit)
    ).toLowerCase();
    return {
      name,
      named,
      positional,
      input,
      stdin: this.host.stdin,
      session: this.session,
      invoke: (block, options) => this.invokeForCmdlet(block, scope, options),
      warning: (text) => {
        switch (warningAction) {
          case 'continue':
            this.session.stdout(`WARNING: ${text}\r\n`);
            return;
          case 'silentlycontinue':
          case 'ignore':
            return;
          case 'stop':
            throw new PsError(
              `The running command stopped because the preference variable "WarningPreference" or common parameter is set to Stop: ${text}`,
              {
                fullyQualifiedErrorId: 'ActionPreferenceStop',
                category: 'OperationStopped',
                terminating: true,
              },
            );
          default:
            throw notModelled(`the warning action '${warningAction}'`);
        }
      },
    };
  }

  private async invokeForCmdlet(
    block: PsScriptBlock,
    scope: Scope,
    options: InvokeOptions = {},
  ): Promise<PsValue[]> {
    const collector = new Collector();
    const args: CommandArgument[] = (options.args ?? []).map((value) => ({
      kind: 'argument',
      value,
      text: toPsString(value),
    }));
    const invokeOptions: Parameters<Interpreter['invokeBlock']>[2] = {
      args,
      input: [],
      // ForEach-Object / Where-Object run their blocks dot-sourced in the caller's scope.
      dot: true,
      sink: collector,
    };
    if (options.dollarUnder !== undefined) invokeOptions.dollarUnder = options.dollarUnder;
    await this.invokeBlock(block, scope, invokeOptions);
    return collector.values;
  }

  private async invokeCmdlet(
    definition: CmdletDefinition,
    name: string,
    args: CommandArgument[],
    input: PsValue[],
    hasInput: boolean,
    scope: Scope,
    sink: Sink,
    redirect: Redirect,
  ): Promise<void> {
    const bound = bindParameters(definition, args, hasInput);
    const explicitAction = bound.named.get('erroraction');
    const action =
      explicitAction === undefined || explicitAction === null
        ? this.errorAction(scope)
        : toPsString(explicitAction).toLowerCase();
    this.session.commandStarted(definition.name);
    const runOnce = async (
      named: ReadonlyMap<string, PsValue>,
      items: readonly PsValue[],
    ): Promise<void> => {
      let output: PsValue[];
      try {
        output = await definition.run(this.makeCall(name, named, [], items, scope));
      } catch (error) {
        if (!(error instanceof PsError) || error.terminating) throw error;
        this.lastSucceeded = false;
        if (action === 'stop') throw error;
        this.handleError(error, action, redirect.stderr === 'discard');
        return;
      }
      this.checkAbort();
      for (const value of output) sink.write(value);
    };
    const parameter = bound.pipelineParameter;
    if (definition.pipeline === 'each' && hasInput) {
      for (const item of input) {
        this.checkAbort();
        const named = new Map(bound.named);
        if (parameter !== undefined) {
          named.set(
            parameter.name.toLowerCase(),
            convertParameter(parameter, item, definition.name),
          );
        }
        await runOnce(named, [item]);
      }
      return;
    }
    if (
      hasInput &&
      input.length > 0 &&
      parameter === undefined &&
      !definition.parameters.some((p) => p.valueFromPipeline)
    ) {
      throw new PsError(
        'The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.',
        {
          fullyQualifiedErrorId: `InputObjectNotBound,${definition.name}`,
          category: 'InvalidArgument',
          terminating: true,
        },
      );
    }
    await runOnce(bound.named, input);
  }

  private async invokeNative(
    definition: NativeDefinition,
    name: string,
    args: CommandArgument[],
    input: PsValue[],
    hasInput: boolean,
    sink: Sink,
    redirect: Redirect,
    scope: Scope,
  ): Promise<void> {
    if (hasInput && input.length > 0)
      throw notModelled(`piping input into the native command '${name}'`);
    // PowerShell 5.1 passes each argument as a string; arrays become several arguments and empty
    // strings are dropped (fixed only in PowerShell 7.3).
    const argv: string[] = [];
    for (const arg of args) {
      if (arg.kind === 'parameter') {
        argv.push(arg.value === undefined ? arg.text : `-${arg.name}:${toPsString(arg.value)}`);
        continue;
      }
      for (const item of Array.isArray(arg.value) ? arg.value : [arg.value]) {
        const text = toPsString(item);
        if (text !== '') argv.push(text);
      }
    }
    this.session.commandStarted(name);
    const result = await definition.run(this.makeCall(name, new Map(), argv, [], scope));
    this.checkAbort();
    this.global.set('LASTEXITCODE', result.exitCode);
    if (result.stdout !== '') {
      if (sink.raw !== undefined) sink.raw(result.stdout);
      else {
        const lines = result.stdout.split(/\r?\n/);
        if (lines[lines.length - 1] === '') lines.pop();
        for (const line of lines) sink.write(line);
      }
    }
    if (result.stderr !== '') {
      if (redirect.stderr === 'pass') this.session.stderr(result.stderr);
      else if (redirect.stderr === 'merge') {
        const lines = result.stderr.split(/\r?\n/).filter((line) => line !== '');
        // 5.1 wraps merged native stderr lines in NativeCommandError records; under Stop the first one terminates.
        if (this.errorAction(scope) === 'stop') {
          throw new PsError(lines[0] ?? '', {
            fullyQualifiedErrorId: 'NativeCommandError',
            category: 'NotSpecified',
            terminating: true,
          });
        }
        for (const line of lines) sink.write(line);
      }
    }
    this.lastSucceeded = result.exitCode === 0;
  }

  // ---------------------------------------------------------------- script blocks

  private async invokeBlock(
    block: PsScriptBlock,
    caller: Scope,
    options: {
      args: CommandArgument[];
      input: PsValue[];
      dot: boolean;
      sink: Sink;
      dollarUnder?: PsValue;
    },
  ): Promise<void> {
    const node = block.node as Node;
    const scope = options.dot ? caller : new Scope(caller);
    let paramNodes: Node[] = [];
    let body: Node | undefined;
    const scriptBlock =
      node.type === 'function_statement' || node.type === 'script_block_expression'
        ? namedKids(node).find((child) => child.type === 'script_block')
        : node;
    for (const child of node.type === 'script_block_expression' ? namedKids(node) : []) {
      if (child.type === 'param_block') paramNodes = this.parameterNodes(child);
    }
    const declaration = namedKids(node).find(
      (child) => child.type === 'function_parameter_declaration',
    );
    if (declaration !== undefined) {
      const list = namedKids(declaration).find((child) => child.type === 'parameter_list');
      paramNodes =
        list === undefined ? [] : namedKids(list).filter((c) => c.type === 'script_parameter');
    }
    for (const child of scriptBlock === undefined ? [] : namedKids(scriptBlock)) {
      if (child.type === 'param_block') paramNodes = this.parameterNodes(child);
      if (child.type === 'script_block_body') body = child;
    }
    await this.bindBlockParameters(paramNodes, options.args, scope);
    scope.set('input', options.input);
    const previousUnder = options.dollarUnder === undefined ? undefined : scope.lookup('_');
    if (options.dollarUnder !== undefined) {
      scope.set('_', options.dollarUnder);
      scope.set('PSItem', options.dollarUnder);
    }
    try {
      const list = body === undefined ? undefined : namedKids(body)[0];
      if (list?.type === 'named_block_list')
        throw notModelled('begin/process/end blocks', list.type);
      if (list !== undefined) await this.statementList(list, scope, options.sink);
    } catch (error) {
      if (!(error instanceof ReturnSignal)) throw error;
    } finally {
      if (previousUnder !== undefined) {
        scope.set('_', previousUnder.value);
        scope.set('PSItem', previousUnder.value);
      }
    }
  }

  private parameterNodes(paramBlock: Node): Node[] {
    if (namedKids(paramBlock).some((child) => child.type === 'attribute_list')) {
      throw notModelled('attributes on a param block ([CmdletBinding()])', 'attribute_list');
    }
    const list = namedKids(paramBlock).find((child) => child.type === 'parameter_list');
    return list === undefined
      ? []
      : namedKids(list).filter((child) => child.type === 'script_parameter');
  }

  /** Binds a script block's param() from its arguments; the rest go to $args (about_Functions). */
  private async bindBlockParameters(
    paramNodes: Node[],
    args: CommandArgument[],
    scope: Scope,
  ): Promise<void> {
    interface Declared {
      name: string;
      type: string | undefined;
      mandatory: boolean;
      default: Node | undefined;
    }
    const declared: Declared[] = paramNodes.map((parameter) => {
      let type: string | undefined;
      let mandatory = false;
      let variable = '';
      let defaultNode: Node | undefined;
      for (const child of namedKids(parameter)) {
        if (child.type === 'variable') variable = child.text.slice(1);
        else if (child.type === 'script_parameter_default') defaultNode = namedKids(child)[0];
        else if (child.type === 'attribute_list') {
          for (const attribute of namedKids(child)) {
            const text = attribute.text.replace(/\s+/g, '');
            const typeMatch = /^\[([A-Za-z0-9_.]+(\[\])?)\]$/.exec(text);
            if (/^\[Parameter\(Mandatory(=\$true)?\)\]$/i.test(text)) mandatory = true;
            else if (typeMatch !== null) type = (typeMatch[1] ?? '').toLowerCase();
            else throw notModelled(`the parameter attribute ${attribute.text}`, attribute.type);
          }
        }
      }
      return { name: variable, type, mandatory, default: defaultNode };
    });
    const values = new Map<string, PsValue>();
    const rest: PsValue[] = [];
    const positional: PsValue[] = [];
    for (let i = 0; i < args.length; i += 1) {
      const arg = args[i];
      if (arg === undefined) continue;
      if (arg.kind === 'argument') {
        positional.push(arg.value);
        continue;
      }
      const lower = arg.name.toLowerCase();
      const exact = declared.filter((d) => d.name.toLowerCase() === lower);
      const matches =
        exact.length > 0 ? exact : declared.filter((d) => d.name.toLowerCase().startsWith(lower));
      const target = matches[0];
      if (matches.length > 1) {
        throw new PsError(
          `Parameter cannot be processed because the parameter name '${arg.name}' is ambiguous. Possible matches include: ${matches.map((m) => `-${m.name}`).join(' ')}.`,
          {
            fullyQualifiedErrorId: 'AmbiguousParameter',
            category: 'InvalidArgument',
            terminating: true,
          },
        );
      }
      if (target === undefined) {
        rest.push(arg.text);
        continue;
      }
      if (target.type === 'switch') {
        values.set(target.name.toLowerCase(), arg.value === undefined ? true : toPsBool(arg.value));
        continue;
      }
      if (arg.value !== undefined) {
        values.set(target.name.toLowerCase(), arg.value);
        continue;
      }
      const next = args[i + 1];
      if (next === undefined || next.kind === 'parameter') {
        throw new PsError(
          `Missing an argument for parameter '${target.name}'. Specify a parameter of type 'System.Object' and try again.`,
          {
            fullyQualifiedErrorId: 'MissingArgument',
            category: 'InvalidArgument',
            terminating: true,
          },
        );
      }
      values.set(target.name.toLowerCase(), next.value);
      i += 1;
    }
    for (const value of positional) {
      const target = declared.find((d) => d.type !== 'switch' && !values.has(d.name.toLowerCase()));
      if (target === undefined) rest.push(value);
      else values.set(target.name.toLowerCase(), value);
    }
    for (const parameter of declared) {
      const key = parameter.name.toLowerCase();
      let value: PsValue;
      if (values.has(key)) value = values.get(key) ?? null;
      else if (parameter.mandatory) {
        throw new PsError(
          `Cannot process command because of one or more missing mandatory parameters: ${parameter.name}.`,
          {
            fullyQualifiedErrorId: 'MissingMandatoryParameter',
            category: 'InvalidArgument',
            terminating: true,
          },
        );
      } else if (parameter.default !== undefined)
        value = await this.expression(parameter.default, scope);
      else value = parameter.type === 'switch' ? false : null;
      scope.set(
        parameter.name,
        parameter.type === undefined ? value : this.cast(parameter.type, value),
      );
    }
    scope.set('args', rest);
  }

  // ---------------------------------------------------------------- expressions

  async expression(input: Node, scope: Scope): Promise<PsValue> {
    this.checkAbort();
    const node = unwrap(input);
    switch (node.type) {
      case 'pipeline':
        return this.pipelineValue(node, scope);
      case 'logical_expression':
      case 'logical_argument_expression':
        return this.logical(node, scope);
      case 'bitwise_expression':
      case 'bitwise_argument_expression':
        throw notModelled('bitwise operators', node.type);
      case 'comparison_expression':
      case 'comparison_argument_expression':
        return this.comparison(node, scope);
      case 'additive_expression':
      case 'additive_argument_expression':
      case 'multiplicative_expression':
      case 'multiplicative_argument_expression': {
        const [left, op, right] = kids(node);
        if (left === undefined || op === undefined || right === undefined)
          throw notModelled(node.type, node.type);
        const a = await this.expression(left, scope);
        const b = await this.expression(right, scope);
        return op.text === '+' ? add(a, b) : arithmetic(op.text, a, b);
      }
      case 'format_expression':
      case 'format_argument_expression':
        return this.format(node, scope);
      case 'range_expression':
      case 'range_argument_expression': {
        const [left, , right] = kids(node);
        if (left === undefined || right === undefined) throw notModelled(node.type, node.type);
        const from = Math.trunc(toPsNumber(await this.expression(left, scope)));
        const to = Math.trunc(toPsNumber(await this.expression(right, scope)));
        const step = from <= to ? 1 : -1;
        const values: PsValue[] = [];
        for (let i = from; step > 0 ? i <= to : i >= to; i += step) values.push(i);
        return values;
      }
      case 'array_literal_expression': {
        const values: PsValue[] = [];
        for (const element of namedKids(node)) values.push(await this.expression(element, scope));
        return values;
      }
      case 'expression_with_unary_operator':
        return this.unary(node, scope);
      case 'cast_expression': {
        const [type, operand] = namedKids(node);
        if (type === undefined || operand === undefined) throw notModelled('this cast', node.type);
        return this.cast(this.typeName(type), await this.expression(operand, scope));
      }
      case 'parenthesized_expression': {
        const inner = namedKids(node)[0];
        return inner === undefined ? null : this.pipelineValue(inner, scope);
      }
      case 'sub_expression':
      case 'array_expression': {
        const list = node.childForFieldName('statements');
        const collector = new Collector();
        if (list !== null) await this.statementList(list, scope, collector);
        if (node.type === 'array_expression')
          return collector.values.flatMap((v) => (Array.isArray(v) ? v : [v]));
        return collapse(collector.values);
      }
      case 'script_block_expression':
        return new PsScriptBlock(node, node.text.slice(1, -1));
      case 'hash_literal_expression':
        return this.hashtable(node, scope);
      case 'string_literal':
        return this.stringLiteral(node, scope);
      case 'integer_literal':
      case 'real_literal':
        return this.numberLiteral(node);
      case 'variable':
        return this.variable(node.text, scope);
      case 'member_access':
        return this.memberAccess(node, scope);
      case 'invokation_expression':
        return this.invocation(node, scope);
      case 'element_access': {
        const [target, index] = namedKids(node);
        if (target === undefined || index === undefined)
          throw notModelled('this indexing', node.type);
        return getElement(
          await this.expression(target, scope),
          await this.expression(index, scope),
        );
      }
      case 'post_increment_expression':
      case 'post_decrement_expression':
      case 'pre_increment_expression':
      case 'pre_decrement_expression': {
        const target = unwrap(namedKids(node)[0] ?? node);
        if (target.type !== 'variable')
          throw notModelled(`${node.type} of a non-variable`, node.type);
        const before = toPsNumber(this.variable(target.text, scope));
        const after = node.type.includes('increment') ? before + 1 : before - 1;
        this.assignVariable(target.text, after, scope);
        return node.type.startsWith('post') ? before : after;
      }
      case 'assignment_expression':
        return this.assignment(node, scope);
      default:
        throw notModelled(`the expression '${node.type}'`, node.type);
    }
  }

  private async logical(node: Node, scope: Scope): Promise<PsValue> {
    const [left, op, right] = kids(node);
    if (left === undefined || op === undefined || right === undefined)
      throw notModelled(node.type, node.type);
    const operator = op.text.toLowerCase();
    const a = toPsBool(await this.expression(left, scope));
    if (operator === '-and') return a ? toPsBool(await this.expression(right, scope)) : false;
    if (operator === '-or') return a ? true : toPsBool(await this.expression(right, scope));
    if (operator === '-xor') return a !== toPsBool(await this.expression(right, scope));
    throw notModelled(`the operator ${op.text}`, node.type);
  }

  private async comparison(node: Node, scope: Scope): Promise<PsValue> {
    const [left, op, right] = kids(node);
    if (left === undefined || op === undefined || right === undefined)
      throw notModelled(node.type, node.type);
    const operator = op.text.toLowerCase().slice(1);
    const a = await this.expression(left, scope);
    const b = await this.expression(right, scope);
    const base = /^[ci](match|notmatch)$/.test(operator) ? operator.slice(1) : operator;
    if (base === 'match' || base === 'notmatch') {
      const caseSensitive = operator.startsWith('c');
      if (Array.isArray(a)) {
        const kept = a.filter(
          (item) =>
            (match(toPsString(item), toPsString(b), caseSensitive) !== undefined) ===
            (base === 'match'),
        );
        return kept;
      }
      const found = match(toPsString(a), toPsString(b), caseSensitive);
      if (found !== undefined) scope.set('Matches', found);
      return base === 'match' ? found !== undefined : found === undefined;
    }
    if (['is', 'isnot', 'as', 'shl', 'shr'].includes(base))
      throw notModelled(`the operator -${base}`, node.type);
    return compare(operator, a, b);
  }

  private async format(node: Node, scope: Scope): Promise<PsValue> {
    const [left, , right] = kids(node);
    if (left === undefined || right === undefined) throw notModelled(node.type, node.type);
    const template = toPsString(await this.expression(left, scope));
    const values = enumerate(await this.expression(right, scope));
    return template.replace(
      /\{\{|\}\}|\{(\d+)([^}]*)\}/g,
      (whole, index: string | undefined, spec: string) => {
        if (whole === '{{') return '{';
        if (whole === '}}') return '}';
        if (spec !== '') throw notModelled(`the format specification ${whole}`, node.type);
        return toPsString(values[Number(index)] ?? null);
      },
    );
  }

  private async unary(node: Node, scope: Scope): Promise<PsValue> {
    const children = kids(node);
    const first = children[0];
    if (first === undefined) throw notModelled(node.type, node.type);
    if (first.isNamed) return this.expression(first, scope);
    const operand = children[1];
    if (operand === undefined) throw notModelled(node.type, node.type);
    const value = await this.expression(operand, scope);
    switch (first.text.toLowerCase()) {
      case ',':
        return [value];
      case '-not':
      case '!':
        return !toPsBool(value);
      case '-':
        return -toPsNumber(value);
      case '+':
        return toPsNumber(value);
      case '-join':
        return enumerate(value).map(toPsString).join('');
      case '-split':
        return enumerate(value).flatMap((item) => toPsString(item).trim().split(/\s+/));
      default:
        throw notModelled(`the unary operator ${first.text}`, node.type);
    }
  }

  private typeName(typeLiteral: Node): string {
    return typeLiteral.text.replace(/^\[|\]$/g, '').replace(/\s+/g, '');
  }

  /** `[type]value`. */
  cast(type: string, value: PsValue): PsValue {
    const lower = type.toLowerCase().replace(/^system\./, '');
    switch (lower) {
      case 'int':
      case 'int32':
      case 'long':
      case 'int64':
        return roundHalfEven(
          toPsNumber(value, lower.startsWith('int') ? 'System.Int32' : 'System.Int64'),
        );
      case 'double':
        return toPsNumber(value, 'System.Double');
      case 'string':
        return value === null ? '' : toPsString(value);
      case 'bool':
      case 'boolean':
      case 'switch':
        return toPsBool(value);
      case 'string[]':
        return value === null ? null : enumerate(value).map(toPsString);
      case 'int[]':
        return value === null ? null : enumerate(value).map((v) => roundHalfEven(toPsNumber(v)));
      case 'array':
      case 'object[]':
        return value === null ? [] : enumerate(value).slice();
      case 'object':
        return value;
      case 'void':
        return null;
      case 'ordered':
        if (!(value instanceof PsHashtable))
          throw notModelled('[ordered] on something else than a hashtable literal');
        {
          const ordered = new PsHashtable(true);
          for (const [key, item] of value.entries) ordered.entries.set(key, item);
          return ordered;
        }
      case 'hashtable':
        if (value instanceof PsHashtable) return value;
        break;
      case 'pscustomobject':
      case 'management.automation.pscustomobject':
        if (value instanceof PsHashtable) return new PsObject(value.entries);
        if (value instanceof PsObject) return value;
        break;
    }
    throw notModelled(`the cast [${type}] of a ${typeNameOf(value)}`, 'cast_expression');
  }

  private async hashtable(node: Node, scope: Scope): Promise<PsValue> {
    const table = new PsHashtable();
    const body = namedKids(node).find((child) => child.type === 'hash_literal_body');
    for (const entry of body === undefined ? [] : namedKids(body)) {
      const [keyNode, valueNode] = namedKids(entry);
      if (keyNode === undefined || valueNode === undefined)
        throw notModelled('this hashtable entry', entry.type);
      const keyInner = namedKids(keyNode)[0];
      const key =
        keyInner === undefined || keyInner.type === 'simple_name'
          ? keyNode.text
          : toPsString(await this.expression(keyInner, scope));
      if (table.entries.has(key)) {
        throw new PsError(`Duplicate keys '${key}' are not allowed in hash literals.`, {
          fullyQualifiedErrorId: 'DuplicateKeyInHashLiteral',
          category: 'ParserError',
          terminating: true,
        });
      }
      table.entries.set(key, await this.statementValue(valueNode, scope));
    }
    return table;
  }

  private async statementValue(node: Node, scope: Scope): Promise<PsValue> {
    if (node.type === 'pipeline') return this.pipelineValue(node, scope);
    const collector = new Collector();
    await this.statement(node, scope, collector);
    return collapse(collector.values);
  }

  private async stringLiteral(node: Node, scope: Scope): Promise<PsValue> {
    const inner = namedKids(node)[0];
    if (inner === undefined) throw notModelled('this string literal', node.type);
    switch (inner.type) {
      case 'verbatim_string_characters': {
        const decoded = decodeVerbatimString(inner.text);
        if (decoded === undefined) {
          throw notModelled(
            `a single-quoted string that PowerShell would end early at a typographic quote (${inner.text.slice(0, 40)})`,
            inner.type,
          );
        }
        return decoded;
      }
      case 'verbatim_here_string_characters': {
        const match =
          /^@['\u2018\u2019\u201A\u201B][ \t]*\r?\n([\s\S]*?)\r?\n['\u2018\u2019\u201A\u201B]@$/.exec(
            inner.text,
          );
        if (match === null) throw notModelled('this here-string', inner.type);
        return match[1] ?? '';
      }
      case 'expandable_string_literal':
        return this.expand(inner, scope, 1, inner.text.length - 1);
      case 'expandable_here_string_literal': {
        const text = inner.text;
        const start = text.indexOf('\n') + 1;
        const endMatch = /\r?\n"@$/.exec(text);
        const end = endMatch === null ? text.length : endMatch.index;
        if (end < start) return '';
        return this.expand(inner, scope, start, end);
      }
      default:
        throw notModelled(`the string literal ${inner.type}`, inner.type);
    }
  }

  /** An expandable string's text between offsets `from` and `to` (of the node), with $var and $(...) expanded. */
  private async expand(node: Node, scope: Scope, from: number, to: number): Promise<string> {
    const text = node.text;
    const isHere = node.type === 'expandable_here_string_literal';
    let out = '';
    let position = from;
    const literal = (segment: string): string => {
      let result = '';
      for (let i = 0; i < segment.length; i += 1) {
        const char = segment[i] ?? '';
        if (char === '`' && i + 1 < segment.length) {
          const next = segment[i + 1] ?? '';
          const escapes: Record<string, string> = {
            '0': '\0',
            a: '\x07',
            b: '\b',
            f: '\f',
            n: '\n',
            r: '\r',
            t: '\t',
            v: '\v',
          };
          result += escapes[next] ?? next;
          i += 1;
        } else if (!isHere && char === '"' && segment[i + 1] === '"') {
          result += '"';
          i += 1;
        } else result += char;
      }
      return result;
    };
    for (const child of namedKids(node)) {
      const start = child.startIndex - node.startIndex;
      const end = child.endIndex - node.startIndex;
      if (start < from || end > to) continue;
      out += literal(text.slice(position, start));
      if (child.type === 'variable') out += toPsString(this.variable(child.text, scope));
      else if (child.type === 'sub_expression')
        out += toPsString(await this.expression(child, scope));
      else throw notModelled(`${child.type} inside an expandable string`, child.type);
      position = end;
    }
    out += literal(text.slice(position, to));
    return out;
  }

  private numberLiteral(node: Node): number {
    const text = node.text.toLowerCase();
    const multipliers: Record<string, number> = {
      kb: 1024,
      mb: 1024 ** 2,
      gb: 1024 ** 3,
      tb: 1024 ** 4,
      pb: 1024 ** 5,
    };
    const match = /^(0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(l|d)?(kb|mb|gb|tb|pb)?$/.exec(
      text,
    );
    if (match === null) throw notModelled(`the number literal ${node.text}`, node.type);
    const digits = match[1] ?? '0';
    const value = digits.startsWith('0x') ? Number.parseInt(digits.slice(2), 16) : Number(digits);
    return value * (match[3] === undefined ? 1 : (multipliers[match[3]] ?? 1));
  }

  // ---------------------------------------------------------------- variables

  private splitVariable(text: string): { prefix: string | undefined; name: string } {
    let name = text;
    if (name.startsWith('@')) throw notModelled(`splatting (${text})`, 'variable');
    if (name.startsWith('${') && name.endsWith('}')) name = name.slice(2, -1);
    else if (name.startsWith('$')) name = name.slice(1);
    const colon = name.indexOf(':');
    if (colon > 0)
      return { prefix: name.slice(0, colon).toLowerCase(), name: name.slice(colon + 1) };
    return { prefix: undefined, name };
  }

  variable(text: string, scope: Scope): PsValue {
    const { prefix, name } = this.splitVariable(text);
    const lower = name.toLowerCase();
    if (prefix === 'env') return this.session.env.get(lower) ?? null;
    if (prefix !== undefined && prefix !== 'global' && prefix !== 'script' && prefix !== 'local') {
      throw notModelled(`the variable scope or drive '${prefix}:'`, 'variable');
    }
    switch (lower) {
      case 'null':
        return null;
      case 'true':
        return true;
      case 'false':
        return false;
      case '?':
        return this.lastSucceeded;
      case '$':
      case '^':
        throw notModelled(`the automatic variable $${name}`, 'variable');
      case 'psitem':
        return scope.lookup('_').value;
    }
    const where = prefix === 'global' || prefix === 'script' ? scope.root : scope;
    return where.lookup(name).value;
  }

  assignVariable(text: string, value: PsValue, scope: Scope): void {
    const { prefix, name } = this.splitVariable(text);
    const lower = name.toLowerCase();
    if (prefix === 'env') {
      if (value === null || value === '') this.session.env.delete(lower);
      else this.session.env.set(lower, toPsString(value));
      return;
    }
    if (prefix !== undefined && prefix !== 'global' && prefix !== 'script' && prefix !== 'local') {
      throw notModelled(`the variable scope or drive '${prefix}:'`, 'variable');
    }
    if (['null', 'true', 'false', '?', 'pid'].includes(lower)) {
      if (lower === 'null') return; // `$null = ...` discards, as in PowerShell.
      throw new PsError(`Cannot overwrite variable ${name} because it is read-only or constant.`, {
        fullyQualifiedErrorId: 'VariableNotWritable',
        category: 'WriteError',
        terminating: true,
      });
    }
    (prefix === 'global' || prefix === 'script' ? scope.root : scope).set(name, value);
  }

  private async assignment(node: Node, scope: Scope): Promise<PsValue> {
    const left = namedKids(node).find((child) => child.type === 'left_assignment_expression');
    const operator = namedKids(node).find((child) => child.type === 'assignement_operator');
    const valueNode = node.childForFieldName('value');
    if (left === undefined || operator === undefined || valueNode === null) {
      throw notModelled('this assignment', node.type);
    }
    let target = unwrap(left);
    let castType: string | undefined;
    if (target.type === 'expression_with_unary_operator') {
      const cast = namedKids(target)[0];
      if (cast?.type === 'cast_expression') {
        const [type, operand] = namedKids(cast);
        if (type !== undefined && operand !== undefined) {
          castType = this.typeName(type);
          target = unwrap(operand);
        }
      }
    }
    let value = await this.statementValue(valueNode, scope);
    const op = operator.text;
    if (op !== '=') {
      const current = await this.expression(target, scope);
      switch (op) {
        case '+=':
          value = add(current, value);
          break;
        case '-=':
        case '*=':
        case '/=':
        case '%=':
          value = arithmetic(op.slice(0, 1), current, value);
          break;
        default:
          throw notModelled(`the assignment operator ${op}`, operator.type);
      }
    }
    if (castType !== undefined) value = this.cast(castType, value);
    switch (target.type) {
      case 'variable':
        this.assignVariable(target.text, value, scope);
        return value;
      case 'member_access': {
        const [objectNode, memberNode] = namedKids(target);
        if (objectNode === undefined || memberNode === undefined)
          throw notModelled('this member assignment', target.type);
        if (this.isStatic(target)) {
          setStaticMember(this.typeName(objectNode), memberNode.text, value, this.host);
          return value;
        }
        setMember(
          await this.expression(objectNode, scope),
          await this.memberName(memberNode, scope),
          value,
        );
        return value;
      }
      case 'element_access': {
        const [objectNode, indexNode] = namedKids(target);
        if (objectNode === undefined || indexNode === undefined)
          throw notModelled('this index assignment', target.type);
        const object = await this.expression(objectNode, scope);
        const index = await this.expression(indexNode, scope);
        if (object instanceof PsHashtable) object.entries.set(toPsString(index), value);
        else if (Array.isArray(object)) {
          const i = toPsNumber(index);
          if (i < 0 || i >= object.length) {
            throw new PsError('Index was outside the bounds of the array.', {
              fullyQualifiedErrorId: 'System.IndexOutOfRangeException',
              category: 'OperationStopped',
            });
          }
          object[i] = value;
        } else throw notModelled(`index assignment into ${typeNameOf(object)}`, target.type);
        return value;
      }
      default:
        throw notModelled(`assigning to ${target.type}`, target.type);
    }
  }

  // ---------------------------------------------------------------- members

  private async memberName(node: Node, scope: Scope): Promise<string> {
    const inner = namedKids(node)[0];
    if (inner === undefined || inner.type === 'simple_name') return node.text;
    return toPsString(await this.expression(inner, scope));
  }

  private isStatic(node: Node): boolean {
    return kids(node).some((child) => !child.isNamed && child.text === '::');
  }

  private async memberAccess(node: Node, scope: Scope): Promise<PsValue> {
    const [objectNode, memberNode] = namedKids(node);
    if (objectNode === undefined || memberNode === undefined)
      throw notModelled('this member access', node.type);
    const member = await this.memberName(memberNode, scope);
    if (this.isStatic(node)) {
      if (objectNode.type !== 'type_literal')
        throw notModelled('static access on a non-type', node.type);
      return staticMember(this.typeName(objectNode), member, this.host);
    }
    return getMember(await this.expression(objectNode, scope), member);
  }

  private async invocation(node: Node, scope: Scope): Promise<PsValue> {
    const [objectNode, memberNode, argumentList] = namedKids(node);
    if (
      objectNode === undefined ||
      memberNode === undefined ||
      argumentList?.type !== 'argument_list'
    ) {
      throw notModelled(`the invocation ${node.text.slice(0, 40)}`, node.type);
    }
    const method = await this.memberName(memberNode, scope);
    const args: PsValue[] = [];
    const list = argumentList.childForFieldName('argument_expression_list');
    for (const argument of list === null ? [] : namedKids(list))
      args.push(await this.expression(argument, scope));
    if (this.isStatic(node)) {
      if (objectNode.type !== 'type_literal')
        throw notModelled('static calls on a non-type', node.type);
      return staticCall(this.typeName(objectNode), method, args, this.host);
    }
    const target = await this.expression(objectNode, scope);
    if (target instanceof ErrorRecord && method.toLowerCase() === 'tostring')
      return target.error.message;
    return callMethod(target, method, args);
  }
}
