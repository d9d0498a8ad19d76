import { describe, expect, it } from 'vitest';
import { LOGIN_PATTERN, loginProblem, RESERVED_LOGINS } from '../src/login.js';

describe('loginProblem', () => {
  it.each(['alice', '_svc', 'a', 'bob-2', 'x'.repeat(32), 'user_name'])('accepts %j', (login) => {
    expect(loginProblem(login)).toBeUndefined();
  });

  it.each([
    '',
    'Alice',
    '1abc',
    '-rf',
    'x'.repeat(33),
    "'; rm -rf / #",
    'a\nb',
    'a b',
    'a\u0000b',
    'ålice',
    'аlice', // Cyrillic а
    '$(reboot)',
    'a`id`',
    '../etc',
    'a;b',
  ])('refuses %j, naming it', (login) => {
    const problem = loginProblem(login);
    expect(problem).toMatch(/is not a valid user name$/);
    expect(problem).toContain(JSON.stringify(login.slice(0, 40)).slice(0, -1));
  });

  it('refuses every reserved login although each matches the pattern', () => {
    for (const login of RESERVED_LOGINS) {
      expect(LOGIN_PATTERN.test(login)).toBe(true);
      expect(loginProblem(login)).toBe(`the login "${login}" is reserved for the system`);
    }
  });

  it('cuts a long hostile login in its message', () => {
    const problem = loginProblem(`${'A'.repeat(100)}`) ?? '';
    expect(problem.length).toBeLessThan(100);
    expect(problem).toContain('…');
  });
});
