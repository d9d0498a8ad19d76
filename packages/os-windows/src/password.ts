import { randomInt } from 'node:crypto';
import { Secret } from '@vlab/core';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '-_.!#%+=';

/**
 * A new random password that meets Windows' complexity rule (upper, lower, digit and symbol; no
 * part of the account name), 24 characters, as a `Secret`. Only ever revealed onto stdin.
 */
export function generatePassword(label: string): Secret {
  const all = UPPER + LOWER + DIGITS + SYMBOLS;
  const pick = (set: string): string => set.charAt(randomInt(set.length));
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < 24) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return new Secret(chars.join(''), label);
}
