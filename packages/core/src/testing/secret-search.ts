import type { Secret } from '../secret.js';

/**
 * The secret (of `secrets`) whose revealed value occurs in `value` — a string, or anywhere in an
 * object graph: an error's message, hint, details and whole `cause` chain, arrays, plain objects,
 * byte arrays (as UTF-8). `undefined` when none does.
 */
export function findSecret(value: unknown, secrets: readonly Secret[]): Secret | undefined {
  const texts: string[] = [];
  collectTexts(value, texts, new Set());
  for (const secret of secrets) {
    const revealed = secret.reveal();
    if (revealed.length > 0 && texts.some((text) => text.includes(revealed))) return secret;
  }
  return undefined;
}

/** `text` with every secret's revealed value replaced by `[secret: <label>]`. */
export function redactSecrets(text: string, secrets: readonly Secret[]): string {
  let redacted = text;
  for (const secret of secrets) {
    const revealed = secret.reveal();
    if (revealed.length > 0) redacted = redacted.split(revealed).join(`[secret: ${secret.label}]`);
  }
  return redacted;
}

function collectTexts(value: unknown, into: string[], seen: Set<object>): void {
  if (typeof value === 'string') {
    into.push(value);
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Uint8Array) {
    into.push(Buffer.from(value).toString('utf8'));
    return;
  }
  if (value instanceof Error) {
    into.push(value.message);
    collectTexts(value.cause, into, seen);
  }
  for (const key of Object.keys(value)) {
    // A property that throws on read cannot carry a secret the kit could see.
    try {
      collectTexts((value as Record<string, unknown>)[key], into, seen);
    } catch {}
  }
}

const leaks = new WeakMap<object, string[]>();

/**
 * `module` with every operation watched: an error it throws or rejects with that holds the value
 * of a secret in play (`secrets()`) is recorded against `key` (the harness), then passed on
 * unchanged, so a check that expects the error still sees it. {@link leaksOf} reads the records.
 */
export function watchForSecrets<T extends object>(
  module: T,
  key: object,
  secrets: () => readonly Secret[],
): T {
  const record = (operation: string, error: unknown): void => {
    const secret = findSecret(error, secrets());
    if (secret === undefined) return;
    const list = leaks.get(key) ?? [];
    list.push(`an error ${operation} threw contains the value of the secret "${secret.label}"`);
    leaks.set(key, list);
  };
  return new Proxy(module, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(target, args);
          if (result instanceof Promise)
            return result.catch((error: unknown) => {
              record(property, error);
              throw error;
            });
          return result;
        } catch (error) {
          record(property, error);
          throw error;
        }
      };
    },
  });
}

/** What {@link watchForSecrets} recorded against `key` so far (a growing list). */
export function leaksOf(key: object): readonly string[] {
  return leaks.get(key) ?? [];
}
