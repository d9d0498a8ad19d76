import { SEQUENCE_WINDOW_ABOVE, SEQUENCE_WINDOW_BELOW } from './constants.js';

/** Session sequence numbers are 32 bits; 0 is never used inside a session (§6.12.13, §13.6). */
export function nextSequence(current: number): number {
  const next = (current + 1) >>> 0;
  return next === 0 ? 1 : next;
}

/** Signed distance from `from` to `to` in 32-bit sequence space. */
function distance(from: number, to: number): number {
  return ((to - from) | 0) as number;
}

/**
 * The inbound sliding window of §6.12.13: accepts a sequence number once, if it is at most
 * {@link SEQUENCE_WINDOW_BELOW} below the highest accepted so far and at most
 * {@link SEQUENCE_WINDOW_ABOVE} above it; rejects duplicates and anything outside.
 */
export class SequenceWindow {
  #highest: number | undefined;
  /** Bit i set: `highest - i` was accepted (i < 32). */
  #seen = 0;

  /** Whether `sequence` is new and inside the window; if so, it is recorded. */
  accept(sequence: number): boolean {
    if (sequence === 0) return false;
    if (this.#highest === undefined) {
      this.#highest = sequence >>> 0;
      this.#seen = 1;
      return true;
    }
    const ahead = distance(this.#highest, sequence);
    if (ahead > 0) {
      if (ahead > SEQUENCE_WINDOW_ABOVE) return false;
      this.#seen = ahead >= 32 ? 1 : ((this.#seen << ahead) | 1) >>> 0;
      this.#highest = sequence >>> 0;
      return true;
    }
    const behind = -ahead;
    if (behind > SEQUENCE_WINDOW_BELOW || behind >= 32) return false;
    const bit = (1 << behind) >>> 0;
    if ((this.#seen & bit) !== 0) return false;
    this.#seen = (this.#seen | bit) >>> 0;
    return true;
  }
}
