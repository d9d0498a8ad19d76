import { describe, expect, it } from 'vitest';
import { labLeftovers, startLab } from '../src/lab.js';

// A Debian 13 computer: the same recipe with trixie boots to "running" under nspawn.
describe('a trixie computer', () => {
  it('boots a Debian 13 disk to "running" and answers SSH', async () => {
    const lab = await startLab({ computers: 1, clients: 0, suite: 'trixie' });
    try {
      const c1 = lab.computer('c1');
      const out = await c1.sshChecked(
        'systemctl is-system-running --wait; . /etc/os-release; echo "$VERSION_CODENAME"; command -v blkid debugfs',
      );
      // blkid and debugfs read an identity disk (trixie's minbase has no e2fsprogs of its own).
      expect(out.trim().split('\n')).toEqual([
        'running',
        'trixie',
        '/usr/sbin/blkid',
        '/usr/sbin/debugfs',
      ]);
      expect(await c1.power()).toBe('on');
    } finally {
      await lab.down();
    }
    expect(Object.values(await labLeftovers(lab.id, lab.record.blackhole)).flat()).toEqual([]);
  });
});
