import type { SshClient } from '@vlab/ssh';
import { describe, expectTypeOf, it } from 'vitest';
import type { SshStoreClient } from '../src/index.js';

describe('SshStoreClient', () => {
  it('is satisfied by the SshClient of @vlab/ssh', () => {
    expectTypeOf<SshClient>().toExtend<SshStoreClient>();
  });
});
