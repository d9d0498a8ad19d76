import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { killCommand, wrapCommand } from '../src/remote-process.js';

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
    expect(killCommand(1234, 100, false)).toMatch(/^p=1234; kill -TERM -\$p/);
    expect(killCommand(1234, 100, true)).toMatch(/^sudo -n sh -c 'p=1234; /);
  });
});
