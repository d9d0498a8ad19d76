import { setImmediate } from 'node:timers/promises';
import { abortError, type Logger } from '@vlab/core';
import { ChannelOpenError, type ConnectionSettings, SshConnection } from './connection.js';
import { sshError } from './errors.js';
import type { HostKeyStore } from './host-key.js';
import { computerOf, describeTarget, type SshTarget, targetKey } from './target.js';

/** A snapshot of one target's connections, for tests and monitoring. @public */
export interface SshPoolStats {
  /** Open connections. */
  readonly connections: number;
  /** Channels open on them. */
  readonly activeChannels: number;
  /** Calls waiting for a channel slot. */
  readonly waiting: number;
}

/** The pool's options, resolved (see `SshPoolOptions`). @internal */
export interface PoolSettings {
  readonly connection: ConnectionSettings;
  readonly maxSessions: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly refusedRetryMs: number;
  readonly logger: Logger;
}

interface Entry {
  readonly target: SshTarget;
  readonly connections: SshConnection[];
  connecting: number;
  /** Callers waiting for a free channel slot. */
  waiting: number;
  listeners: Set<() => void>;
}

/**
 * The connections of an `SshPool`, one set per target (host, port, user, credentials): it
 * reuses authenticated connections and multiplexes channels on them, up to the server's session
 * limit per connection, then queues (or opens up to `maxConnections` connections). A channel the
 * server refuses is back-pressure: the call waits and retries, and is never failed for it.
 * Connections reconnect on next use after a drop and close when idle. The bottom layer: exec,
 * processes and files run on it; it knows none of them.
 * @internal
 */
export class ConnectionPool {
  readonly #entries = new Map<string, Entry>();
  readonly #settings: ConnectionSettings;
  readonly #maxSessions: number;
  readonly #maxConnections: number;
  readonly #idleTimeoutMs: number;
  readonly #refusedRetryMs: number;
  readonly #logger: Logger;
  #closed = false;

  constructor(settings: PoolSettings) {
    this.#logger = settings.logger;
    this.#settings = settings.connection;
    this.#maxSessions = Math.max(1, settings.maxSessions);
    this.#maxConnections = Math.max(1, settings.maxConnections);
    this.#idleTimeoutMs = settings.idleTimeoutMs;
    this.#refusedRetryMs = settings.refusedRetryMs;
  }

  /** The host key store connections verify against. */
  get hostKeys(): HostKeyStore {
    return this.#settings.hostKeys;
  }

  /** Whether {@link ConnectionPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Connections, open channels and waiting calls for `target`. */
  stats(target: SshTarget): SshPoolStats {
    const entry = this.#entries.get(targetKey(target));
    if (entry === undefined) return { connections: 0, activeChannels: 0, waiting: 0 };
    const open = entry.connections.filter((c) => !c.closed);
    return {
      connections: open.length,
      activeChannels: open.reduce((sum, c) => sum + c.active, 0),
      waiting: entry.waiting,
    };
  }

