import { coreError } from './errors/core-errors.js';

const SECRET_BRAND = Symbol.for('vlab.secret');
const REDACTED = '[redacted]';

/**
 * A password, key or credential. Its string, JSON and `util.inspect` forms are `[redacted]`, so
 * passing it to a logger or an error never prints it; only {@link Secret.reveal} gives the value.
 *
 * @remarks
 * Reveal a secret only to hand it to the program that needs it, on stdin or in a file — never in
 * argv, a log line or an error message. The conformance kit fails a module whose logs contain the
 * revealed value of any secret in play.
 * @public
 */
export class Secret {
  readonly #value: string;
  /** What the secret is for, safe to print ("bmc password of node12"). */
  readonly label: string;

  /**
   * Wraps a value read from a secret source.
   * @param value - The secret itself; only {@link Secret.reveal} gives it back.
   * @param label - What it is for, safe to print. Default: `'secret'`.
   */
  constructor(value: string, label = 'secret') {
    this.#value = value;
    this.label = label;
    Object.defineProperty(this, SECRET_BRAND, { value: true });
  }

  /** The secret value. Hand it only to the program that needs it. */
  reveal(): string {
    return this.#value;
  }

  /** Always `[redacted]`, so string conversion and template literals never show the value. */
  toString(): string {
    return REDACTED;
  }

  /** Always `[redacted]`, so `JSON.stringify` never shows the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** What `util.inspect` (and so `console.log`) prints: the label, never the value. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.label}) ${REDACTED}`;
  }

  /** Whether `value` is a Secret from any copy of `@vlab/core`. */
  static isSecret(value: unknown): value is Secret {
    return typeof value === 'object' && value !== null && SECRET_BRAND in value;
  }
}

/**
 * Where configuration says a secret lives. Config never holds a secret value itself.
 * @public
 */
export type SecretRef = { readonly env: string } | { readonly file: string };

/** Resolves secret references into {@link Secret}s. @public */
export interface SecretResolver {
  /**
   * Reads the secret. Throws `VLAB_ERR_SECRET_UNRESOLVED` naming the variable or file (never a
   * value) when it cannot.
   */
  resolve(ref: SecretRef): Promise<Secret>;
}

/** Where {@link createSecretResolver} reads from; defaults are the process environment and the file system. @public */
export interface SecretSources {
  /** Where `{ env }` references are looked up; an empty value counts as unset. Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a `{ file }` reference as text; a rejection becomes `VLAB_ERR_SECRET_UNRESOLVED`. Default: `node:fs`. */
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * A resolver for `{ env }` and `{ file }` references. A file's trailing newline is dropped.
 * @public
 */
export function createSecretResolver(sources: SecretSources = {}): SecretResolver {
  const env = sources.env ?? process.env;
  const readFile =
    sources.readFile ??
    (async (path: string) => (await import('node:fs/promises')).readFile(path, 'utf8'));
  return {
    async resolve(ref) {
      if ('env' in ref) {
        const value = env[ref.env];
        if (value === undefined || value === '') {
          throw coreError(
            'VLAB_ERR_SECRET_UNRESOLVED',
            `environment variable ${ref.env} is not set`,
          );
        }
        return new Secret(value, `env ${ref.env}`);
      }
      try {
        return new Secret((await readFile(ref.file)).replace(/\r?\n$/, ''), `file ${ref.file}`);
      } catch (error) {
        const why = (error as { code?: string }).code ?? 'unreadable';
        throw coreError(
          'VLAB_ERR_SECRET_UNRESOLVED',
          `secret file ${ref.file} could not be read (${why})`,
          {
            cause: error,
          },
        );
      }
    },
  };
}

/**
 * Replaces every occurrence of each secret's value in `text` with `[redacted]`. For text that
 * came from elsewhere (a remote program's stderr) before it goes into a log line or an error.
 * @public
 */
export function redact(text: string, secrets: Iterable<Secret>): string {
  // Longest first, so a secret that contains another is replaced whole.
  const values = [...secrets].map((secret) => secret.reveal()).filter((value) => value.length > 0);
  values.sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join(REDACTED);
  return out;
}
