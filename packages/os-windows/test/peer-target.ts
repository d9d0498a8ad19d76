// A modelled Windows behind the scripted Windows peer, reached over real SSH by @vlab/ssh's
// communicator (shell: powershell), as the manager would reach a real one.
import {
  abortError,
  type Communicator,
  coreError,
  createLogger,
  createOsContext,
  generateHostKey,
  type LogRecord,
  type OsContext,
  type RunOptions,
  type Secret,
} from '@vlab/core';
import {
  MemoryHostKeyStore,
  SshCommunicator,
  SshPool,
  startWindowsPeer,
  WindowsMachine,
  type WindowsPeer,
} from './peer-kit.js';
import type { WindowsTarget } from './scenarios.js';

/** The peer target and what a test may look at besides the scenarios' view. */
export interface PeerTarget extends WindowsTarget {
  readonly peer: WindowsPeer;
  /** The communicator the contexts get. */
  readonly communicator: PeerCommunicator;
}

export const CAPTURED_STAMP =
  '{"schema":1,"image":"win2022","revision":1,"state":"captured","capturedAt":"2026-11-29T10:00:00.000Z","tainted":false}\n';

/**
 * The communicator the contexts get: @vlab/ssh's over one pool, as the manager's, recording each
 * run for the kit's `commands()` and applying `trustHostKeys` (the keys postLoad reports) to the
 * pool's store. `hold()` makes calls hang (the kit's `stall`) until released.
 */
export class PeerCommunicator implements Communicator {
  readonly computer = 'win1';
  readonly shell = 'powershell' as const;
  /** Every set of host keys the module asked to trust, in order. */
  readonly trusted: string[][] = [];
  /** Every run, as the kit's `commands()` wants it: argv and stdin. */
  readonly commands: { argv: readonly string[]; stdin?: Uint8Array }[] = [];
  readonly #pools: SshPool[] = [];
  #stallAt: number | undefined;
  #current: SshCommunicator;
  #gate: Promise<void> | undefined;

  constructor(
    readonly peer: WindowsPeer,
    readonly hostKeys: MemoryHostKeyStore,
    readonly privateKey: Secret,
  ) {
    this.#current = this.#connect();
  }

  #connect(): SshCommunicator {
    const pool = new SshPool({ hostKeys: this.hostKeys });
    this.#pools.push(pool);
    return new SshCommunicator(
      pool.client({
        host: this.peer.host,
        port: this.peer.port,
        user: 'Administrator',
        auth: { kind: 'key', privateKey: this.privateKey },
        computer: this.computer,
        shell: 'powershell',
      }),
    );
  }

  /** Makes every call hang until the returned function is called. */
  hold(): () => Promise<void> {
    let release = (): void => {};
    this.#gate = new Promise((resolve) => {
      release = resolve;
    });
    return async () => {
      this.#gate = undefined;
      release();
    };
  }

  /**
   * The kit's `stallAfterCommands`: the `count`-th call from now runs, but its answer hangs, and
   * so does every later call, until released.
   */
  stallAfter(count: number): () => Promise<void> {
    this.#stallAt = this.commands.length + count;
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = gate;
    return async () => {
      this.#stallAt = undefined;
      this.#held = undefined;
      release();
    };
  }
  #held: Promise<void> | undefined;

  async #call<T>(argv: readonly string[], options: RunOptions, work: () => Promise<T>): Promise<T> {
    await this.#pass(options.signal);
    if (this.#stallAt !== undefined && this.commands.length >= this.#stallAt)
      await this.#hang(options.signal);
    const stdin = options.stdin;
    this.commands.push({
      argv: [...argv],
      ...(typeof stdin === 'string' || Buffer.isBuffer(stdin) ? { stdin: Buffer.from(stdin) } : {}),
    });
    const result = await work();
    if (this.#stallAt !== undefined && this.commands.length >= this.#stallAt)
      await this.#hang(options.signal);
    return result;
  }

  async #hang(signal: AbortSignal | undefined): Promise<void> {
    const held = this.#held;
    if (held === undefined) return;
    await new Promise<void>((resolve, reject) => {
      const abort = (): void => reject(abortError(signal as AbortSignal, 'win1'));
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      held.then(resolve);
    });
  }

  /** Waits while held; rejects as the communicator would on its signal or its timeout. */
  async #pass(signal: AbortSignal | undefined, timeoutMs?: number): Promise<void> {
    const gate = this.#gate;
    if (gate === undefined) return;
    await new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              signal?.removeEventListener('abort', abort);
              reject(
                coreError('VLAB_ERR_OP_TIMEOUT', `win1 did not answer within ${timeoutMs} ms`, {
                  computer: this.computer,
                }),
              );
            }, timeoutMs);
      function abort(): void {
        clearTimeout(timer);
        reject(abortError(signal as AbortSignal, 'win1'));
      }
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      gate.then(() => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve();
      });
    });
  }

  run(argv: readonly string[], options: RunOptions = {}) {
    return this.#call(argv, options, () => this.#current.run(argv, options));
  }
  runChecked(argv: readonly string[], options: RunOptions = {}) {
    return this.#call(argv, options, () => this.#current.runChecked(argv, options));
  }
  put: Communicator['put'] = (path, content, options) => this.#current.put(path, content, options);
  get: Communicator['get'] = (path, options) => this.#current.get(path, options);
  getStream: Communicator['getStream'] = (path, options) => this.#current.getStream(path, options);
  waitUntilReachable: Communicator['waitUntilReachable'] = async (options) => {
    await this.#pass(options?.signal, options?.timeoutMs ?? 600_000);
    return this.#current.waitUntilReachable(options);
  };
  async trustHostKeys(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void> {
    this.trusted.push([...keys]);
    await this.#current.trustHostKeys(keys, options);
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.close()));
  }
}

/** Starts a fresh modelled Windows (a captured image's stamp on it) behind a peer. */
export async function startPeerTarget(version = 'Windows Server 2022'): Promise<PeerTarget> {
  const machine = new WindowsMachine({ hostKeys: 'shared', version });
  machine.fs.writeFile('C:\\ProgramData\\vlab\\image-stamp.json', CAPTURED_STAMP);
  const key = generateHostKey('vlab-management');
  const peer = await startWindowsPeer({
    user: 'Administrator',
    authorizedKeys: [key.publicKey],
    machine,
  });
  const hostKeys = new MemoryHostKeyStore({ [`[${peer.host}]:${peer.port}`]: [peer.hostKey] });
  const communicator = new PeerCommunicator(peer, hostKeys, key.privateKey);
  const records: LogRecord[] = [];
  const ctx = (): OsContext =>
    createOsContext({
      log: createLogger((record) => records.push(record)),
      deadline: Date.now() + 60_000,
      phase: 'test',
      computer: {
        name: 'win1',
        hostname: 'lab-win-01.lab.example',
        addresses: { management: '192.0.2.10' },
        credentials: {},
        attributes: {},
      },
      image: { name: 'win2022', revision: 1, osFamily: 'windows' },
      communicator,
      power: { status: async () => machine.power, bootId: async () => machine.bootId },
    });
  return {
    machine,
    peer,
    communicator,
    ctx,
    records,
    managementSource: '127.0.0.1',
    commandLines: () => peer.commandLines,
    trusted: () => communicator.trusted.at(-1) ?? [],
    async close() {
      await communicator.close();
      await peer.close();
    },
  };
}
