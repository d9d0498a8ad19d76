import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUDO_PUT_SCRIPT } from '../src/sudo-put.js';
import { eventually } from './lab.fixture.js';

const SEAL = '0123456789abcdef0123456789abcdef';

// The script `put` runs as root, run here by the local shells (dash is Debian's sh, bash is the
// RHEL family's) on local files: what it does with complete and cut-off content.
describe.each(['/bin/sh', '/bin/bash'])('the put script under %s', (shell) => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vlab-put-script-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function run(stdin: string, dst = `${dir}/file`, tmp = `${dir}/.file.vlab-1.tmp`) {
    const result = spawnSync(
      shell,
      ['-c', SUDO_PUT_SCRIPT, 'vlab-put', tmp, dst, '640', '', '', SEAL],
      {
        input: stdin,
      },
    );
    return { code: result.status, stderr: result.stderr.toString() };
  }

  it('renames sealed content into place without the seal, with the mode', () => {
    expect(run(`payload${SEAL}`)).toEqual({ code: 0, stderr: '' });
    expect(readFileSync(`${dir}/file`, 'utf8')).toBe('payload');
    expect(statSync(`${dir}/file`).mode & 0o7777).toBe(0o640);
    expect(run(SEAL).code).toBe(0);
    expect(readFileSync(`${dir}/file`, 'utf8')).toBe('');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('writes nothing when the content ends without its seal (a dropped connection)', () => {
    writeFileSync(`${dir}/file`, 'old');
    for (const cut of ['', 'payl', `payload${SEAL.slice(0, -1)}`, `payload${SEAL}\n`]) {
      const result = run(cut);
      expect(result.code, JSON.stringify(cut)).toBe(3);
      expect(result.stderr).toMatch(/the content ended before its end/);
      expect(readFileSync(`${dir}/file`, 'utf8')).toBe('old');
      expect(readdirSync(dir)).toEqual(['file']);
    }
  });

  it('cleans up after a cut-off content even when nobody reads its stderr any more', async () => {
    // As after a dropped connection: sshd, the reader of stderr, is gone (SIGPIPE on a write).
    const child = spawn(
      shell,
      ['-c', SUDO_PUT_SCRIPT, 'vlab-put', `${dir}/.t`, `${dir}/file`, '644', '', '', SEAL],
      {
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    );
    child.stderr.destroy();
    child.stdin.end('cut off');
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect({ code, signal }).toMatchObject({ signal: null });
    expect(code).not.toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes its temporary file though signals keep coming while it cleans up', async () => {
    // As on an abort: the process group gets SIGTERM, and sudo relays another one to the shell
    // a moment later, maybe while its trap runs. Here they keep coming, at the whole group, from
    // the point where content has reached the temporary file until the shell is gone.
    for (let round = 0; round < 20; round += 1) {
      const tmp = `${dir}/.file.vlab-${round}.tmp`;
      const child = spawn(
        shell,
        ['-c', SUDO_PUT_SCRIPT, 'vlab-put', tmp, `${dir}/file`, '644', '', '', SEAL],
        { stdio: ['pipe', 'ignore', 'ignore'], detached: true },
      );
      const exited = once(child, 'exit');
      child.stdin.write('part of the content');
      expect(await eventually(() => existsSync(tmp) && statSync(tmp).size > 0)).toBe(true);
      const burst = spawn(
        'sh',
        ['-c', 'while kill -TERM "-$1" 2>/dev/null; do :; done', 'burst', String(child.pid)],
        { stdio: 'ignore' },
      );
      const burstEnded = once(burst, 'exit');
      const [code, signal] = (await exited) as [number | null, string | null];
      await burstEnded;
      expect({ round, left: readdirSync(dir), code, signal }).toEqual({
        round,
        left: [],
        code: 143,
        signal: null,
      });
    }
  });

  it('never replaces a directory, and removes its temporary file', () => {
    mkdirSync(`${dir}/file`);
    expect(run(`payload${SEAL}`).code).not.toBe(0);
    expect(statSync(`${dir}/file`).isDirectory()).toBe(true);
    expect(readdirSync(`${dir}/file`)).toEqual([]);
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('never writes through something already at the temporary name', () => {
    writeFileSync(`${dir}/victim`, 'untouched');
    symlinkSync(`${dir}/victim`, `${dir}/.file.vlab-1.tmp`);
    expect(run(`payload${SEAL}`).code).not.toBe(0);
    expect(readFileSync(`${dir}/victim`, 'utf8')).toBe('untouched');
    expect(existsSync(`${dir}/file`)).toBe(false);
  });
});
