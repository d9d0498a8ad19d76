import {
  coreError,
  isVlabError,
  type Logger,
  type OperationContext,
  type PowerProbe,
  type PowerState,
  type SecretResolver,
  type VlabError,
} from '@vlab/core';
import { MemoryHostKeyStore, type SshClient, SshPool } from '@vlab/ssh';
import type { LibvirtConfig, LibvirtHostConfig } from './config.js';
import { DOMAIN_MARK_URI } from './domain-xml.js';
import { libvirtError } from './errors.js';
import type { VmFacts } from './vm-facts.js';

/** The errors of `@vlab/ssh` that say the host itself was not reached (or not trusted). */
const UNREACHABLE = ['VLAB_ERR_COMPUTER_UNREACHABLE', 'VLAB_ERR_HOSTKEY_MISMATCH'] as const;

/**
 * What `virsh` (in the C locale) says, alone, of a domain that is not defined: its lookup failed
 * for no other reason (an access denied adds its own line).
 */
const NO_DOMAIN = /^error: failed to get domain '[^\n]*'$/;

/** What `virsh metadata` (in the C locale) says of a domain without the element asked for. */
const NO_METADATA = /^error: metadata not found\b/;

/** `virsh` in the C locale: its states and messages are read here, whatever the host's language. */
const VIRSH = ['env', 'LC_ALL=C', 'virsh', '-q'] as const;

/** libvirt's states of a domain that holds its guest's memory: the machine is on. */
const ON_STATES = new Set(['running', 'blocked', 'paused', 'in shutdown', 'pmsuspended', 'idle']);

/** What a host command needs of its operation: the cancel signal and the time left. */
export type HostCall = Pick<OperationContext, 'signal' | 'remainingMs'>;

/**
 * One hypervisor host as one operation sees it: its SSH client (the instance's pool, the host's
 * key pinned), its host scripts and `virsh`. Every failure is `VLAB_ERR_LIBVIRT_HOST_FAILED`
 * naming the host, the computer and what was done, with the tool's message.
 */
export class Hypervisor {
  /** The SSH client to the host; use the methods, which map an unreachable host to its error. */
  readonly client: SshClient;
  readonly host: LibvirtHostConfig;
  readonly hostName: string;
  /** The computer (VM) this operation is about; errors name it. */
  readonly computer: string;
  readonly #config: LibvirtConfig;

  constructor(client: SshClient, facts: VmFacts, config: LibvirtConfig) {
    this.client = client;
    this.host = facts.host;
    this.hostName = facts.hostName;
    this.#config = config;
    this.computer = facts.name;
  }

  /** Runs one of `host-scripts.ts`'s programs; its stdout, or a typed error. */
  async run(ctx: HostCall, what: string, script: string, args: readonly string[]): Promise<string> {
    return this.#exec(ctx, what, ['sh', '-c', script, 'vlab-libvirt', ...args]);
  }

  /** `virsh -c <uri> …`; its stdout, or a typed error. */
  virsh(ctx: HostCall, what: string, args: readonly string[]): Promise<string> {
    return this.#exec(ctx, what, [...VIRSH, '-c', this.host.uri, ...args]);
  }

  /** Starts a program on the host for streaming (see `SshClient.spawn`); the host's errors as the host's. */
  spawn(argv: readonly string[], options: Parameters<SshClient['spawn']>[1]) {
    return this.#reach(() => this.client.spawn(argv, options));
  }

  /** Writes a file on the host, atomically (see `SshClient.writeFile`); the host's errors as the host's. */
  writeFile(
    path: string,
    content: string | Buffer,
    options: Parameters<SshClient['writeFile']>[2],
  ) {
    return this.#reach(() => this.client.writeFile(path, content, options));
  }

  /** The domain's state as libvirt names it (`running`, `shut off`, …), `undefined` when not defined. */
  async domainState(ctx: HostCall, domain: string): Promise<string | undefined> {
    const result = await this.#virshResult(ctx, ['domstate', domain]);
    const stderr = result.stderr.toString('utf8');
    if (result.code !== 0 && NO_DOMAIN.test(stderr.trim())) return undefined;
    if (result.code !== 0) throw this.#failed(`reading the state of domain ${domain}`, stderr);
    return result.stdout.toString('utf8').trim();
  }

