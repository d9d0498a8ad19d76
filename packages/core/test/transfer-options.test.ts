import { describe, expect, it } from 'vitest';
import { DEFAULT_TRANSFER_IDLE_TIMEOUT_MS, transferIdleTimeoutMs } from '../src/communicator.js';
import { isVlabError } from '../src/errors/vlab-error.js';
import { createMemoryLab } from '../src/testing/memory/memory-lab.js';

describe('transferIdleTimeoutMs', () => {
  it('reads idleTimeoutMs, else the deprecated timeoutMs, else the default', () => {
    expect(transferIdleTimeoutMs()).toBe(DEFAULT_TRANSFER_IDLE_TIMEOUT_MS);
    expect(DEFAULT_TRANSFER_IDLE_TIMEOUT_MS).toBe(60_000);
    expect(transferIdleTimeoutMs({ timeoutMs: 5000 })).toBe(5000);
    expect(transferIdleTimeoutMs({ idleTimeoutMs: 7000 })).toBe(7000);
    expect(transferIdleTimeoutMs({ idleTimeoutMs: 7000, timeoutMs: 5000 })).toBe(7000);
  });
});

describe('the memory communicator (contract 1.1)', () => {
  it('refuses a relative path with VLAB_ERR_ARGUMENT_INVALID before connecting', async () => {
    const lab = createMemoryLab();
    try {
      const error = await lab
        .communicator('node1')
        .put('etc/passwd', 'x', { sudo: true, owner: 'root' })
        .catch((e: unknown) => e);
      expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
    } finally {
      lab.dispose();
    }
  });

  it('times a put out after its idle time under either name', async () => {
    const lab = createMemoryLab();
    try {
      const harness = lab.harness('node1');
      await harness.reset();
      const resume = await harness.stall();
      try {
        for (const options of [{ idleTimeoutMs: 50 }, { timeoutMs: 50 }]) {
          const error = await lab
            .communicator('node1')
            .put('/tmp/x', 'x', options)
            .catch((e: unknown) => e);
          expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
        }
      } finally {
        await resume();
      }
    } finally {
      lab.dispose();
    }
  });
});
