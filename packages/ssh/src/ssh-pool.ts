import { type Logger, silentLogger } from '@vlab/core';
import { createSshClient, type SshClient } from './client.js';
import type { UnknownHostKeyPolicy } from './connection.js';
import type { HostKeyStore } from './host-key.js';
import { ConnectionPool, type SshPoolStats } from './pool.js';
import type { SshTarget } from './target.js';

/** Options of {@link SshPool}. Every timeout has a default. @public */
export interface SshPoolOptions {
  /** Where host keys are pinned; the caller owns it. Required: nothing is trusted without it. */
  readonly hostKeys: HostKeyStore;
  /**
   * What to do when a host has no pin: `'refuse'` (default) fails with
   * `VLAB_ERR_SSH_HOSTKEY_UNKNOWN`; `'pin'` trusts the first key seen, stores it and logs it
   * (for a lab that provisions its own machines and has no better source of truth).
   */
  readonly unknownHostKey?: UnknownHostKeyPolicy;
  /** Session channels per connection: the server's `MaxSessions`. Default: 10. */
  readonly maxSessionsPerConnection?: number;
  /** Connections per target when one is full. Default: 2. */
  readonly maxConnectionsPerTarget?: number;
  /** An unused connection closes after this many ms. Default: 30000. */
  readonly idleTimeoutMs?: number;
  /** SSH keepalive interval in ms (0: off). Default: 15000. */
  readonly keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dead. Default: 3. */
  readonly keepaliveCountMax?: number;
  /** Time for TCP connect, handshake and authentication, in ms. Default: 20000. */
  readonly readyTimeoutMs?: number;
  /** How long a refused channel is retried while nothing else is open on it, in ms. Default: 2000. */
  readonly refusedRetryMs?: number;
  /** Where the pool logs (connections, pins, back-pressure). Default: silent. */
  readonly logger?: Logger;
  /** ssh2's protocol debug output, a plain function. Default: none. */
  readonly debug?: (message: string) => void;
}

/**
 * A pool of SSH connections, one set per target (host, port, user, credentials): it reuses
 * authenticated connections and multiplexes channels on them, up to the server's session limit
 * per connection, then queues (or opens up to `maxConnectionsPerTarget` connections). A channel
 * the server refuses is back-pressure: the call waits and retries, and is never failed for it.
 * Connections reconnect on next use after a drop, close when idle, and all close on
 * {@link SshPool.close} (or `await using`).
 * @public
 */
export class SshPool implements AsyncDisposable {
  readonly #pool: ConnectionPool;

  constructor(options: SshPoolOptions) {
    const logger = options.logger ?? silentLogger;
    this.#pool = new ConnectionPool({
      connection: {
        hostKeys: options.hostKeys,
        unknownHostKey: options.unknownHostKey ?? 'refuse',
        readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
        keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        debug: options.debug,
        onPinned: (hostId, fingerprint) =>
          logger.warn('pinned the first host key seen (unknownHostKey: pin)', {
            hostId,
            fingerprint,
          }),
      },
      maxSessions: options.maxSessionsPerConnection ?? 10,
      maxConnections: options.maxConnectionsPerTarget ?? 2,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      refusedRetryMs: options.refusedRetryMs ?? 2000,
      logger,
    });
  }

  /** The host key store the pool verifies against. */
  get hostKeys(): HostKeyStore {
    return this.#pool.hostKeys;
  }

  /** Whether {@link SshPool.close} was called. */
  get closed(): boolean {
    return this.#pool.closed;
  }

  /** A client for one target, sharing this pool's connections. Cheap: make one per use if you like. */
  client(target: SshTarget): SshClient {
    return createSshClient(this.#pool, target);
  }

  /** Connections, open channels and waiting calls for `target`. */
  stats(target: SshTarget): SshPoolStats {
    return this.#pool.stats(target);
  }

  /** Closes every connection; later calls fail with `VLAB_ERR_SSH_POOL_CLOSED`. Idempotent. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Same as {@link SshPool.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
