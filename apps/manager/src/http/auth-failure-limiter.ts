/** How many failed authentications a client may make per window, and the window. */
export interface AuthFailureLimits {
  readonly failures: number;
  readonly windowMs: number;
}

/** Default: 10 failed authentications a minute per client address. */
export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = { failures: 10, windowMs: 60_000 };

/**
 * Counts failed authentications per client address in fixed windows, so guessing tokens costs a
 * window per few guesses. Successful requests are never counted. Kept in memory: each manager
 * limits the clients it serves.
 */
export class AuthFailureLimiter {
  readonly #limits: AuthFailureLimits;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(limits: AuthFailureLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Milliseconds until `client` may try again, or 0 when it may try now. */
  retryAfterMs(client: string): number {
    const window = this.#current(client);
    if (window === undefined || window.failures < this.#limits.failures) return 0;
    return window.start + this.#limits.windowMs - this.#now();
  }

  /** Counts a failed authentication of `client`. */
  fail(client: string): void {
    const window = this.#current(client);
    if (window === undefined) {
      this.#prune();
      this.#windows.set(client, { start: this.#now(), failures: 1 });
    } else {
      window.failures += 1;
    }
  }

  #current(client: string): { start: number; failures: number } | undefined {
    const window = this.#windows.get(client);
    if (window === undefined || this.#now() - window.start >= this.#limits.windowMs)
      return undefined;
    return window;
  }

  /** Forgets the ended windows, so addresses that stopped trying cost no memory. */
  #prune(): void {
    const now = this.#now();
    for (const [client, window] of this.#windows) {
      if (now - window.start >= this.#limits.windowMs) this.#windows.delete(client);
    }
  }
}
