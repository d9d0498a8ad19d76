import { describe, expect, it } from 'vitest';
import { type Network, parseNetwork, uniqueNetworks } from '../src/network.js';

describe('parseNetwork', () => {
  it.each([
    ['192.0.2.7', { family: 4, text: '192.0.2.7' }],
    ['192.0.2.0/24', { family: 4, text: '192.0.2.0/24' }],
    ['192.0.2.9/32', { family: 4, text: '192.0.2.9' }],
    ['2001:db8::/64', { family: 6, text: '2001:db8::/64' }],
    ['2001:db8::1/128', { family: 6, text: '2001:db8::1' }],
    ['0.0.0.0/0', { family: 4, text: '0.0.0.0/0' }],
  ])('takes %j', (value, network) => {
    expect(parseNetwork(value)).toEqual(network);
  });

  it.each([
    '1.2.3.4; nft flush ruleset',
    '1.2.3.4/33',
    '1.2.3.4/24/1',
    'example.org',
    '1.2.3.4/-1',
    '::/129',
    '1.2.3.4/ 8',
    '1.2.3.4/',
    '',
    '1.2.3.4\n5.6.7.8',
  ])('refuses %j', (value) => {
    expect(parseNetwork(value)).toBeUndefined();
  });
});

describe('uniqueNetworks', () => {
  it('drops repeats of the same address or prefix, keeping the first-seen order', () => {
    const parsed = ['192.0.2.7', '2001:db8::/64', '192.0.2.7/32', '192.0.2.0/24', '2001:db8::/64']
      .map(parseNetwork)
      .filter((n): n is Network => n !== undefined);
    expect(uniqueNetworks(parsed).map((n) => n.text)).toEqual([
      '192.0.2.7',
      '2001:db8::/64',
      '192.0.2.0/24',
    ]);
    expect(uniqueNetworks([])).toEqual([]);
  });
});
