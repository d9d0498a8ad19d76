import { isVlabError, type OperationContext, throwIfCancelled } from '@vlab/core';
import { MemoryHostKeyStore, type SshClient, SshPool, waitForSsh } from '@vlab/ssh';
import type { ComputerFacts } from './computer-facts.js';
import { baremetalError } from './errors.js';

/**
 * The deploy environment of one computer for one operation: an SSH pool of its own whose only
 * pin is the deploy environment's host key (never the installed OS's, which answers at the same
 * address), closed when the operation ends.
 */
export class DeployEnvironment implements AsyncDisposable {
  readonly client: SshClient;
  readonly #pool: SshPool;
  readonly #facts: ComputerFacts;

  private constructor(pool: SshPool, client: SshClient, facts: ComputerFacts) {
    this.#pool = pool;
    this.client = client;
    this.#facts = facts;
  }

  /** An environment for the computer; nothing connects until it is used. */
  static async open(ctx: OperationContext, facts: ComputerFacts): Promise<DeployEnvironment> {
    const alias = `vlab-deploy:${facts.name}`;
    const hostKeys = new MemoryHostKeyStore({ [alias]: [facts.deploy.hostKey] });
    const pool = new SshPool({ hostKeys, logger: ctx.log });
    const client = pool.client({
      host: facts.address,
      user: facts.deploy.user,
      auth: { kind: 'key', privateKey: await ctx.secrets.resolve(facts.deploy.key) },
      hostKeyAlias: alias,
      computer: facts.name,
    });
    return new DeployEnvironment(pool, client, facts);
  }

  /** Waits until the deploy environment answers with its pinned key; a typed error after `timeoutMs`. */
  async waitUntilUp(ctx: OperationContext, timeoutMs: number): Promise<void> {
    try {
      await waitForSsh(this.client, {
        signal: ctx.signal,
        timeoutMs,
        probe: ['true'],
        attemptTimeoutMs: 20_000,
      });
    } catch (error) {
      throwIfCancelled(ctx.signal, this.#facts.name, 'waiting for the deploy environment');
      if (isVlabError(error, 'VLAB_ERR_OP_CANCELLED')) throw error;
      throw baremetalError(
        'VLAB_ERR_BAREMETAL_DEPLOY_UNREACHABLE',
        `the deploy environment of ${this.#facts.name} (${this.#facts.address}) did not answer within ${Math.round(timeoutMs / 1000)} s`,
        {
          computer: this.#facts.name,
          cause: error,
          details: { address: this.#facts.address, timeoutMs },
        },
      );
    }
  }

  /** Runs one of `deploy-scripts.ts`'s programs with its arguments; stdout, or a typed error. */
  async run(
    ctx: OperationContext,
    what: string,
    script: string,
    args: readonly string[],
    options: { readonly stdin?: Buffer; readonly timeoutMs?: number } = {},
  ): Promise<string> {
    const result = await this.client.exec(['sh', '-c', script, 'vlab-deploy', ...args], {
      signal: ctx.signal,
      timeoutMs: options.timeoutMs ?? Math.min(ctx.remainingMs(), 300_000),
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
    if (result.code !== 0)
      throw baremetalError(
        'VLAB_ERR_BAREMETAL_DISK_FAILED',
        `${what} on ${this.#facts.name} failed in the deploy environment (exit ${result.code}): ${result.stderr.toString('utf8').trim().slice(0, 500)}`,
        { computer: this.#facts.name, details: { exitCode: result.code } },
      );
    return result.stdout.toString('utf8');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#pool.close();
  }
}
