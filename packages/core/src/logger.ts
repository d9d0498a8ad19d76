import { Secret } from './secret.js';

/** Log severities, least to most severe. @public */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One structured log line. @public */
export interface LogRecord {
  /** How severe it is. */
  readonly level: LogLevel;
  /** A fixed text saying what happened; the facts are in `fields`. */
  readonly message: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** The bindings of the logger and the fields of the call; {@link Secret}s already redacted. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Where log records go: the manager's log, a test's memory. @public */
export type LogSink = (record: LogRecord) => void;

/**
 * The logger every operation receives in its context. Put facts in `fields`, not in the message.
 * Never log a revealed secret; a {@link Secret} object in fields is printed as `[redacted]`.
 * @public
 */
export interface Logger {
  /** Writes a `debug` record; `fields` are merged over the logger's bindings. */
  debug(message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Writes an `info` record; `fields` are merged over the logger's bindings. */
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Writes a `warn` record; `fields` are merged over the logger's bindings. */
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Writes an `error` record; `fields` are merged over the logger's bindings. */
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** A logger whose records also carry `bindings` (computer, phase, module). */
  child(bindings: Readonly<Record<string, unknown>>): Logger;
}

/**
 * A {@link Logger} writing to `sink`. Fields are copied, and {@link Secret}s in them (at any depth)
 * are replaced by `[redacted]` before the sink sees them.
 * @param bindings - Fields every record carries; a call's own fields win over them.
 * @public
 */
export function createLogger(
  sink: LogSink,
  bindings: Readonly<Record<string, unknown>> = {},
): Logger {
  const write = (
    level: LogLevel,
    message: string,
    fields?: Readonly<Record<string, unknown>>,
  ): void => {
    sink({
      level,
      message,
      time: Date.now(),
      fields: scrub({ ...bindings, ...fields }, 0) as Record<string, unknown>,
    });
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (more) => createLogger(sink, { ...bindings, ...more }),
  };
}

/** A logger that drops everything. @public */
export const silentLogger: Logger = createLogger(() => {});

function scrub(value: unknown, depth: number): unknown {
  if (Secret.isSecret(value)) return '[redacted]';
  if (typeof value !== 'object' || value === null) return value;
  // Deeper than any sensible log field: drop it rather than pass an unchecked object on.
  if (depth > 32) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error)
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrub(item, depth + 1);
  return out;
}
