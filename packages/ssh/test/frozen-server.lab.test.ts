import { isVlabError } from '@vlab/core';
import { descendants, signalAll } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { type Lab, startLab } from './lab.fixture.js';

// A machine that stops answering (hung kernel, frozen cgroup) must not hold a call past its
// timeout or its abort: SIGSTOP the real sshd and everything below it, then SIGCONT.
describe('exec against a frozen sshd', () => {
  let lab: Lab;
  let client: SshClient;
  const freeze = (): number[] => {
    const pids = [lab.sshd.pid, ...descendants(lab.sshd.pid)];
    signalAll(pids, 'SIGSTOP');
    return pids;
  };
  beforeAll(async () => {
    lab = await startLab({ sshd: { maxSessions: 10 } });
    client = lab.pool.client(lab.target);
    await client.exec(['true']); // the connection is up before the freeze
  });
  afterAll(async () => {
    signalAll([lab.sshd.pid, ...descendants(lab.sshd.pid)], 'SIGCONT');
    await lab?.close();
  });

  it('times out a call that cannot even open its channel, within its timeout and a bound', async () => {
    const frozen = freeze();
    try {
      const began = performance.now();
      const error = await client.exec(['true'], { timeoutMs: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
      expect(performance.now() - began).toBeLessThan(500 + 2000);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
  });

  it('settles an aborted running command within the bound though its kill cannot reach the machine', async () => {
    const stop = new AbortController();
    const running = client.exec(['sleep', '30'], { signal: stop.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frozen = freeze();
    try {
      const abortedAt = performance.now();
      stop.abort(new Error('operator'));
      const error = await running;
      expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
      expect(performance.now() - abortedAt).toBeLessThan(2000);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
    // Once the machine answers again, the pool still works.
    expect((await client.exec(['echo', 'back'], { timeoutMs: 10_000 })).stdout.toString()).toBe(
      'back\n',
    );
  });
});
