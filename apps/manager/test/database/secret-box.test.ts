import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createSecretResolver, isVlabError, Secret } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretKeyFile,
  loadSecretKey,
  open,
  SEAL_OVERHEAD,
  SecretKey,
  seal,
} from '../../src/secrets/secret-box.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vlab-manager-secret-box-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectRefused(action: () => unknown, code = 'VLAB_ERR_SECRET_UNRESOLVED'): Error {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(isVlabError(caught, code), String(caught)).toBe(true);
  return caught as Error;
}

describe('secret box', () => {
  it('creates a 0600 key file once, and loads it', async () => {
    const path = join(dir, 'secret.key');
    await createSecretKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = (await readFile(path, 'utf8')).trim();
    expect(Buffer.from(text, 'base64')).toHaveLength(32);

    const before = await readFile(path, 'utf8');
    const error = await createSecretKeyFile(path).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(before);

    const key = await loadSecretKey(path);
    expect(key.label).toBe(`file ${path}`);
    expect(String(key)).toBe('[redacted]');
    expect(JSON.stringify({ key })).not.toContain(text);
    expect(inspect(key)).not.toContain(text);
    const fromRef = await loadSecretKey({ file: path });
    const fromEnv = await loadSecretKey(
      { env: 'VLAB_TEST_KEY' },
      createSecretResolver({ env: { VLAB_TEST_KEY: text } }),
    );
    const sealed = seal(key, new Secret('pw'), 'aad');
    expect(open(fromRef, sealed, 'aad').reveal()).toBe('pw');
    expect(open(fromEnv, sealed, 'aad').reveal()).toBe('pw');
  });

  it('refuses key files that others can read, or that hold no 32-byte key', async () => {
    const loose = join(dir, 'loose.key');
    await createSecretKeyFile(loose);
    await chmod(loose, 0o644);
    const error = await loadSecretKey(loose).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_SECRET_UNRESOLVED')).toBe(true);
    expect((error as Error).message).toMatch(/chmod 600/);

    for (const [name, content] of [
      ['short.key', Buffer.alloc(16).toString('base64')],
      ['text.key', 'not base64 at all!'],
      ['empty.key', ''],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, content, { mode: 0o600 });
      const caught = await loadSecretKey(path).catch((failure: unknown) => failure);
      expect(isVlabError(caught, 'VLAB_ERR_SECRET_UNRESOLVED'), name).toBe(true);
    }
    const missing = await loadSecretKey(join(dir, 'missing.key')).catch(
      (caught: unknown) => caught,
    );
    expect(isVlabError(missing, 'VLAB_ERR_SECRET_UNRESOLVED')).toBe(true);
  });

  it('seals and opens, and refuses another aad, another key or a flipped bit', () => {
    const key = new SecretKey(Buffer.alloc(32, 7));
    const other = new SecretKey(Buffer.alloc(32, 8));
    const password = new Secret('correct horse battery staple ✓', 'password');
    const aad = 'reservation:0b5c1e9a-8f43-4c1b-9a3e-6d2f1c0e7b21:alice';
    const sealed = seal(key, password, aad);
    expect(sealed.length).toBe(SEAL_OVERHEAD + Buffer.byteLength(password.reveal()));
    expect(sealed.includes(Buffer.from(password.reveal()))).toBe(false);
    // A fresh nonce every time.
    expect(seal(key, password, aad).equals(sealed)).toBe(false);

    const opened = open(key, sealed, aad);
    expect(opened.reveal()).toBe(password.reveal());
    expect(opened.label).toBe(aad);
    expect(open(key, sealed, aad, 'password of alice').label).toBe('password of alice');

    const wrongAad = expectRefused(() => open(key, sealed, 'reservation:other:alice'));
    expect(wrongAad.message).not.toContain(password.reveal());
    expectRefused(() => open(other, sealed, aad));
    for (const index of [0, 11, 12, sealed.length - 17, sealed.length - 1]) {
      const flipped = Buffer.from(sealed);
      flipped[index] = (flipped[index] ?? 0) ^ 0x01;
      expectRefused(() => open(key, flipped, aad));
    }
    expectRefused(() => open(key, sealed.subarray(0, SEAL_OVERHEAD - 1), aad));
    expectRefused(() => open(key, Buffer.concat([sealed, Buffer.from([0])]), aad));
    expectRefused(() => new SecretKey(Buffer.alloc(31)));
  });
});
