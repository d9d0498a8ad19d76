import { describe, expect, it } from 'vitest';
import { iptablesApplyScript, iptablesRules, nftRuleset, outermost } from '../src/firewall.js';

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

  it('nftables: keeps only the outermost of overlapping networks (an interval set refuses overlaps)', () => {
    const v4 = (text: string) => ({ family: 4 as const, text });
    const v6 = (text: string) => ({ family: 6 as const, text });
    expect(
      outermost([v4('198.18.2.201'), v4('0.0.0.0/0'), v6('::/0'), v6('2001:db8::/64')]),
    ).toEqual([v4('0.0.0.0/0'), v6('::/0')]);
    expect(outermost([v4('10.1.2.3'), v4('10.1.0.0/16'), v4('10.2.0.0/16')])).toEqual([
      v4('10.1.0.0/16'),
      v4('10.2.0.0/16'),
    ]);
    // The same network twice (host bits aside): the first stays.
    expect(outermost([v4('10.1.2.3/24'), v4('10.1.2.9/24'), v4('10.1.2.3/24')])).toEqual([
      v4('10.1.2.3/24'),
    ]);
    // A longer prefix whose address lies in a shorter one's range is inside it, not the reverse.
    expect(outermost([v4('10.1.2.0/24'), v4('10.1.2.3/16')])).toEqual([v4('10.1.2.3/16')]);
    expect(outermost([v6('2001:db8::1'), v6('2001:db8::/32'), v6('::ffff:10.1.2.3')])).toEqual([
      v6('2001:db8::/32'),
      v6('::ffff:10.1.2.3'),
    ]);
    expect(outermost([v6('::ffff:10.1.2.3'), v6('::ffff:10.1.0.0/112')])).toEqual([
      v6('::ffff:10.1.0.0/112'),
    ]);
    expect(outermost([v6('fe80::1:2'), v6('fe80::/64'), v6('fe80:0:0:1::/64')])).toEqual([
      v6('fe80::/64'),
      v6('fe80:0:0:1::/64'),
    ]);
    const rules = nftRuleset({ ...access, users: [v4('198.18.2.201'), v4('0.0.0.0/0')] });
    expect(rules).toContain(
      'set users4 { type ipv4_addr; flags interval; elements = { 0.0.0.0/0 }; }',
    );
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
