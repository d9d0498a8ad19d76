import type { LogLevel } from '@vlab/core';

/** How log lines are written: one JSON object each, or readable text (pino-pretty). */
export type LogFormat = 'json' | 'pretty';

/** Where the manager's log settings come from: `VLAB_LOG_LEVEL` and `VLAB_LOG_FORMAT`. */
export type LogEnvironment = Readonly<Record<string, string | undefined>>;

/** The log settings read from the environment, and what was wrong with it. */
export interface LogSettings {
  /** The least severe level written. */
  readonly level: LogLevel;
  /** How lines are written. */
  readonly format: LogFormat;
  /**
   * A value of the environment that was not understood and what was used instead: logged as
   * warnings once the log exists (a typo in a log variable must not keep a lab from starting).
   */
  readonly problems: readonly LogSettingProblem[];
}

/** A log variable whose value was not understood. */
export interface LogSettingProblem {
  readonly variable: 'VLAB_LOG_LEVEL' | 'VLAB_LOG_FORMAT';
  readonly value: string;
  readonly expected: readonly string[];
  readonly used: string;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * Reads `VLAB_LOG_LEVEL` (`debug`, `info`, `warn`, `error`; default `info`) and `VLAB_LOG_FORMAT`
 * (`json`, `pretty`; default `pretty` when the output is a terminal, else `json`). Case and
 * surrounding blanks do not matter; an empty value counts as unset; any other value falls back
 * to the default and is reported in `problems`.
 */
export function readLogSettings(env: LogEnvironment, terminal: boolean): LogSettings {
  const problems: LogSettingProblem[] = [];
  const automatic: LogFormat = terminal ? 'pretty' : 'json';
  const level = pick(env, 'VLAB_LOG_LEVEL', LEVELS, 'info', problems);
  const format = pick(env, 'VLAB_LOG_FORMAT', FORMATS, automatic, problems);
  return { level, format, problems };
}

function pick<T extends string>(
  env: LogEnvironment,
  variable: LogSettingProblem['variable'],
  allowed: readonly T[],
  fallback: T,
  problems: LogSettingProblem[],
): T {
  const raw = env[variable];
  const value = raw?.trim().toLowerCase() ?? '';
  if (value === '') return fallback;
  const known = allowed.find((item) => item === value);
  if (known !== undefined) return known;
  problems.push({ variable, value: raw ?? '', expected: allowed, used: fallback });
  return fallback;
}
