import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { eventually, killRemote, type Lab, remoteProcesses, startLab } from './lab.fixture.js';

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('exec against a real sshd (MaxSessions 10)', () => {
  let lab: Lab;
  let client: SshClient;
  beforeAll(async () => {
    lab = await startLab({ sshd: { maxSessions: 10 } });
    client = lab.pool.client(lab.target);
  });
  afterAll(async () => {
    await lab?.close();
    expect(remoteProcesses(lab.sshd.user, '')).toEqual([]);
  });

  it('returns stdout, stderr, the exit code and the signal', async () => {
    const result = await client.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({ code: 3, signal: undefined });
    expect(result.stdout.toString()).toBe('out\n');
    expect(result.stderr.toString()).toBe('err\n');
    const killed = await client.exec(['sh', '-c', 'kill -TERM $$']);
    expect(killed).toMatchObject({ code: 143, signal: 'TERM' });
  });

  it('feeds stdin from a string, bytes or a stream, and sends EOF when there is none', async () => {
    expect((await client.exec(['cat'], { stdin: 'from a string' })).stdout.toString()).toBe(
      'from a string',
    );
    expect(
      (await client.exec(['wc', '-c'], { stdin: new Uint8Array(70_000) })).stdout.toString().trim(),
    ).toBe('70000');
    const stream = Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s)));
    expect((await client.exec(['cat'], { stdin: stream })).stdout.toString()).toBe('abc');
    expect((await client.exec(['cat'])).stdout.length).toBe(0);
  });

  it('runs 50 concurrent execs against MaxSessions 10 without one failing', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.exec(['sh', '-c', `sleep 0.2; echo ${i}`])),
    );
    expect(results.map((r) => r.stdout.toString())).toEqual(
      Array.from({ length: 50 }, (_, i) => `${i}\n`),
    );
    expect(lab.pool.stats(lab.target).connections).toBeLessThanOrEqual(2);
  });

  it('treats refused channels as back-pressure when the pool believes in more sessions than sshd allows', async () => {
    // A pool told 10 sessions per connection against an sshd that allows 3: sshd refuses the 4th
    // channel on a connection; the pool waits and retries instead of failing the call.
    await using small = await startLab({
      sshd: { maxSessions: 3, hostKeyTypes: ['ed25519'] },
      pool: { maxSessionsPerConnection: 10, maxConnectionsPerTarget: 1 },
    });
    const c = small.pool.client(small.target);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.exec(['sh', '-c', `sleep 0.1; echo ${i}`])),
    );
    expect(results.every((r, i) => r.stdout.toString() === `${i}\n`)).toBe(true);
    expect(small.sshd.log()).toMatch(/no more sessions|session_new|open failed/i);
  });

  it('on abort ends the whole remote process group, not just the leader', async () => {
    const controller = new AbortController();
    const pending = failure(
      client.exec(['sh', '-c', 'sleep 300 & sleep 300 & wait'], { signal: controller.signal }),
    );
    expect(await eventually(() => remoteProcesses(lab.sshd.user, 'sleep 300').length === 2)).toBe(
      true,
    );
    controller.abort(new Error('operator said stop'));
    const error = await pending;
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.message).toMatch(/operator said stop/);
    expect(remoteProcesses(lab.sshd.user, 'sleep 300')).toEqual([]);
  });

  it('on timeout ends the remote process group and rejects with VLAB_ERR_OP_TIMEOUT', async () => {
    const started = Date.now();
    const error = await failure(
      client.exec(['sh', '-c', 'sleep 301 & sleep 301'], { timeoutMs: 700 }),
    );
    expect(error.code).toBe('VLAB_ERR_OP_TIMEOUT');
    expect(error.message).toMatch(/within 700 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(remoteProcesses(lab.sshd.user, 'sleep 301')).toEqual([]);
  });

  it('kills a group whose members ignore SIGTERM (SIGKILL after the grace time)', async () => {
    const error = await failure(
      client.exec(['sh', '-c', "trap '' TERM; sleep 302 & sleep 302"], {
        timeoutMs: 500,
        killGraceMs: 300,
      }),
    );
    expect(error.code).toBe('VLAB_ERR_OP_TIMEOUT');
    expect(
      await eventually(() => remoteProcesses(lab.sshd.user, 'sleep 302').length === 0, 3000),
    ).toBe(true);
  });

  it('fails with VLAB_ERR_SSH_OUTPUT_LIMIT past the output cap and ends the program', async () => {
    const error = await failure(client.exec(['yes'], { maxOutputBytes: 100_000 }));
    expect(error.code).toBe('VLAB_ERR_SSH_OUTPUT_LIMIT');
    expect(error.message).toMatch(/more than 100000 bytes to stdout/);
    expect(await eventually(() => remoteProcesses(lab.sshd.user, 'yes').length === 0)).toBe(true);
  });

  it('reconnects after a dropped connection', async () => {
    await client.exec(['true']);
    await lab.sshd.dropConnections();
    await eventually(() => lab.pool.stats(lab.target).connections === 0, 2000);
    expect((await client.exec(['echo', 'again'])).stdout.toString()).toBe('again\n');
  });

  it('never re-runs a command whose connection dropped while it ran', async () => {
    const log = `${lab.sshd.scratchDir}/runs`;
    const pending = failure(client.exec(['sh', '-c', `echo run >> ${log}; sleep 303`]));
    expect(await eventually(() => remoteProcesses(lab.sshd.user, 'sleep 303').length === 1)).toBe(
      true,
    );
    await lab.sshd.dropConnections();
    const error = await pending;
    expect(error.code).toBe('VLAB_ERR_SSH_CONNECTION_LOST');
    expect(error.message).toMatch(/may or may not have run|dropped while sh/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(readFileSync(log, 'utf8')).toBe('run\n');
    // Without a pty, sshd leaves a dropped session's program running (as on a real network
    // cut); end it here so that the test leaves nothing behind.
    killRemote(remoteProcesses(lab.sshd.user, 'sleep 303'));
    killRemote(remoteProcesses(lab.sshd.user, `sh -c echo run >> ${log}; sleep 303`));
  });

  it('reuses one connection for sequential execs and turns Nagle off', async () => {
    for (let i = 0; i < 5; i += 1) await client.exec(['true']);
    expect(lab.pool.stats(lab.target).connections).toBe(1);
  });

  it('closes idle connections and refuses work after close()', async () => {
    await using idle = await startLab({
      sshd: { hostKeyTypes: ['ed25519'] },
      pool: { idleTimeoutMs: 200 },
    });
    const c = idle.pool.client(idle.target);
    await c.exec(['true']);
    expect(idle.pool.stats(idle.target).connections).toBe(1);
    expect(await eventually(() => idle.pool.stats(idle.target).connections === 0, 3000)).toBe(true);
    await c.exec(['true']);
    const running = failure(c.exec(['sleep', '305']));
    expect(await eventually(() => remoteProcesses(idle.sshd.user, 'sleep 305').length === 1)).toBe(
      true,
    );
    await idle.pool.close();
    expect((await running).code).toBe('VLAB_ERR_SSH_POOL_CLOSED');
    const error = await failure(c.exec(['true']));
    expect(isVlabError(error, 'VLAB_ERR_SSH_POOL_CLOSED')).toBe(true);
    killRemote(remoteProcesses(idle.sshd.user, 'sleep 305')); // close() does not end commands
  });
});
