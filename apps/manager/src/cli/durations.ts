import { CliError, EXIT } from './exit-codes.js';

const UNITS: Readonly<Record<string, number>> = { m: 1, h: 60, d: 24 * 60 };

/** Whole minutes of `90`, `30m`, `2h`, `1d` or `1h30m`. */
export function minutesOf(text: string): number {
  const parts = [...text.matchAll(/(\d+)([mhd]?)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new CliError(EXIT.usage, `"${text}" is not a duration`, {
      hint: 'Write minutes (90), or a number with m, h or d (30m, 2h, 1h30m, 1d).',
    });
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNITS[unit || 'm'] ?? 1), 0);
}
