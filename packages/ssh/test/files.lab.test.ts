import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ProgressEvent } from '@vlab/core';
import { freePort, startSshd } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { SshCommunicator } from '../src/ssh-communicator.js';
import { waitForSsh } from '../src/wait-for-ssh.js';
import { type Lab, startLab } from './lab.fixture.js';

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('files and streams over a real sshd', () => {
  let lab: Lab;
  let client: SshClient;
  let dir: string;
  /** Gets ssh2's protocol trace while a test listens. */
  let listen: ((message: string) => void) | undefined;
  beforeAll(async () => {
    lab = await startLab({
      sshd: { hostKeyTypes: ['ed25519'] },
      pool: { debug: (message) => listen?.(message) },
    });
    client = lab.pool.client(lab.target);
    dir = lab.sshd.scratchDir; // the sshd is local: its files can be checked directly
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('writes and reads strings, buffers and streams, atomically, with SHA-256 and mode', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 7 + (i >> 10)) & 0xff;
    const summary = await client.writeFile(
      `${dir}/big.bin`,
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
    );
    expect(summary).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(sha256(readFileSync(`${dir}/big.bin`))).toBe(sha256(data));
    expect((await client.readFile(`${dir}/big.bin`)).equals(data)).toBe(true);

    await client.writeFile(`${dir}/key`, 'secret-ish', { mode: 0o600 });
    expect(statSync(`${dir}/key`).mode & 0o777).toBe(0o600);
    expect((await client.readFile(`${dir}/key`)).toString()).toBe('secret-ish');
    await client.writeFile(`${dir}/key`, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(`${dir}/key`)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir).filter((name) => name.includes('.vlab-'))).toEqual([]);
  });

  it('streams a remote file with back-pressure, hashing and progress', async () => {
    const events: ProgressEvent[] = [];
    const stream = client.readStream(`${dir}/big.bin`, {
      onProgress: (event) => events.push(event),
    });
    let bytes = 0;
    for await (const chunk of stream) {
      bytes += (chunk as Buffer).length;
      await new Promise((resolve) => setImmediate(resolve)); // a slow consumer
    }
    const summary = await stream.summary;
    expect(summary.bytes).toBe(bytes);
    expect(summary.sha256).toBe(sha256(readFileSync(`${dir}/big.bin`)));
    expect(events.at(-1)).toMatchObject({ done: bytes, unit: 'bytes', computer: 'lab-node' });
  });

  it('reports progress with rate and ETA while writing', async () => {
    const events: ProgressEvent[] = [];
    const total = 8 * 1024 * 1024;
    async function* slow(): AsyncGenerator<Buffer> {
      for (let sent = 0; sent < total; sent += 256 * 1024) {
        yield Buffer.alloc(256 * 1024, 1);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await client.writeFile(`${dir}/progress.bin`, slow(), {
      total,
      onProgress: (event) => events.push(event),
    });
    expect(events.length).toBeGreaterThan(2);
    expect(events.some((e) => (e.ratePerSecond ?? 0) > 0 && e.etaSeconds !== undefined)).toBe(true);
    expect(events.at(-1)).toMatchObject({ done: total, total });
  });

  it('stats, creates directories (mkdir -p) and removes files', async () => {
    expect(await client.stat(`${dir}/nope`)).toBeUndefined();
    await client.mkdirp(`${dir}/a/b/c`);
    await client.mkdirp(`${dir}/a/b/c`);
    const stats = await client.stat(`${dir}/a/b/c`);
    expect(stats).toMatchObject({ isDirectory: true, isFile: false });
    await client.writeFile(`${dir}/a/b/c/f`, 'x');
    expect(await client.stat(`${dir}/a/b/c/f`)).toMatchObject({ isFile: true, size: 1 });
    await expect(client.mkdirp(`${dir}/a/b/c/f/g`)).rejects.toMatchObject({
      code: 'VLAB_ERR_SSH_SFTP_FAILED',
    });
    await client.remove(`${dir}/a/b/c/f`);
    await client.remove(`${dir}/a/b/c/f`);
    expect(existsSync(`${dir}/a/b/c/f`)).toBe(false);
    const denied = await failure(client.writeFile('/root/forbidden', 'x'));
    expect(denied.code).toBe('VLAB_ERR_SSH_SFTP_FAILED');
    expect(denied.message).toMatch(/\/root\/forbidden.*127\.0\.0\.1/);
  });

  /** Every file operation on `path`: what each did ('resolved' or its error code). */
  async function everyFileOperation(path: string): Promise<Record<string, string | undefined>> {
    const communicator = new SshCommunicator(client);
    const drain = async (stream: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of stream);
    };
    const operations: Record<string, () => Promise<unknown>> = {
      writeFile: () => client.writeFile(path, 'x'),
      writeFileNotAtomic: () => client.writeFile(path, 'x', { atomic: false }),
      readFile: () => client.readFile(path),
      readStream: () => drain(client.readStream(path)),
      stat: () => client.stat(path),
      mkdirp: () => client.mkdirp(path),
      remove: () => client.remove(path),
      put: () => communicator.put(path, 'x'),
      get: () => communicator.get(path),
      getStream: () => drain(communicator.getStream(path)),
    };
    const outcome: Record<string, string | undefined> = {};
    for (const [name, operation] of Object.entries(operations)) {
      outcome[name] = await operation().then(
        () => 'resolved',
        (error: { code?: string }) => error.code,
      );
    }
    return outcome;
  }

  it('refuses a path with an unpaired surrogate (no UTF-8 form) before sending, in every file operation', async () => {
    let sftpSessions = 0;
    listen = (message) => {
      if (message.includes('subsystem: sftp')) sftpSessions += 1;
    };
    try {
      for (const path of [`${dir}/lone-\uD800`, `${dir}/lone-\uDFFF`, `${dir}/\uDC00/x`]) {
        const outcome = await everyFileOperation(path);
        expect(new Set(Object.values(outcome)), JSON.stringify(outcome)).toEqual(
          new Set(['VLAB_ERR_ARGUMENT_INVALID']),
        );
      }
    } finally {
      listen = undefined;
    }
    expect(sftpSessions).toBe(0);
    expect(readdirSync(dir).filter((name) => /lone-|\uFFFD/.test(name))).toEqual([]);
    const error = await failure(client.stat(`${dir}/lone-\uD800`));
    expect(error.message).toMatch(
      /the path to stat on vlab-test@127\.0\.0\.1:\d+ holds an unpaired UTF-16 surrogate/,
    );
    expect(error).toMatchObject({ computer: 'lab-node' });
  });

  it('refuses a path with a NUL byte before sending, in every file operation', async () => {
    let sftpSessions = 0;
    listen = (message) => {
      if (message.includes('subsystem: sftp')) sftpSessions += 1;
    };
    try {
      const outcome = await everyFileOperation(`${dir}/nul\0byte`);
      expect(new Set(Object.values(outcome)), JSON.stringify(outcome)).toEqual(
        new Set(['VLAB_ERR_ARGUMENT_INVALID']),
      );
    } finally {
      listen = undefined;
    }
    expect(sftpSessions).toBe(0);
    const error = await failure(client.remove(`${dir}/nul\0byte`));
    expect(error.message).toMatch(/NUL byte/);
  });

  it('streams into and out of remote programs, with hashes', async () => {
    const data = Buffer.from('line\n'.repeat(100_000));
    const into = await client.streamTo(
      ['sh', '-c', 'cat >"$1"', 'into', `${dir}/piped`],
      Readable.from([data]),
    );
    expect(into).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(sha256(readFileSync(`${dir}/piped`))).toBe(sha256(data));
    const out = client.streamFrom(['cat', `${dir}/piped`]);
    const chunks: Buffer[] = [];
    for await (const chunk of out) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect((await out.summary).sha256).toBe(sha256(data));
    await expect(
      client.streamTo(['sh', '-c', 'cat >/dev/null; echo broken >&2; exit 4'], 'x'),
    ).rejects.toMatchObject({
      code: 'VLAB_ERR_COMMAND_FAILED',
    });
  });

  it('implements the Communicator contract', async () => {
    const communicator = new SshCommunicator(client);
    expect(communicator).toMatchObject({ computer: 'lab-node', shell: 'posix' });
    const run = await communicator.run(['sh', '-c', 'cat; exit 2'], { stdin: 'in' });
    expect(run).toMatchObject({ code: 2 });
    expect(run.stdout.toString()).toBe('in');
    await expect(communicator.runChecked(['false'])).rejects.toMatchObject({
      code: 'VLAB_ERR_COMMAND_FAILED',
    });
    const progress: number[] = [];
    await communicator.put(`${dir}/c.txt`, 'contract', {
      onProgress: (done) => progress.push(done),
    });
    expect(progress.at(-1)).toBe(8);
    expect((await communicator.get(`${dir}/c.txt`)).toString()).toBe('contract');
    const parts: Uint8Array[] = [];
    for await (const part of communicator.getStream(`${dir}/c.txt`)) parts.push(part);
    expect(Buffer.concat(parts).toString()).toBe('contract');
    await expect(communicator.get(`${dir}/missing`)).rejects.toMatchObject({
      code: 'VLAB_ERR_COMMAND_FAILED',
    });
    await communicator.waitUntilReachable({ timeoutMs: 10_000 });
    await communicator.trustHostKeys(lab.sshd.hostPublicKeys);
  });

  it("times transfers out on idleness, not on a slow consumer (the contract's timeoutMs)", async () => {
    const communicator = new SshCommunicator(client);
    async function* stalls(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first chunk');
      await new Promise(() => undefined); // never another
    }
    // Whenever the idle time runs out — before the session opened or while the second chunk is
    // awaited — the outcome is the same. The bound tells "times out" from "waits forever".
    const started = Date.now();
    const error = await failure(communicator.put(`${dir}/stalled`, stalls(), { timeoutMs: 500 }));
    expect(error.code).toBe('VLAB_ERR_OP_TIMEOUT');
    expect(error.message).toMatch(/made no progress for 500 ms/);
    expect(Date.now() - started).toBeLessThan(500 + 10_000);
    expect(existsSync(`${dir}/stalled`)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.includes('.vlab-'))).toEqual([]);
    // A slow consumer holds the second chunk longer than the idle time. Were the idle timer
    // running meanwhile, it would have been armed before the consumer's and be shorter, so it
    // would fire first: the order of two local timers, not a race with I/O. The idle time is
    // only how long one 256 KiB read may take on a loaded machine.
    const idleMs = 2000;
    let chunks = 0;
    for await (const _ of communicator.getStream(`${dir}/big.bin`, { timeoutMs: idleMs })) {
      chunks += 1;
      if (chunks === 2) await new Promise((resolve) => setTimeout(resolve, idleMs + 500));
    }
    expect(chunks).toBeGreaterThan(2);
  });

  it('leaves no partial file under the final name when the server dies mid-transfer', async () => {
    await using crash = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const c = crash.pool.client(crash.target);
    const target = `${crash.sshd.scratchDir}/image.raw`;
    const existing = `${crash.sshd.scratchDir}/kept.raw`;
    await c.writeFile(existing, 'old content');
    let sent = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        sent += 1024 * 1024;
        yield Buffer.alloc(1024 * 1024, 7);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const writes = [c.writeFile(target, endless()), c.writeFile(existing, endless())].map(failure);
    while (sent < 16 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 20));
    await crash.sshd.kill();
    const errors = await Promise.all(writes);
    for (const error of errors) {
      expect(error.code).toBe('VLAB_ERR_CONNECTION_LOST');
      expect(error.message).toMatch(/dropped during write/);
    }
    expect(existsSync(target)).toBe(false);
    expect(readFileSync(existing, 'utf8')).toBe('old content');
  });
});

