/** The followers of one signal and the one `abort` listener that serves them all. */
interface Followers {
  readonly callbacks: Set<(reason: unknown) => void>;
  readonly listener: () => void;
}

const followed = new WeakMap<AbortSignal, Followers>();

/**
 * Calls `onAbort` with `source`'s reason when `source` fires, until the returned function is
 * called. However many follow `source` at a time, it carries one `abort` listener of ours — Node
 * warns from the 11th on a signal, and a context may have any number of children — and that
 * listener is removed as soon as nothing follows `source` any more.
 *
 * A follower is held strongly until it unfollows or `source` fires: it may be what keeps a
 * pending operation's listeners alive, so it must not be collected while `source` can still fire.
 * @param source - A signal that has not fired yet.
 */
export function followSignal(source: AbortSignal, onAbort: (reason: unknown) => void): () => void {
  let followers = followed.get(source);
  if (followers === undefined) {
    const callbacks = new Set<(reason: unknown) => void>();
    const listener = (): void => {
      followed.delete(source);
      // A copy: a follower's own abort may unfollow others while this loop runs.
      for (const callback of [...callbacks]) callback(source.reason);
      callbacks.clear();
    };
    followers = { callbacks, listener };
    followed.set(source, followers);
    source.addEventListener('abort', listener, { once: true });
  }
  const mine = followers;
  // A fresh function per call, so the same `onAbort` can follow twice and unfollow once.
  const callback = (reason: unknown): void => onAbort(reason);
  mine.callbacks.add(callback);
  return () => {
    if (!mine.callbacks.delete(callback) || mine.callbacks.size > 0) return;
    if (followed.get(source) === mine) followed.delete(source);
    source.removeEventListener('abort', mine.listener);
  };
}
