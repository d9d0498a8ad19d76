import { describe, expect, it } from 'vitest';
import { iptablesApplyScript, iptablesRules, nftRuleset } from '../src/firewall.js';

const access = {
  port: 22,
  management: [{ family: 4 as const, text: '198.18.2.1' }],
  users: [
    { family: 4 as const, text: '198.18.2.201' },
    { family: 6 as const, text: '2001:db8::/64' },
    { family: 4 as const, text: '198.18.2.201' },
  ],
};

describe('the SSH firewall rules', () => {
  it('nftables: replaces its own table atomically and filters only the SSH port', () => {
    const rules = nftRuleset(access);
    expect(rules).toMatch(
      /^# Written by vlab[^\n]*\ntable inet vlab\ndelete table inet vlab\ntable inet vlab \{/,
    );
    expect(rules).toContain(
      'set management4 { type ipv4_addr; flags interval; elements = { 198.18.2.1 }; }',
    );
    expect(rules).toContain(
      'set users4 { type ipv4_addr; flags interval; elements = { 198.18.2.201 }; }',
    );
    expect(rules).toContain(
      'set users6 { type ipv6_addr; flags interval; elements = { 2001:db8::/64 }; }',
    );
    expect(rules).toContain('set management6 { type ipv6_addr; flags interval; }');
    const chain = rules.slice(rules.indexOf('chain input'));
    for (const line of chain.split('\n').filter((l) => /^\s+tcp /.test(l)))
      expect(line).toMatch(/^\s+tcp dport 22 /);
    expect(chain.trim().split('\n').at(-3)?.trim()).toBe('tcp dport 22 reject with tcp reset');
  });

  it('nftables: closed to users means no user elements at all', () => {
    const rules = nftRuleset({ ...access, users: [], port: 2222 });
    expect(rules).toContain('set users4 { type ipv4_addr; flags interval; }');
    expect(rules).toContain('tcp dport 2222 reject with tcp reset');
  });

  it('iptables: one chain per family, sources return to INPUT, the rest is reset', () => {
    expect(iptablesRules(access, 4)).toBe(
      [
        '# Written by vlab os-linux: who may reach SSH on this machine. Do not edit.',
        '*filter',
        ':VLAB-SSH - [0:0]',
        '-A VLAB-SSH -i lo -j RETURN',
        '-A VLAB-SSH -s 198.18.2.1 -j RETURN',
        '-A VLAB-SSH -s 198.18.2.201 -j RETURN',
        '-A VLAB-SSH -p tcp -j REJECT --reject-with tcp-reset',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(iptablesRules(access, 6)).toContain('-A VLAB-SSH -s 2001:db8::/64 -j RETURN\n');
    expect(iptablesRules({ ...access, management: [], users: [] }, 6)).not.toMatch(/-s /);
    expect(iptablesApplyScript(22)).toContain(
      'iptables -C INPUT -p tcp --dport 22 -j VLAB-SSH 2>/dev/null || iptables -I INPUT -p tcp --dport 22 -j VLAB-SSH',
    );
  });
});