describe('waitForSsh', () => {
  it('times out with the last error when nothing answers', async () => {
    const port = await freePort();
    await using lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const client = lab.pool.client({ ...lab.target, port });
    // A refused connection takes milliseconds, so attempts have failed by the deadline; the
    // bound tells "gives up at its deadline" from "waits the default 600 s".
    const started = Date.now();
    const error = await failure(
      waitForSsh(client, { timeoutMs: 3000, initialDelayMs: 100, maxDelayMs: 400 }),
    );
    expect(error.code).toBe('VLAB_ERR_OP_TIMEOUT');
    expect(error.message).toMatch(/did not answer within 3000 ms; last error: .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3000 + 10_000);
  });

  it('resolves once a booting machine answers', async () => {
    await using lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const client = lab.pool.client(lab.target);
    expect(await waitForSsh(client, { timeoutMs: 10_000 })).toBe(1);
    // Connections dropped under the pool (a reboot): the probe succeeds on a fresh connection.
    await lab.sshd.dropConnections();
    expect(await waitForSsh(client, { timeoutMs: 10_000, initialDelayMs: 50 })).toBeGreaterThan(0);
  });

  it('stops at once on a changed host key', async () => {
    await using lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const other = await startSshd({ hostKeyTypes: ['ed25519'] });
    await other.stop();
    await lab.store.replace(`[127.0.0.1]:${lab.sshd.port}`, other.hostPublicKeys);
    // At once: well before the deadline (a retry loop would run into the test's timeout).
    const started = Date.now();
    const error = await failure(waitForSsh(lab.pool.client(lab.target), { timeoutMs: 600_000 }));
    expect(error.code).toBe('VLAB_ERR_HOSTKEY_MISMATCH');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
