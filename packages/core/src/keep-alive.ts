// Imported from node:timers, not the globals: this handle is no timer of the operation's, so fake
// timers in a caller's tests must neither see nor run it.
import { clearInterval, setInterval } from 'node:timers';

const LONGEST_INTERVAL_MS = 2 ** 31 - 1;

/**
 * Keeps the process alive until the returned function is called. For code that waits for an
 * operation to settle (`runSteps`, a conformance check): deadline timers are unref'd, so an
 * operation waiting only on its deadline — a stalled machine, a hung call — would otherwise let a
 * plain `node` process exit in the middle, without an error. Call the returned function once the
 * operation settled; calling it again does nothing.
 */
export function keepProcessAlive(): () => void {
  const handle = setInterval(() => {}, LONGEST_INTERVAL_MS);
  return () => clearInterval(handle);
}
