import { type Logger, redact, type Secret } from '@vlab/core';
import pg from 'pg';
import { describeUrl, urlSecrets } from './database.js';

/** The channel the events table's trigger notifies with each new event's id. */
export const EVENTS_CHANNEL = 'vlab_events';
/** Pause before connecting again after the listening connection broke. */
const RECONNECT_MS = 1000;

/**
 * One `LISTEN` connection per manager: counts the announcements of new events (by any manager
 * sharing the database) and wakes whoever waits for the next. A broken connection is made again;
 * the reconnection counts as an announcement, since some may have been missed meanwhile.
 */
export class EventAnnouncements {
  readonly #url: Secret;
  readonly #log: Logger;
  #client: pg.Client | undefined;
  #generation = 0;
  #waiters = new Set<() => void>();
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;

  private constructor(url: Secret, log: Logger) {
    this.#url = url;
    this.#log = log;
  }

  /** Connects and listens; throws when the database cannot be reached. */
  static async start(url: Secret, log: Logger): Promise<EventAnnouncements> {
    const announcements = new EventAnnouncements(url, log);
    await announcements.#connect();
    return announcements;
  }

  /** Counts announcements: a follower compares it before and after its query. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Resolves once the generation is past `seen`, after `pauseMs` at the latest, or when `signal`
   * aborts (then it rejects with its reason).
   */
  next(seen: number, pauseMs: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#generation !== seen || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        this.#waiters.delete(done);
        resolve();
      };
      const aborted = (): void => {
        done();
        reject(signal.reason);
      };
      const timer = setTimeout(done, pauseMs);
      signal.addEventListener('abort', aborted, { once: true });
      this.#waiters.add(done);
    });
  }

  /** Stops listening and releases every waiter. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    this.#wake();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url.reveal() });
    // Until it listens, the client is not this.#client: its failures are #connect's own.
    client.on('notification', () => this.#wake());
    client.on('error', (error) => this.#broken(client, error));
    client.on('end', () => this.#broken(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
  }

  #broken(client: pg.Client, error: Error | undefined): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#warn(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#reconnect = setTimeout(() => {
      this.#connect().then(
        () => this.#wake(),
        (error: Error) => {
          this.#warn(error);
          if (!this.#closed) this.#scheduleReconnect();
        },
      );
    }, RECONNECT_MS);
  }

  #warn(error: Error | undefined): void {
    this.#log.warn('the connection listening for new events broke; connecting again', {
      database: describeUrl(this.#url),
      error: error === undefined ? 'closed' : redact(error.message, urlSecrets(this.#url)),
    });
  }

  #wake(): void {
    this.#generation += 1;
    for (const waiter of [...this.#waiters]) waiter();
  }
}
