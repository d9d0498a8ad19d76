import { describe, expect, it } from 'vitest';
import { coreError } from '../src/errors/core-errors.js';
import { Secret } from '../src/secret.js';
import { ConformanceFailure, makeCheck, resolveOptions } from '../src/testing/conformance-check.js';
import { createMemoryLab } from '../src/testing/memory/memory-lab.js';
import { findSecret, redactSecrets, watchForSecrets } from '../src/testing/secret-search.js';

const password = new Secret('hunter2-xyz', 'password of alice');

describe('findSecret', () => {
  it("finds a secret in an error's message, details, hint and whole cause chain", () => {
    const plain = coreError('VLAB_ERR_CONFIG_INVALID', 'bad user');
    expect(findSecret(plain, [password])).toBeUndefined();
    const inDetails = coreError('VLAB_ERR_CONFIG_INVALID', 'bad user', {
      details: { users: [{ login: 'alice', password: 'hunter2-xyz' }] },
    });
    expect(findSecret(inDetails, [password])).toBe(password);
    const deep = coreError('VLAB_ERR_CONFIG_INVALID', 'bad user', {
      cause: new Error('outer', { cause: new Error('alice:hunter2-xyz') }),
    });
    expect(findSecret(deep, [password])).toBe(password);
    expect(findSecret(Buffer.from('x hunter2-xyz'), [password])).toBe(password);
  });

  it('survives cycles and never reports an empty secret', () => {
    const cyclic: Record<string, unknown> = { a: 'x' };
    cyclic['self'] = cyclic;
    expect(findSecret(cyclic, [password, new Secret('')])).toBeUndefined();
  });
});

describe('the kit never prints a secret', () => {
  it('redacts every secret in a failure message, naming it by label', () => {
    expect(redactSecrets('got hunter2-xyz twice: hunter2-xyz', [password])).toBe(
      'got [secret: password of alice] twice: [secret: password of alice]',
    );
  });

  it('a failing check says which secret leaked, not its value', async () => {
    const lab = createMemoryLab();
    try {
      const harness = lab.harness('node1');
      const [alice] = harness.users();
      const secret = alice?.password?.reveal() ?? '';
      const check = makeCheck('os/x', 'x', harness, resolveOptions(), async (fail) =>
        fail(`the module wrote ${secret}`),
      );
      const error = await check.run().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConformanceFailure);
      expect((error as Error).message).toBe('[os/x] the module wrote [secret: password of alice]');
    } finally {
      lab.dispose();
    }
  });

  it('fails a check whose operation threw an error carrying a secret, even when expected', async () => {
    const lab = createMemoryLab();
    try {
      const harness = lab.harness('node1');
      const [alice] = harness.users();
      const leaky = watchForSecrets(
        {
          async op(): Promise<void> {
            throw coreError('VLAB_ERR_CONFIG_INVALID', 'no', {
              details: { password: alice?.password?.reveal() },
            });
          },
        },
        harness,
        () => harness.secrets(),
      );
      const check = makeCheck('os/y', 'y', harness, resolveOptions(), async () => {
        await leaky.op().catch(() => undefined); // the check expected the refusal
      });
      await expect(check.run()).rejects.toThrow(
        '[os/y] an error op threw contains the value of the secret "password of alice"',
      );
    } finally {
      lab.dispose();
    }
  });
});
