/** What a redacted value prints as, the same text as a `Secret`'s. */
export const REDACTED = '[redacted]';

/**
 * Field names whose values never reach a log line, whatever they hold: the names the lab's code
 * and modules use for passwords, keys and tokens (a module may log a revealed value by mistake;
 * the conformance kit fails it, the log still hides it).
 */
export const REDACTED_KEYS: readonly string[] = [
  'password',
  'passwords',
  'passphrase',
  'passwordHash',
  'bmcPassword',
  'secret',
  'secrets',
  'secretKey',
  'token',
  'apiToken',
  'accessToken',
  'refreshToken',
  'authorization',
  'cookie',
  'credentials',
  'credential',
  'privateKey',
  'deployKey',
  'sessionKey',
  'kg',
];

/** How deep below the record's fields a redacted key is still found (0: a field itself). */
const DEPTH = 3;

/**
 * pino `redact` paths for {@link REDACTED_KEYS} as a field and nested up to {@link DEPTH} levels
 * (`password`, `*.password`, `*.*.password` …; a `*` matches an object key or an array index).
 * pino's wildcards match one level each, so every depth is its own path.
 */
export function redactPaths(keys: readonly string[] = REDACTED_KEYS): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth <= DEPTH; depth += 1)
    for (const key of keys) paths.push([...Array<string>(depth).fill('*'), key].join('.'));
  return paths;
}
