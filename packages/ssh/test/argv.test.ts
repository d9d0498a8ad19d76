import { type PutOptions, Secret } from '@vlab/core';
import { freePort } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { MemoryHostKeyStore } from '../src/host-key.js';
import { SshCommunicator } from '../src/ssh-communicator.js';
import { SshPool } from '../src/ssh-pool.js';

// Nothing listens on the target: a call that got as far as connecting fails with
// VLAB_ERR_COMPUTER_UNREACHABLE, so VLAB_ERR_ARGUMENT_INVALID proves nothing was sent.
describe('arguments refused before anything is sent', () => {
  let pool: SshPool;
  let client: SshClient;
  beforeAll(async () => {
    pool = new SshPool({ hostKeys: new MemoryHostKeyStore() });
    client = pool.client({
      host: '127.0.0.1',
      port: await freePort(),
      user: 'nobody',
      auth: { kind: 'password', password: new Secret('unused') },
      computer: 'node7',
    });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('refuses a program name that starts with "-" (the wrapper\'s exec would read it as options)', async () => {
    for (const argv of [['-c', 'id', '-u'], ['-'], ['--', 'id'], ['-l', 'sh']]) {
      const error = await client.exec(argv).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message: string; computer?: string },
      );
      expect(error, JSON.stringify(argv)).toMatchObject({
        code: 'VLAB_ERR_ARGUMENT_INVALID',
        computer: 'node7',
      });
      expect(error?.message).toMatch(/program name .*starts with "-"/);
    }
    await expect(client.spawn(['-c', 'id'])).rejects.toMatchObject({
      code: 'VLAB_ERR_ARGUMENT_INVALID',
    });
    await expect(client.streamTo(['-c', 'id'], 'x')).rejects.toMatchObject({
      code: 'VLAB_ERR_ARGUMENT_INVALID',
    });
  });

  it('says which element is not a string, and what it is', async () => {
    const argv = ['echo', 'a', 42] as unknown as string[];
    const error = await client.exec(argv).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string; details?: unknown },
    );
    expect(error).toMatchObject({ code: 'VLAB_ERR_ARGUMENT_INVALID' });
    expect(error?.message).toMatch(/argument 2 is a number, not a string/);
    expect(error?.details).toMatchObject({ index: 2, type: 'number' });
    const nothing = ['ls', undefined] as unknown as string[];
    await expect(client.exec(nothing)).rejects.toThrow(/argument 1 is undefined, not a string/);
    const notArray = 'ls -l' as unknown as string[];
    await expect(client.exec(notArray)).rejects.toThrow(
      /the argument vector is a string, not an array/,
    );
    const none = null as unknown as string[];
    await expect(client.exec(none)).rejects.toMatchObject({
      code: 'VLAB_ERR_ARGUMENT_INVALID',
      message: expect.stringMatching(/the argument vector is null, not an array/),
    });
    const stream = client.streamFrom(none);
    await expect(stream.toArray()).rejects.toMatchObject({
      code: 'VLAB_ERR_ARGUMENT_INVALID',
    });
  });
  it('refuses put arguments that cannot be carried out as asked: path, mode, owner, group', async () => {
    const communicator = new SshCommunicator(client);
    const refused: [string, PutOptions, RegExp][] = [
      ['etc/motd', {}, /the path to put "etc\/motd" is not absolute/],
      ['/etc/', { sudo: true }, /names a directory, not a file/],
      ['/etc/..', {}, /names a directory, not a file/],
      ['/etc/a\0b', { sudo: true }, /NUL byte/],
      ['/etc/motd', { mode: 0o10000 }, /the mode 4096 is not a file mode/],
      ['/etc/motd', { mode: -1 }, /not a file mode/],
      ['/etc/motd', { mode: 1.5 }, /not a file mode/],
      ['/etc/motd', { owner: 'root; id' }, /the owner "root; id" is neither a login name/],
      ['/etc/motd', { owner: '-f' }, /the owner "-f"/],
      ['/etc/motd', { owner: '' }, /the owner "" is neither/],
      ['/etc/motd', { owner: 'a:b' }, /the owner "a:b"/],
      ['/etc/motd', { owner: 'ok', group: 'x y' }, /the group "x y"/],
      ['/etc/motd', { group: '4294967295' }, /beyond the largest id/],
      ['/etc/motd', { owner: 0 as unknown as string }, /the owner is number, not a string/],
    ];
    for (const [path, options, message] of refused) {
      const error = await communicator.put(path, 'x', options).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message: string; computer?: string },
      );
      expect(error, `${JSON.stringify(path)} ${JSON.stringify(options)}`).toMatchObject({
        code: 'VLAB_ERR_ARGUMENT_INVALID',
        computer: 'node7',
      });
      expect(error?.message).toMatch(message);
    }
    // Names like logins and numeric ids pass the check and get as far as connecting.
    for (const options of [
      { owner: 'www-data', group: 'adm' },
      { owner: '0', group: '65534' },
    ]) {
      await expect(communicator.put('/etc/motd', 'x', options)).rejects.toMatchObject({
        code: 'VLAB_ERR_COMPUTER_UNREACHABLE',
      });
    }
  });
});
