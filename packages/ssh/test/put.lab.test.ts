import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { Readable } from 'node:stream';
import type { PutOptions } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { SshCommunicator } from '../src/ssh-communicator.js';
import { eventually, type Lab, processesUnder, startLab } from './lab.fixture.js';
import { grantSudo, type SudoGrant } from './sudo.fixture.js';

async function failure(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Names in `dir` left by an atomic write (its temporary files). */
function temporaries(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.vlab-'));
}

/** Whether a temporary file of `prefix` in `dir` holds data: the first chunk arrived. */
function landed(dir: string, prefix: string): boolean {
  return temporaries(dir).some((name) => {
    try {
      return name.startsWith(prefix) && statSync(`${dir}/${name}`).size > 0;
    } catch {
      return false; // gone meanwhile
    }
  });
}

// The sshd is local, so the server's files are this machine's: tests look at them directly, and
// through `stat` over SSH where the owner names matter.
describe('put as root, with owner, group and mode, over a real sshd', () => {
  let lab: Lab;
  let client: SshClient;
  let communicator: SshCommunicator;
  let sudo: SudoGrant;
  /** Only root may write (or even look) here. */
  let rootDir: string;
  beforeAll(async () => {
    lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    sudo = grantSudo(lab.sshd.user);
    client = lab.pool.client(lab.target);
    communicator = new SshCommunicator(client);
    rootDir = mkdtempSync('/tmp/vlab-ssh-put-');
    chmodSync(rootDir, 0o700);
  });
  afterAll(async () => {
    sudo?.revoke();
    if (rootDir !== undefined) rmSync(rootDir, { recursive: true, force: true });
    await lab?.close();
  });

  /** `mode owner group` of a file, as the server's stat prints them. */
  async function remoteStat(path: string): Promise<string> {
    const result = await client.execChecked(['stat', '-c', '%a %U %G', '--', path], { sudo: true });
    return result.stdout.toString().trim();
  }

  it('writes into a directory only root may write, atomically, as root', async () => {
    const path = `${rootDir}/config`;
    const denied = await failure(communicator.put(path, 'x'));
    expect(denied.code).toBe('VLAB_ERR_SSH_SFTP_FAILED');

    const data = Buffer.alloc(5 * 1024 * 1024 + 3);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 31 + (i >> 12)) & 0xff;
    const progress: number[] = [];
    await communicator.put(path, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), {
      sudo: true,
      onProgress: (done) => progress.push(done),
    });
    expect(sha256(readFileSync(path))).toBe(sha256(data));
    expect(await remoteStat(path)).toBe('644 root root');
    expect(progress.at(-1)).toBe(data.length);

    // Replaces what is there; empty content is content.
    await communicator.put(path, '', { sudo: true });
    expect(readFileSync(path).length).toBe(0);
    expect(temporaries(rootDir)).toEqual([]);
  });

  it('sets owner, group and mode on the file before it appears', async () => {
    const user = lab.sshd.user;
    const cases: [PutOptions, string][] = [
      [{ sudo: true, mode: 0o600 }, '600 root root'],
      [{ owner: user }, `644 ${user} ${user}`],
      [{ owner: user, group: 'daemon', mode: 0o640 }, `640 ${user} daemon`],
      [{ sudo: true, group: user, mode: 0o2750 }, `2750 root ${user}`],
      [{ owner: '65534', group: '0', mode: 0o400 }, '400 nobody root'],
    ];
    for (const [index, [options, expected]] of cases.entries()) {
      const path = `${rootDir}/owned-${index}`;
      await communicator.put(path, `case ${index}`, options);
      expect(await remoteStat(path), JSON.stringify(options)).toBe(expected);
      expect(readFileSync(path, 'utf8')).toBe(`case ${index}`);
    }
    expect(temporaries(rootDir)).toEqual([]);
  });

  it('writes hostile paths exactly at their names', async () => {
    // A directory part and a file name that a shell would read as code, newlines (a trailing one
    // too: command substitution drops those), a leading hyphen, glob characters, unicode.
    const dir = `${rootDir}/hostile`;
    mkdirSync(dir);
    const injection = `${dir}/x'; rm -rf `;
    mkdirSync(injection);
    const names = ['line\nbreak', 'trailing-newline\n', '-rf', '* $(id) `id` $HOME', 'ünï cødé 😀'];
    const paths = [`${injection}/ #`, ...names.map((name) => `${dir}/${name}`)];
    for (const path of paths) await communicator.put(path, path, { sudo: true, mode: 0o600 });
    for (const path of paths) expect(readFileSync(path, 'utf8')).toBe(path);
    expect(readdirSync(injection)).toEqual([' #']);
    expect(readdirSync(dir).sort()).toEqual([...names, "x'; rm -rf "].sort());
  });

  it('leaves neither the file nor a temporary file when aborted part-way', async () => {
    for (const [where, options] of [
      [lab.sshd.scratchDir, {}],
      [rootDir, { sudo: true }],
    ] as const) {
      const path = `${where}/aborted`;
      const stop = new AbortController();
      // The known point: the first chunk reached the temporary file on the server.
      async function* content(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(64 * 1024, 1);
        const arrived = await eventually(() => landed(where, '.aborted.'), 10_000);
        stop.abort(new Error(arrived ? 'operator' : 'the first chunk never arrived'));
        await new Promise(() => undefined);
      }
      const error = await failure(
        communicator.put(path, content(), { ...options, signal: stop.signal }),
      );
      expect(error.code, String(error)).toBe('VLAB_ERR_OP_CANCELLED');
      expect((stop.signal.reason as Error).message).toBe('operator');
      expect(await eventually(() => temporaries(where).length === 0, 10_000)).toBe(true);
      expect(existsSync(path)).toBe(false);
    }
  });

  it('leaves the old file when the connection drops mid-transfer, though sshd ends stdin', async () => {
    await using drop = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const dropped = new SshCommunicator(drop.pool.client(drop.target));
    const path = `${rootDir}/kept`;
    writeFileSync(path, 'old content');
    let killed = false;
    async function* content(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(64 * 1024, 2);
      // The known point: data reached the temporary file. Then only sshd's session processes
      // die, as on a network cut: the script lives on and reads EOF, without the seal.
      if (await eventually(() => landed(rootDir, '.kept.'), 10_000)) {
        for (const line of processesUnder(drop.sshd)) {
          const [pid, command] = [
            line.slice(0, line.indexOf(' ')),
            line.slice(line.indexOf(' ') + 1),
          ];
          if (command.startsWith('sshd:')) process.kill(Number(pid), 'SIGKILL');
        }
        killed = true;
      }
      for (;;) {
        yield Buffer.alloc(64 * 1024, 3);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    const error = await failure(dropped.put(path, content(), { sudo: true }));
    expect(killed).toBe(true);
    expect(error.code, String(error)).toBe('VLAB_ERR_CONNECTION_LOST');
    expect(await eventually(() => temporaries(rootDir).length === 0, 10_000)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('old content');
  });

  it('times out on idleness, with idleTimeoutMs or the deprecated timeoutMs, idleTimeoutMs first', async () => {
    async function* stalls(): AsyncGenerator<Buffer> {
      yield Buffer.from('first chunk');
      await new Promise(() => undefined); // never another
    }
    // Whenever the idle time runs out — before sudo started or while the second chunk is
    // awaited — the outcome is the same. An idle time of 10 minutes would run into the test's
    // timeout: so the 300 ms in the error is the one that counted.
    for (const options of [
      { idleTimeoutMs: 300 },
      { timeoutMs: 300 },
      { idleTimeoutMs: 300, timeoutMs: 600_000 },
    ]) {
      for (const [where, sudoOption] of [
        [lab.sshd.scratchDir, {}],
        [rootDir, { sudo: true }],
      ] as const) {
        const path = `${where}/stalled`;
        const error = await failure(
          communicator.put(path, stalls(), { ...options, ...sudoOption }),
        );
        expect(error.code, String(error)).toBe('VLAB_ERR_OP_TIMEOUT');
        expect(error.details).toMatchObject({ timeoutMs: 300, idle: true });
        expect(await eventually(() => temporaries(where).length === 0, 10_000)).toBe(true);
        expect(existsSync(path)).toBe(false);
      }
    }
  });

  it('refuses an invalid owner before anything runs, and fails on an unknown one leaving nothing', async () => {
    const path = `${rootDir}/refused`;
    for (const owner of ['root; id', '-r', '', 'a:b', 'x'.repeat(40)]) {
      const error = await failure(communicator.put(path, 'x', { sudo: true, owner }));
      expect(error.code, owner).toBe('VLAB_ERR_ARGUMENT_INVALID');
      expect(error.message).toMatch(/the owner .* is neither a login name/);
    }
    const unknown = await failure(communicator.put(path, 'x', { owner: 'no-such-user-vlab' }));
    expect(unknown.code).toBe('VLAB_ERR_COMMAND_FAILED');
    expect(unknown.message).toMatch(/no-such-user-vlab/);
    expect(existsSync(path)).toBe(false);
    expect(temporaries(rootDir)).toEqual([]);
  });

  it('fails with the command error when sudo asks for a password', async () => {
    sudo.revoke();
    const error = await failure(communicator.put(`${rootDir}/no-sudo`, 'x', { sudo: true }));
    expect(error.code).toBe('VLAB_ERR_COMMAND_FAILED');
    expect(error.message).toMatch(/sudo.*password is required/);
    expect(existsSync(`${rootDir}/no-sudo`)).toBe(false);
  });
});
