import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createLogger, isVlabError, type LogRecord, Secret } from '@vlab/core';
import { freePort, runChecked, type Sshd, startSshd } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostKeyId, MemoryHostKeyStore } from '../src/host-key.js';
import { KnownHostsFile } from '../src/known-hosts-file.js';
import { SshPool } from '../src/ssh-pool.js';
import type { SshTarget } from '../src/target.js';

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

/** OpenSSH's own SHA256 fingerprint of a public key file. */
async function sshKeygenFingerprint(path: string): Promise<string> {
  const out = await runChecked('ssh-keygen', ['-l', '-E', 'sha256', '-f', path]);
  return out.stdout.split(' ')[1] ?? '';
}

function keyTarget(sshd: Sshd, privateKey = sshd.clientKey.privateKey): SshTarget {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    auth: { kind: 'key', privateKey: new Secret(privateKey) },
  };
}

describe('host keys against real sshds', () => {
  let a: Sshd;
  let b: Sshd;
  beforeAll(async () => {
    [a, b] = await Promise.all([startSshd(), startSshd()]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('refuses a changed host key, naming the host and both SHA256 fingerprints, before logging in', async () => {
    const id = hostKeyId(a.host, a.port);
    await using pool = new SshPool({
      hostKeys: new MemoryHostKeyStore({ [id]: b.hostPublicKeys }),
    });
    const error = await failure(pool.client(keyTarget(a)).exec(['true']));
    expect(error.code).toBe('VLAB_ERR_HOSTKEY_MISMATCH');
    const presented = await sshKeygenFingerprint(`${a.dir}/ssh_host_ed25519_key.pub`);
    const pinned = await sshKeygenFingerprint(`${b.dir}/ssh_host_ed25519_key.pub`);
    expect(error.message).toContain(presented);
    expect(error.message).toContain(pinned);
    expect(error.message).toContain(`127.0.0.1:${a.port}`);
    expect(error.details).toMatchObject({ presented, hostId: id });
    expect(a.log()).not.toMatch(/Accepted publickey/);
  });

  it('refuses an unknown host (nothing accepted silently) and names the key it saw', async () => {
    await using pool = new SshPool({ hostKeys: new MemoryHostKeyStore() });
    const error = await failure(pool.client(keyTarget(a)).exec(['true']));
    expect(error.code).toBe('VLAB_ERR_SSH_HOSTKEY_UNKNOWN');
    expect(error.message).toContain(
      await sshKeygenFingerprint(`${a.dir}/ssh_host_ed25519_key.pub`),
    );
  });

  it("pins the first key under the explicit 'pin' policy, and says so in the log", async () => {
    const records: LogRecord[] = [];
    const store = new MemoryHostKeyStore();
    await using pool = new SshPool({
      hostKeys: store,
      unknownHostKey: 'pin',
      logger: createLogger((record) => records.push(record)),
    });
    await pool.client(keyTarget(a)).exec(['true']);
    expect(await store.get(hostKeyId(a.host, a.port))).toEqual([a.hostPublicKeys[0]]);
    expect(
      records.some((r) => r.level === 'warn' && /pinned the first host key/.test(r.message)),
    ).toBe(true);
  });

  it('offers only pinned key types: an RSA-only pin connects', async () => {
    const rsa = a.hostPublicKeys.filter((key) => key.startsWith('ssh-rsa'));
    await using pool = new SshPool({
      hostKeys: new MemoryHostKeyStore({ [hostKeyId(a.host, a.port)]: rsa }),
    });
    expect((await pool.client(keyTarget(a)).exec(['echo', 'ok'])).stdout.toString()).toBe('ok\n');
  });

  it('verifies against a known_hosts file', async () => {
    await using pool = new SshPool({ hostKeys: new KnownHostsFile(a.knownHostsPath) });
    expect((await pool.client(keyTarget(a)).exec(['echo', 'ok'])).stdout.toString()).toBe('ok\n');
  });

  it('trustHostKeys replaces the pin over the still-trusted connection (key rotation)', async () => {
    // One machine identity ("node7") whose host keys change: a before, b after the rotation.
    const store = new MemoryHostKeyStore({ node7: a.hostPublicKeys });
    await using pool = new SshPool({ hostKeys: store });
    const before = pool.client({ ...keyTarget(a), hostKeyAlias: 'node7' });
    const after = pool.client({ ...keyTarget(b), hostKeyAlias: 'node7' });
    expect((await failure(after.exec(['true']))).code).toBe('VLAB_ERR_HOSTKEY_MISMATCH');
    await before.trustHostKeys(b.hostPublicKeys);
    expect(await store.get('node7')).toEqual(b.hostPublicKeys);
    expect((await after.exec(['echo', 'rotated'])).stdout.toString()).toBe('rotated\n');
    await expect(before.trustHostKeys(['not a key'])).rejects.toMatchObject({
      code: 'VLAB_ERR_SSH_KEY_INVALID',
    });
  });

  it('trustHostKeys pins keys for a machine that does not answer yet (a provisioner before first boot)', async () => {
    // Nothing listens on the target's port: the keys came from the provisioner, not the machine.
    const store = new MemoryHostKeyStore({ node8: a.hostPublicKeys });
    await using pool = new SshPool({ hostKeys: store });
    const offline = pool.client({ ...keyTarget(a), port: await freePort(), hostKeyAlias: 'node8' });
    await offline.trustHostKeys(b.hostPublicKeys);
    expect(await store.get('node8')).toEqual(b.hostPublicKeys);
    // And the first contact with the machine that holds them is trusted.
    const booted = pool.client({ ...keyTarget(b), hostKeyAlias: 'node8' });
    expect((await booted.exec(['echo', 'first contact'])).stdout.toString()).toBe(
      'first contact\n',
    );
  });
});

describe('authentication against a real sshd', () => {
  const password = `pw-${Math.random().toString(36).slice(2)}-Secret!`;
  let sshd: Sshd;
  let pool: SshPool;
  let agent: ChildProcess | undefined;
  beforeAll(async () => {
    sshd = await startSshd({ clientKeyTypes: ['ed25519', 'rsa'], password });
    pool = new SshPool({
      hostKeys: new MemoryHostKeyStore({ [hostKeyId(sshd.host, sshd.port)]: sshd.hostPublicKeys }),
    });
  });
  afterAll(async () => {
    await pool?.close();
    if (agent?.pid !== undefined) process.kill(agent.pid, 'SIGTERM');
    await sshd?.stop();
  });

  it('logs in with an ed25519 key and with an RSA key', async () => {
    for (const key of sshd.clientKeys) {
      const result = await pool.client(keyTarget(sshd, key.privateKey)).exec(['id', '-un']);
      expect(result.stdout.toString(), key.type).toBe(`${sshd.user}\n`);
    }
  });

  it('logs in with a password, and never prints a password in an error', async () => {
    const target = (secret: string): SshTarget => ({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      auth: { kind: 'password', password: new Secret(secret, 'test password') },
    });
    expect((await pool.client(target(password)).exec(['echo', 'ok'])).stdout.toString()).toBe(
      'ok\n',
    );
    const wrong = `${password}-wrong`;
    const error = await failure(pool.client(target(wrong)).exec(['true']));
    expect(error.code).toBe('VLAB_ERR_SSH_AUTH_FAILED');
    const everything = JSON.stringify({
      message: error.message,
      details: error.details,
      stack: error.stack,
    });
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(password);
  });

  it('logs in through an ssh-agent', async () => {
    const socket = `${sshd.dir}/agent.sock`;
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    // Polls until the agent listens (a bound for a hang, not a race: up to 30 s on a loaded machine).
    for (let i = 0; i < 600; i += 1) {
      const add = await runChecked('sh', [
        '-c',
        `SSH_AUTH_SOCK=${socket} ssh-add ${sshd.clientKey.path} 2>&1`,
      ]).catch(() => undefined);
      if (add !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const target: SshTarget = {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      auth: { kind: 'agent', socket },
    };
    expect((await pool.client(target).exec(['echo', 'agent'])).stdout.toString()).toBe('agent\n');
  });

  it('refuses an unauthorised key with VLAB_ERR_SSH_AUTH_FAILED, and a malformed key before connecting', async () => {
    const other = await startSshd({ hostKeyTypes: ['ed25519'] });
    try {
      const error = await failure(
        pool.client(keyTarget(sshd, other.clientKey.privateKey)).exec(['true']),
      );
      expect(isVlabError(error, 'VLAB_ERR_SSH_AUTH_FAILED')).toBe(true);
      expect(error.message).toContain(`${sshd.user}@127.0.0.1:${sshd.port}`);
      expect(error.message).not.toContain('PRIVATE KEY');
    } finally {
      await other.stop();
    }
    const bad = await failure(pool.client(keyTarget(sshd, 'not a key')).exec(['true']));
    expect(bad.code).toBe('VLAB_ERR_SSH_KEY_INVALID');
  });

  /** The test client key, encrypted with a passphrase, and targets that give one. */
  async function encryptedKey(): Promise<{
    passphrase: string;
    target: (passphrase: string) => SshTarget;
    pool: () => SshPool;
  }> {
    const passphrase = `pp-${Math.random().toString(36).slice(2)}`;
    const path = `${sshd.dir}/client_encrypted`;
    await writeFile(path, sshd.clientKey.privateKey, { mode: 0o600 });
    await runChecked('ssh-keygen', ['-q', '-p', '-P', '', '-N', passphrase, '-f', path]);
    const encrypted = await readFile(path, 'utf8');
    return {
      passphrase,
      target: (secret) => ({
        ...keyTarget(sshd),
        auth: { kind: 'key', privateKey: new Secret(encrypted), passphrase: new Secret(secret) },
      }),
      pool: () =>
        new SshPool({
          hostKeys: new MemoryHostKeyStore({
            [hostKeyId(sshd.host, sshd.port)]: sshd.hostPublicKeys,
          }),
        }),
    };
  }

  it('does not let a wrong passphrase spoil the right one that follows on the same pool', async () => {
    const key = await encryptedKey();
    await using shared = key.pool();
    const wrong = await failure(shared.client(key.target(`${key.passphrase}x`)).exec(['true']));
    expect(wrong.code).toBe('VLAB_ERR_SSH_KEY_INVALID');
    const right = await shared.client(key.target(key.passphrase)).exec(['echo', 'ok']);
    expect(right.stdout.toString()).toBe('ok\n');
  });

  it("does not let a wrong passphrase in on the right one's connection", async () => {
    const key = await encryptedKey();
    await using shared = key.pool();
    await shared.client(key.target(key.passphrase)).exec(['true']);
    const wrong = await failure(shared.client(key.target(`${key.passphrase}x`)).exec(['true']));
    expect(wrong.code).toBe('VLAB_ERR_SSH_KEY_INVALID');
    expect(wrong.message).not.toContain(key.passphrase);
  });

  it('reaches a host through a jump host', async () => {
    const jump = keyTarget(sshd);
    const behind: SshTarget = { ...keyTarget(sshd), via: jump };
    expect((await pool.client(behind).exec(['echo', 'hop'])).stdout.toString()).toBe('hop\n');
    expect(pool.stats(jump).connections).toBeGreaterThanOrEqual(1);
  });
});
