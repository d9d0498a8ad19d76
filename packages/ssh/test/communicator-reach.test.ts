import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SshClient } from '../src/client.js';
import { SshCommunicator } from '../src/ssh-communicator.js';

// The pauses of waitUntilReachable, on fake timers: a client whose every attempt fails at once
// records when it was tried; the gaps are the pauses.
function refusingClient(): { client: SshClient; tried: number[] } {
  const tried: number[] = [];
  const client = {
    computer: 'pc1',
    target: { host: '192.0.2.1', user: 'root', shell: 'posix' },
    exec: async () => {
      tried.push(Date.now());
      throw new Error('connect ECONNREFUSED 192.0.2.1:22');
    },
  } as unknown as SshClient;
  return { client, tried };
}

async function gapsOver(communicator: SshCommunicator, tried: number[], ms: number) {
  const wait = communicator.waitUntilReachable({ timeoutMs: ms });
  const outcome = wait.then(
    () => 'answered',
    (error: unknown) => (error as { code?: string }).code,
  );
  await vi.advanceTimersByTimeAsync(ms + 1);
  expect(await outcome).toBe('VLAB_ERR_OP_TIMEOUT');
  return tried.slice(1).map((at, i) => at - (tried[i] as number));
}

describe('SshCommunicator.waitUntilReachable', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('backs off from 500 ms to at most 2 s by default', async () => {
    vi.useFakeTimers();
    const { client, tried } = refusingClient();
    const gaps = await gapsOver(new SshCommunicator(client), tried, 20_000);
    expect(gaps.slice(0, 5)).toEqual([500, 1000, 2000, 2000, 2000]);
    expect(Math.max(...gaps)).toBe(2000);
  });

  it('pauses at most reachMaxDelayMs between attempts', async () => {
    vi.useFakeTimers();
    const { client, tried } = refusingClient();
    const communicator = new SshCommunicator(client, { reachMaxDelayMs: 8000 });
    const gaps = await gapsOver(communicator, tried, 40_000);
    expect(gaps.slice(0, 6)).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });
});