  #entry(target: SshTarget): Entry {
    const key = targetKey(target);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { target, connections: [], connecting: 0, waiting: 0, listeners: new Set() };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #notify(entry: Entry): void {
    for (const listener of [...entry.listeners]) listener();
  }

  /** Resolves on the next change in the entry (a slot freed, a connection opened or lost) or after `ms`. */
  #changed(
    entry: Entry,
    signal: AbortSignal,
    ms: number | undefined,
    computer: string,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        entry.listeners.delete(done);
        signal.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      const onAbort = (): void => {
        entry.listeners.delete(done);
        if (timer !== undefined) clearTimeout(timer);
        reject(abortError(signal, computer));
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      entry.listeners.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #poolClosedError(target: SshTarget): Error {
    return sshError(
      'VLAB_ERR_SSH_POOL_CLOSED',
      `the SSH pool was closed (${describeTarget(target)})`,
      {
        computer: computerOf(target),
      },
    );
  }

  /** Opens a connection for the entry, through the jump host if the target has one. */
  async #connect(entry: Entry, signal: AbortSignal): Promise<void> {
    entry.connecting += 1;
    try {
      const target = entry.target;
      let connection: SshConnection;
      if (target.via === undefined) {
        connection = await SshConnection.open(target, this.#settings, signal);
      } else {
        const jump = await this.#jump(target.via, signal);
        try {
          const sock = await jump.forward(target.host, target.port ?? 22);
          connection = await SshConnection.open(target, this.#settings, signal, sock);
        } catch (error) {
          jump.dependents -= 1;
          this.#maybeIdle(this.#entry(target.via), jump);
          throw error;
        }
        connection.onClose(() => {
          jump.dependents -= 1;
          this.#maybeIdle(this.#entry(target.via as SshTarget), jump);
        });
      }
      if (this.#closed) {
        await connection.end();
        throw this.#poolClosedError(target);
      }
      entry.connections.push(connection);
      this.#logger.debug('SSH connection opened', {
        target: describeTarget(target),
        computer: computerOf(target),
        connections: entry.connections.length,
      });
      connection.onClose(() => {
        const index = entry.connections.indexOf(connection);
        if (index >= 0) entry.connections.splice(index, 1);
        this.#logger.debug('SSH connection closed', {
          target: describeTarget(target),
          computer: computerOf(target),
        });
        this.#notify(entry);
      });
      this.#maybeIdle(entry, connection);
    } finally {
      entry.connecting -= 1;
      this.#notify(entry);
    }
  }

  /** A connection to a jump host, kept open while something runs through it. */
  async #jump(via: SshTarget, signal: AbortSignal): Promise<SshConnection> {
    const entry = this.#entry(via);
    for (;;) {
      if (this.#closed) throw this.#poolClosedError(via);
      const open = entry.connections.find((c) => !c.closed);
      if (open !== undefined) {
        open.dependents += 1;
        if (open.idleTimer !== undefined) clearTimeout(open.idleTimer);
        return open;
      }
      if (entry.connecting > 0) await this.#changed(entry, signal, undefined, computerOf(via));
      else await this.#connect(entry, signal);
    }
  }

  #maybeIdle(entry: Entry, connection: SshConnection): void {
    if (connection.active > 0 || connection.dependents > 0 || connection.closed) return;
    if (connection.idleTimer !== undefined) clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => {
      if (connection.active === 0 && connection.dependents === 0) {
        this.#logger.debug('SSH connection idle: closing', {
          target: describeTarget(entry.target),
          computer: computerOf(entry.target),
        });
        void connection.end();
      }
    }, this.#idleTimeoutMs);
    connection.idleTimer.unref();
  }

  /**
   * Runs `work` with a session channel slot on a connection to `target`: waits for a free slot
   * (or opens a connection), and retries when the server refuses the channel (back-pressure) or
   * the connection turns out dead before anything was started. `work` must hold the slot until
   * its channel is closed. Errors thrown by `work` that may follow a started command pass through.
   */
  async withSession<T>(
    target: SshTarget,
    signal: AbortSignal,
    work: (connection: SshConnection) => Promise<T>,
  ): Promise<T> {
    const entry = this.#entry(target);
    const computer = computerOf(target);
    let lastRefusal: ChannelOpenError | undefined;
    for (;;) {
      if (this.#closed) throw this.#poolClosedError(target);
      if (signal.aborted) throw abortError(signal, computer);
      const now = Date.now();
      const connection = entry.connections.find(
        (c) => !c.closed && c.active < this.#maxSessions && c.backoffUntil <= now,
      );
      if (connection === undefined) {
        const open = entry.connections.filter((c) => !c.closed).length;
        if (open + entry.connecting < this.#maxConnections) {
          await this.#connect(entry, signal);
          continue;
        }
        const soonest = Math.min(
          ...entry.connections.filter((c) => c.backoffUntil > now).map((c) => c.backoffUntil),
        );
        entry.waiting += 1;
        try {
          await this.#changed(
            entry,
            signal,
            Number.isFinite(soonest) ? soonest - now : undefined,
            computer,
          );
        } finally {
          entry.waiting -= 1;
        }
        continue;
      }

      connection.active += 1;
      if (connection.idleTimer !== undefined) clearTimeout(connection.idleTimer);
      try {
        const result = await work(connection);
        connection.refusals = 0;
        return result;
      } catch (error) {
        if (this.#closed && !(error instanceof ChannelOpenError && !error.started)) {
          throw this.#poolClosedError(target);
        }
        if (!(error instanceof ChannelOpenError) || error.started) throw error;
        if (!error.refused) {
          // The connection died before the channel opened: retry, on another connection. Yield
          // first, so that no state ssh2 has yet to report can make this a loop that never does.
          await setImmediate();
          continue;
        }
        // Refused: back-pressure if other channels are (or just were) open on this connection.
        const others = connection.active - 1;
        if (others === 0 && Date.now() - connection.lastReleaseAt > this.#refusedRetryMs) {
          throw sshError(
            'VLAB_ERR_SSH_CHANNEL_REFUSED',
            `${describeTarget(target)} refused a session channel with none other open (${error.message})`,
            { computer, cause: error, details: { host: target.host } },
          );
        }
        connection.refusals += 1;
        connection.backoffUntil = Date.now() + Math.min(5 * 2 ** (connection.refusals - 1), 200);
        if (lastRefusal === undefined) {
          this.#logger.debug('SSH channel refused: waiting (back-pressure)', {
            target: describeTarget(target),
            computer,
            open: others,
          });
        }
        lastRefusal = error;
      } finally {
        connection.active -= 1;
        connection.lastReleaseAt = Date.now();
        this.#maybeIdle(entry, connection);
        this.#notify(entry);
      }
    }
  }

  /** Closes every connection; later calls fail with `VLAB_ERR_SSH_POOL_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const all: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      for (const connection of entry.connections) all.push(connection.end());
      this.#notify(entry);
    }
    await Promise.all(all);
  }
}
