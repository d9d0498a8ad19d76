import { isVlabError } from '@vlab/core';
import { descendants, signalAll } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { SshCommunicator } from '../src/ssh-communicator.js';
import { eventually, type Lab, remoteProcesses, startLab, uniqueTag } from './lab.fixture.js';

// An aborted call waits 1 s (UNANSWERED_MS) for a sign of life from a machine that does not
// answer, then settles. The bounds below add room for a loaded machine; what they tell apart is
// "settles" from "waits until keepalive drops the connection" (15 s × 3) or forever. The abort
// case is also held to the conformance kit's 2000 ms bound, which OS modules on SSH must meet.
const BOUND_MS = 1000 + 5000;
const KIT_ABORT_BOUND_MS = 2000;

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
      expect(performance.now() - began).toBeLessThan(500 + BOUND_MS);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
  });

  it('times out file operations on a frozen machine within their timeout and a bound', async () => {
    await client.stat(lab.sshd.scratchDir); // an SFTP session works before the freeze
    const frozen = freeze();
    try {
      for (const operation of [
        () => client.stat(`${lab.sshd.scratchDir}/x`, { timeoutMs: 500 }),
        () => client.readFile(`${lab.sshd.scratchDir}/x`, { timeoutMs: 500 }),
        () => client.writeFile(`${lab.sshd.scratchDir}/x`, 'x', { timeoutMs: 500 }),
      ]) {
        const began = performance.now();
        const error = await operation().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT'), String(error)).toBe(true);
        expect(performance.now() - began).toBeLessThan(500 + BOUND_MS);
      }
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
  });

  it('times get and getStream out after idleTimeoutMs, else the deprecated timeoutMs, on a frozen machine', async () => {
    const communicator = new SshCommunicator(client);
    const path = `${lab.sshd.scratchDir}/frozen-get`;
    await client.writeFile(path, 'x'); // SFTP works before the freeze
    const drain = async (stream: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of stream);
    };
    const frozen = freeze();
    try {
      // A 10-minute idle time would run into the test's timeout: the 500 ms in the error counted.
      // get reads through getStream, so getStream needs only the case where both are given.
      const reads: [string, () => Promise<unknown>][] = [
        ['get idleTimeoutMs', () => communicator.get(path, { idleTimeoutMs: 500 })],
        ['get timeoutMs', () => communicator.get(path, { timeoutMs: 500 })],
        ['get both', () => communicator.get(path, { idleTimeoutMs: 500, timeoutMs: 600_000 })],
        [
          'getStream both',
          () => drain(communicator.getStream(path, { idleTimeoutMs: 500, timeoutMs: 600_000 })),
        ],
      ];
      for (const [name, read] of reads) {
        const began = performance.now();
        const error = await read().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT'), `${name}: ${error}`).toBe(true);
        expect((error as { details?: unknown }).details, name).toMatchObject({
          timeoutMs: 500,
          idle: true,
        });
        expect(performance.now() - began).toBeLessThan(500 + BOUND_MS);
      }
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
  });

  it('settles an aborted running command within the bound though its kill cannot reach the machine', async () => {
    const seconds = `30.${uniqueTag()}`;
    const stop = new AbortController();
    const running = client.exec(['sleep', seconds], { signal: stop.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The known point: the command runs.
    expect(
      await eventually(
        () => remoteProcesses(lab.sshd.user, `sleep ${seconds}`).length === 1,
        10_000,
      ),
    ).toBe(true);
    const frozen = freeze();
    try {
      const abortedAt = performance.now();
      stop.abort(new Error('operator'));
      const error = await running;
      expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
      expect(performance.now() - abortedAt).toBeLessThan(KIT_ABORT_BOUND_MS);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
    // Once the machine answers again, the pool still works, and the kill that went on in the
    // background ends the command.
    expect((await client.exec(['echo', 'back'], { timeoutMs: 10_000 })).stdout.toString()).toBe(
      'back\n',
    );
    expect(
      await eventually(
        () => remoteProcesses(lab.sshd.user, `sleep ${seconds}`).length === 0,
        20_000,
      ),
    ).toBe(true);
  });
});
