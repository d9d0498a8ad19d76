import type { LogSink } from '@vlab/core';
import { pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { type LogEnvironment, readLogSettings } from './log-settings.js';
import { REDACTED, redactPaths } from './redaction.js';

/** Where the sink writes its lines: stderr, or a test's capture. */
export interface LogOutput {
  /** Takes one or more whole lines, each ending with `\n`; must write them before returning. */
  write(text: string): unknown;
  /** Whether the output is a terminal: readable lines by default, colored unless `NO_COLOR`. */
  readonly isTTY?: boolean | undefined;
}

/** Options of {@link pinoSink}. */
export interface PinoSinkOptions {
  /** `VLAB_LOG_LEVEL`, `VLAB_LOG_FORMAT`, `NO_COLOR`. Default: `process.env`. */
  readonly env?: LogEnvironment | undefined;
  /** Default: `process.stderr` (synchronous for files, pipes and terminals on Linux). */
  readonly output?: LogOutput | undefined;
}

/**
 * The manager's default log sink, on pino: one JSON object per line (`level` and `time` first,
 * `time` in ISO 8601, then the record's fields, then `msg`), or one readable line per record
 * (pino-pretty, formatted in this thread, no worker) when the output is a terminal or
 * `VLAB_LOG_FORMAT=pretty`. Records below `VLAB_LOG_LEVEL` are dropped. A field named like a
 * secret (`REDACTED_KEYS`) prints as `[redacted]` whatever it holds, and so does a `Secret`
 * anywhere in the fields (its JSON form). An unknown level or format is used as the default and
 * said in a `warn` line first.
 */
export function pinoSink(options: PinoSinkOptions = {}): LogSink {
  const env = options.env ?? process.env;
  const output = options.output ?? process.stderr;
  const settings = readLogSettings(env, output.isTTY === true);
  const destination =
    settings.format === 'pretty'
      ? prettyOutput(output, output.isTTY === true && (env['NO_COLOR'] ?? '') === '')
      : output;
  // The record's own time, not the time pino writes it: set just before each (synchronous) call.
  let time = Date.now();
  const logger = pino(
    {
      level: settings.level,
      // No pid or hostname: the manager's records carry what identifies them.
      base: null,
      timestamp: () => `,"time":"${new Date(time).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths(), censor: REDACTED },
    },
    { write: (line: string) => destination.write(line) },
  );
  for (const problem of settings.problems) {
    time = Date.now();
    logger.warn({ ...problem }, `${problem.variable} is not understood; using the default`);
  }
  return (record) => {
    time = record.time;
    logger[record.level](record.fields, record.message);
  };
}

/** Formats each JSON line pino makes into a readable one before it reaches `output`. */
function prettyOutput(output: LogOutput, colorize: boolean): LogOutput {
  const pretty = prettyFactory({ colorize, singleLine: true, translateTime: 'SYS:standard' });
  return { write: (line: string) => output.write(pretty(line)) };
}
