import { performance } from 'node:perf_hooks';
import { abortError, type VlabError } from '@vlab/core';
import { ipmiError } from '../errors.js';
import {
  ClientSession,
  type ClientSessionOptions,
  type RetryMode,
} from '../protocol/client-session.js';
import type { DatagramSink, UdpTransport } from './udp.js';

/** A command's reply: the completion code and the data after it. */
export interface CommandReply {
  readonly completionCode: number;
  readonly data: Uint8Array;
}

/** What one call needs. */
export interface DriverCall {
  readonly netFn: number;
  readonly cmd: number;
  readonly data: Uint8Array;
  readonly retry: RetryMode;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Names the operation in a cancel error. */
  readonly operation: string;
}

interface Waiter {
  resolve(reply: CommandReply): void;
  reject(error: unknown): void;
}

/** The monotonic clock the drivers run on. */
export function monotonicNow(): number {
  return performance.now();
}

/**
 * Runs one {@link ClientSession} on the shared UDP transport: feeds it the datagrams from its
 * BMC, sends what it produces, arms one timer at its next deadline and settles the promises of
 * the calls waiting on it. All protocol decisions stay in the session.
 */
export class SessionDriver implements DatagramSink {
  readonly #transport: UdpTransport;
  readonly #session: ClientSession;
  readonly #address: string;
  readonly #port: number;
  readonly #bmc: string;
  readonly #computer: string | undefined;
  readonly #now: () => number;
  readonly #waiters = new Map<number, Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #closing: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  #release: (() => void) | undefined;

  constructor(
    transport: UdpTransport,
    address: string,
    port: number,
    options: ClientSessionOptions,
    now: () => number = monotonicNow,
  ) {
    this.#transport = transport;
    this.#address = address;
    this.#port = port;
    this.#bmc = options.bmc;
    this.#computer = options.computer;
    this.#now = now;
    this.#session = new ClientSession(options);
    transport.register(address, port, this);
  }

  /** The session's phase (for tests and debug). */
  get phase(): ClientSession['phase'] {
    return this.#session.phase;
  }

  /** The cipher suite of the open session, if one is open. */
  get cipherSuite(): ClientSession['cipherSuite'] {
    return this.#session.cipherSuite;
  }

  /** Sends a command and resolves with its reply (whatever the completion code). */
  call(call: DriverCall): Promise<CommandReply> {
    if (call.signal?.aborted === true) {
      return Promise.reject(abortError(call.signal, this.#computer, call.operation));
    }
    return new Promise<CommandReply>((resolve, reject) => {
      const now = this.#now();
      const id = this.#session.send(
        {
          netFn: call.netFn,
          cmd: call.cmd,
          data: call.data,
          retry: call.retry,
          deadline: now + call.timeoutMs,
        },
        now,
      );
      const release = this.#transport.hold();
      const signal = call.signal;
      const onAbort = (): void => {
        if (!this.#waiters.has(id)) return;
        this.#waiters.delete(id);
        this.#session.cancel(id);
        release();
        reject(abortError(signal as AbortSignal, this.#computer, call.operation));
        this.#pump();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        release();
      };
      this.#waiters.set(id, {
        resolve: (reply) => {
          done();
          resolve(reply);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.#pump();
    });
  }

  /** Feeds a datagram from this BMC's address. */
  receive(datagram: Buffer): void {
    this.#session.receive(datagram, this.#now());
    this.#pump();
  }

  /**
   * Closes the session (Close Session if one is open, waiting at most `waitMs` for its reply),
   * fails the calls still waiting, and stops routing datagrams here.
   */
  close(waitMs = 1000): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      this.#onClosed = resolve;
      this.#release = this.#transport.hold();
      this.#session.close(this.#now(), waitMs);
      this.#pump();
    }).then(() => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#transport.unregister(this.#address, this.#port, this);
      this.#release?.();
    });
    return this.#closing;
  }

  #pump(): void {
    for (const datagram of this.#session.takeDatagrams()) {
      this.#transport.send(this.#address, this.#port, datagram).catch((error: unknown) => {
        this.#failAll(
          ipmiError(
            'VLAB_ERR_IPMI_SOCKET_FAILED',
            `BMC ${this.#bmc}: could not send to it: ${(error as Error).message}`,
            { computer: this.#computer, cause: error, details: { bmc: this.#bmc } },
          ),
        );
      });
    }
    for (const event of this.#session.takeEvents()) {
      switch (event.type) {
        case 'response': {
          const waiter = this.#waiters.get(event.id);
          this.#waiters.delete(event.id);
          waiter?.resolve({ completionCode: event.completionCode, data: event.data });
          break;
        }
        case 'error': {
          const waiter = this.#waiters.get(event.id);
          this.#waiters.delete(event.id);
          waiter?.reject(event.error);
          break;
        }
        case 'closed':
          this.#onClosed?.();
          break;
        default:
          break;
      }
    }
    this.#arm();
  }

  #failAll(error: VlabError): void {
    const waiters = [...this.#waiters.entries()];
    this.#waiters.clear();
    for (const [id, waiter] of waiters) {
      this.#session.cancel(id);
      waiter.reject(error);
    }
  }

  #arm(): void {
    const next = this.#session.nextTimer();
    if (next === undefined) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.#timer !== undefined && this.#timerAt <= next) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = next;
    const delay = Math.max(0, Math.ceil(next - this.#now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#session.handleTimer(this.#now());
      this.#pump();
    }, delay);
    // The socket is held while calls wait; keepalive timers alone never keep the process up.
    this.#timer.unref();
  }
}

/** Whether a call's error says the command may have reached the BMC (its reply was lost). */
export function mayHaveRun(error: unknown): boolean {
  const details = (error as { details?: { mayHaveRun?: unknown } } | null)?.details;
  return details?.mayHaveRun === true;
}
