import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SshClient } from '../src/client.js';
import { SshCommunicator } from '../src/ssh-communicator.js';

// The pauses of waitUntilReachable, on fake timers: a client whose every attempt fails at once
// records when it was tried; the gaps are the pauses.
// An attempt may fail only after `failAfterMs` (an address that answers no ARP yet: about 3 s).
function refusingClient(failAfterMs = 0): { client: SshClient; tried: number[] } {
  const tried: number[] = [];
  const client = {
    computer: 'pc1',
    target: { host: '192.0.2.1', user: 'root', shell: 'posix' },
    exec: async (_argv: unknown, options: { signal: AbortSignal }) => {
      tried.push(Date.now());
      if (failAfterMs > 0)
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, failAfterMs);
          options.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(options.signal.reason);
          });
        });
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

  it('counts a pause from the start of the attempt before it', async () => {
    vi.useFakeTimers();
    // Attempts failing after 3 s have waited longer than any pause: the next one starts at once.
    const slow = refusingClient(3000);
    const slowGaps = await gapsOver(new SshCommunicator(slow.client), slow.tried, 20_000);
    expect(slowGaps.slice(0, 5)).toEqual([3000, 3000, 3000, 3000, 3000]);
    // Failing after 700 ms: the rest of each pause, then the next attempt.
    const some = refusingClient(700);
    const someGaps = await gapsOver(new SshCommunicator(some.client), some.tried, 20_000);
    expect(someGaps.slice(0, 4)).toEqual([700, 1000, 2000, 2000]);
  });
});
