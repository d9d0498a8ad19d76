import { execFileSync, spawn } from 'node:child_process';
import { isAlive } from '@vlab/test-peers';
import { describe, expect, it } from 'vitest';
import { killCommand, wrapCommand } from '../src/remote-process.js';

/** Members of process group `pgid` that are not zombies. */
function liveMembers(pgid: number): string[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith('Z'))
    .map(([pid]) => pid as string);
}

describe('the command wrapper', () => {
  it('reports the shell pid on stderr, then execs the quoted program in place', () => {
    expect(wrapCommand(['printf', '%s', "it's"], false)).toBe(
      `echo vlab-pid:$$ >&2; exec printf %s 'it'\\''s'`,
    );
    expect(wrapCommand(['id'], true)).toBe('echo vlab-pid:$$ >&2; exec sudo -n -- id');
  });

  it('builds kill scripts that sh parses, with sudo as a quoted sh -c', () => {
    for (const sudo of [false, true]) {
      const script = killCommand(1234, 2000, sudo);
      expect(() => execFileSync('sh', ['-n', '-c', script])).not.toThrow();
    }
    expect(killCommand(1234, 100, false)).toMatch(/^p=1234; /);
    expect(killCommand(1234, 100, true)).toMatch(/^sudo -n sh -c 'p=1234; /);
  });

  it('ends a process group and returns once no member lives, zombies aside', () => {
    // A group like the one sshd starts: a leader whose children are orphaned when it dies, so
    // their zombies wait for init (which in a container may take its time).
    const leader = spawn('sh', ['-c', 'sleep 100 & sleep 100 & wait'], {
      detached: true,
      stdio: 'ignore',
    });
    const pgid = leader.pid as number;
    try {
      for (let i = 0; i < 200 && liveMembers(pgid).length < 3; i += 1) {
        execFileSync('sleep', ['0.05']);
      }
      expect(liveMembers(pgid)).toHaveLength(3);
      const began = performance.now();
      // A grace time far above what the group takes to die: the script must not wait it out.
      execFileSync('sh', ['-c', killCommand(pgid, 20_000, false)]);
      expect(performance.now() - began).toBeLessThan(10_000);
      expect(liveMembers(pgid)).toEqual([]);
      expect(isAlive(pgid)).toBe(false);
    } finally {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
});