  /**
   * Who defined the domain, from vlab's mark in its metadata ({@link DOMAIN_MARK_URI}): the
   * computer it names, `null` for a domain without the mark (not vlab's), `undefined` when no
   * domain of that name is defined.
   */
  async domainOwner(ctx: HostCall, domain: string): Promise<string | null | undefined> {
    const result = await this.#virshResult(ctx, ['metadata', domain, '--uri', DOMAIN_MARK_URI]);
    const stderr = result.stderr.toString('utf8').trim();
    if (result.code !== 0 && NO_DOMAIN.test(stderr)) return undefined;
    if (result.code !== 0 && NO_METADATA.test(stderr)) return null;
    if (result.code !== 0) throw this.#failed(`reading the metadata of domain ${domain}`, stderr);
    const computer = /\bcomputer="([^"]*)"/.exec(result.stdout.toString('utf8'))?.[1];
    return computer === undefined ? null : xmlUnescape(computer);
  }

  /** The domain's power from libvirt: on while it holds its guest, off when shut off or not defined. */
  async power(ctx: HostCall, domain: string): Promise<PowerState> {
    const state = await this.domainState(ctx, domain);
    if (state === undefined || state === 'shut off' || state === 'crashed') return 'off';
    return ON_STATES.has(state) ? 'on' : 'unknown';
  }

  /**
   * The domain's power as a probe for the OS module: the state from libvirt, and the domain's id
   * as the boot id (libvirt gives a running domain a new id at every start).
   */
  probe(ctx: HostCall, domain: string): PowerProbe {
    const call = (options?: { readonly signal?: AbortSignal }): HostCall => ({
      signal: options?.signal ?? ctx.signal,
      remainingMs: () => ctx.remainingMs(),
    });
    return {
      status: (options) => this.power(call(options), domain),
      bootId: async (options) => {
        const result = await this.#virshResult(call(options), ['domid', domain]);
        const id = result.stdout.toString('utf8').trim();
        return result.code === 0 && /^[0-9]+$/.test(id) ? id : undefined;
      },
    };
  }

  /** Starts the domain; idempotent (one call: a domain already running is started). */
  async start(ctx: HostCall, domain: string): Promise<void> {
    const result = await this.#virshResult(ctx, ['start', domain]);
    const stderr = result.stderr.toString('utf8');
    if (result.code !== 0 && !/Domain is already active/.test(stderr))
      throw this.#failed(`starting domain ${domain}`, stderr, { exitCode: result.code });
  }

  /**
   * Destroys (hard power-off) the domain; idempotent, also for a domain that is not defined. One
   * call, so that the cleanup of an aborted operation ends quickly.
   */
  async destroy(ctx: HostCall, domain: string): Promise<void> {
    const result = await this.#virshResult(ctx, ['destroy', domain]);
    const stderr = result.stderr.toString('utf8');
    const done =
      result.code === 0 || /domain is not running/.test(stderr) || NO_DOMAIN.test(stderr.trim());
    if (!done) throw this.#failed(`destroying domain ${domain}`, stderr, { exitCode: result.code });
  }

  /** Waits until libvirt reads the domain `state`; `VLAB_ERR_POWER_UNCONFIRMED` after `timeoutMs`. */
  async waitFor(ctx: HostCall, domain: string, state: PowerState, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.power(ctx, domain);
      if (now === state) return;
      if (Date.now() >= deadline)
        throw coreError(
          'VLAB_ERR_POWER_UNCONFIRMED',
          `libvirt on ${this.hostName} still reads domain ${domain} ${now}, not ${state}, after ${Math.round(timeoutMs / 1000)} s`,
          { computer: this.computer, details: { host: this.hostName, domain, expected: state } },
        );
      await sleep(this.#config.pollIntervalMs, ctx.signal);
    }
  }

  async #exec(ctx: HostCall, what: string, argv: readonly string[]): Promise<string> {
    const result = await this.#reach(() =>
      this.client.exec(argv, { signal: ctx.signal, timeoutMs: this.#timeout(ctx) }),
    );
    if (result.code !== 0)
      throw this.#failed(what, result.stderr.toString('utf8'), { exitCode: result.code });
    return result.stdout.toString('utf8');
  }

  /** `virsh` with its exit status and output as they are (the caller reads them). */
  #virshResult(ctx: HostCall, args: readonly string[]) {
    return this.#reach(() =>
      this.client.exec([...VIRSH, '-c', this.host.uri, ...args], {
        signal: ctx.signal,
        timeoutMs: this.#timeout(ctx),
      }),
    );
  }

  /** Runs `work`; a host that does not answer SSH (or with another key) is the host's error, not the VM's. */
  async #reach<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!UNREACHABLE.some((code) => isVlabError(error, code))) throw error;
      const { address, port } = this.host;
      throw libvirtError(
        'VLAB_ERR_LIBVIRT_HOST_UNREACHABLE',
        `host ${this.hostName} (${address}:${port}) of ${this.computer}: ${(error as VlabError).summary}`,
        { computer: this.computer, cause: error, details: { host: this.hostName, address, port } },
      );
    }
  }

  #timeout(ctx: HostCall): number {
    return Math.max(1, Math.min(this.#config.timeouts.commandMs, ctx.remainingMs()));
  }

  #failed(what: string, stderr: string, details: Record<string, unknown> = {}) {
    return libvirtError(
      'VLAB_ERR_LIBVIRT_HOST_FAILED',
      `${what} on host ${this.hostName} failed: ${stderr.trim().slice(0, 500) || 'no message'}`,
      { computer: this.computer, details: { host: this.hostName, ...details } },
    );
  }
}

/** The five predefined entities of XML, as libvirt writes an attribute's value. */
function xmlUnescape(value: string): string {
  return value
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}

/** Waits `ms`, or rejects with the signal's reason. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The instance's connections to its hosts: one SSH pool, each host's key pinned under its own
 * alias (`vlab-libvirt:<host>`), nothing else trusted. Closed with the instance.
 */
export class HypervisorConnections {
  readonly #pool: SshPool;
  readonly #config: LibvirtConfig;

  constructor(config: LibvirtConfig, logger?: Logger) {
    this.#config = config;
    const pins: Record<string, string[]> = {};
    for (const [name, host] of Object.entries(config.hosts))
      pins[`vlab-libvirt:${name}`] = [host.hostKey];
    this.#pool = new SshPool({
      hostKeys: new MemoryHostKeyStore(pins),
      ...(logger === undefined ? {} : { logger }),
    });
  }

  /** The host of `facts` for one operation. */
  async forVm(facts: VmFacts, secrets: SecretResolver): Promise<Hypervisor> {
    const { host } = facts;
    const client = this.#pool.client({
      host: host.address,
      port: host.port,
      user: host.user,
      auth: { kind: 'key', privateKey: await secrets.resolve(host.key) },
      hostKeyAlias: `vlab-libvirt:${facts.hostName}`,
      computer: facts.name,
    });
    return new Hypervisor(client, facts, this.#config);
  }

  /** Ends every connection. Idempotent. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
