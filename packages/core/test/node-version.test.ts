import { expect, it } from 'vitest';

it('runs on Node 20 or later', () => {
  // Printed on purpose, so CI logs show which Node ran the tests.
  console.log(`node ${process.version}`);
  const major = Number(/^v(\d+)\./.exec(process.version)?.[1]);
  expect(Number.isInteger(major)).toBe(true);
  expect(major).toBeGreaterThanOrEqual(20);
});
