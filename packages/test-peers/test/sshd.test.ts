import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, liveProcessesOf } from '../src/process-tree.js';
import { run } from '../src/run.js';
import { type Sshd, startSshd } from '../src/sshd.js';

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// An account of this suite's own: the checks below read every process of the account, and other
// suites (the ssh package's) log in as the default one, possibly at the same time.
const user = 'vlab-test-peers';

async function userProcesses(user: string): Promise<string> {
  return liveProcessesOf(user).join('\n');
}

/** Resolves once the account runs a process matching `command`: the session is up, not "probably". */
async function sessionRunning(user: string, command: RegExp): Promise<void> {
  await expect.poll(() => userProcesses(user), { timeout: 30_000, interval: 50 }).toMatch(command);
}

describe('startSshd', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd({ user, maxSessions: 7, clientKeyTypes: ['ed25519', 'rsa'] });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('logs the test account in with the generated key, verifying the pinned host key', async () => {
    const out = await run('ssh', [
      ...sshd.sshArgs(),
      'id -un; echo "$HOME"; getent passwd "$(id -un)" | cut -d: -f7',
    ]);
    expect(out.stderr).toBe('');
    expect(out.stdout.split('\n').slice(0, 3)).toEqual([sshd.user, sshd.account.home, '/bin/sh']);
  });

  it('offers both host key types, both pinned in known_hosts', async () => {
    for (const algorithm of ['ssh-ed25519', 'rsa-sha2-512']) {
      const out = await run('ssh', [
        '-o',
        `HostKeyAlgorithms=${algorithm}`,
        ...sshd.sshArgs(),
        'true',
      ]);
      expect(out, algorithm).toMatchObject({ code: 0 });
    }
    expect(sshd.hostPublicKeys.map((key) => key.split(' ')[0])).toEqual(['ssh-ed25519', 'ssh-rsa']);
  });

  it('authorises every generated client key', async () => {
    const rsa = sshd.clientKeys.find((key) => key.type === 'rsa');
    expect(rsa?.privateKey).toContain('PRIVATE KEY');
    const args = sshd.sshArgs();
    args[1] = rsa?.path ?? '';
    expect(await run('ssh', [...args, 'true'])).toMatchObject({ code: 0 });
  });

  it('refuses an unknown host key (the known_hosts file is really used)', async () => {
    const args = sshd
      .sshArgs()
      .map((arg) => (arg.startsWith('UserKnownHostsFile=') ? 'UserKnownHostsFile=/dev/null' : arg));
    const out = await run('ssh', [...args, 'true']);
    expect(out.code).toBe(255);
    expect(out.stderr).toMatch(/Host key verification failed/);
  });

  it('writes the requested MaxSessions and a scratch dir owned by the account', async () => {
    const out = await run('ssh', [...sshd.sshArgs(), `touch ${sshd.scratchDir}/x && echo ok`]);
    expect(out.stdout.trim()).toBe('ok');
    const config = await run('cat', [`${sshd.dir}/sshd_config`]);
    expect(config.stdout).toMatch(/^MaxSessions 7$/m);
    expect(config.stdout).toMatch(/^PidFile none$/m);
  });

  it('drops connections on request and keeps listening', async () => {
    const started = Date.now();
    const pending = run('ssh', [...sshd.sshArgs(), 'sleep 30']);
    await sessionRunning(sshd.user, /sleep 30/);
    await sshd.dropConnections();
    const out = await pending;
    expect(out.code).toBe(255);
    // Dropped, not ended by itself: the command would have run for 30 s.
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(await run('ssh', [...sshd.sshArgs(), 'true'])).toMatchObject({ code: 0 });
    await expect.poll(() => userProcesses(sshd.user), { timeout: 5000, interval: 100 }).toBe('');
  });
});

describe('a crashed and a stopped sshd', () => {
  it('kill() ends the listener and every session; stop() removes the temp dir', async () => {
    const sshd = await startSshd({ user });
    const pending = run('ssh', [...sshd.sshArgs(), 'sleep 300 & sleep 300']);
    await sessionRunning(sshd.user, /sleep 300/);
    await sshd.kill();
    expect((await pending).code).toBe(255);
    expect(isAlive(sshd.pid)).toBe(false);
    expect(await portAnswers(sshd.port)).toBe(false);
    await expect.poll(() => userProcesses(sshd.user), { timeout: 5000, interval: 100 }).toBe('');
    expect(existsSync(sshd.dir)).toBe(true);
    await sshd.stop();
    expect(existsSync(sshd.dir)).toBe(false);
  });

  it('stop() leaves no process behind, and is idempotent', async () => {
    const sshd = await startSshd({ user });
    const pending = run('ssh', [...sshd.sshArgs(), 'sleep 300']);
    await sessionRunning(sshd.user, /sleep 300/);
    await sshd.stop();
    await pending;
    await sshd.stop();
    expect(isAlive(sshd.pid)).toBe(false);
    await expect.poll(() => userProcesses(sshd.user), { timeout: 5000, interval: 100 }).toBe('');
    expect(existsSync(sshd.dir)).toBe(false);
  });

  it('works with await using', async () => {
    let dir = '';
    {
      await using sshd = await startSshd({ user, hostKeyTypes: ['ed25519'] });
      dir = sshd.dir;
      expect(await portAnswers(sshd.port)).toBe(true);
    }
    expect(existsSync(dir)).toBe(false);
  });
});

describe('startSshd failures are loud', () => {
  it('names a missing sshd binary', async () => {
    await expect(startSshd({ sshdPath: '/nonexistent/sshd' })).rejects.toThrow(
      /sshd not found at \/nonexistent\/sshd: install openssh-server/,
    );
  });

  it("reports sshd's own stderr when it refuses to start", async () => {
    await expect(
      startSshd({ hostKeyTypes: ['ed25519'], extraConfig: ['NoSuchOption yes'] }),
    ).rejects.toThrow(/sshd exited with code 255 while starting[\s\S]*NoSuchOption/);
  });
});
