import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { open as openFile, stat, unlink } from 'node:fs/promises';
import {
  coreError,
  createSecretResolver,
  Secret,
  type SecretRef,
  type SecretResolver,
} from '@vlab/core';

/** Bytes of a secret key (AES-256). @public */
export const SECRET_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed value has besides its plaintext: the nonce before it, the tag after it. @public */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

const keyBytes = new WeakMap<SecretKey, Buffer>();

/**
 * The key that seals the manager's stored secrets (a reservation's generated passwords). Its
 * bytes never leave this module: it prints as `SecretKey([redacted])`, and only {@link seal} and
 * {@link open} use it.
 * @public
 */
export class SecretKey {
  /** Where the key came from, safe to print ("file /etc/vlab/secret.key"). */
  readonly label: string;

  /**
   * Wraps 32 key bytes (copied). Prefer {@link loadSecretKey}.
   * @throws `VLAB_ERR_SECRET_UNRESOLVED` when `bytes` is not 32 bytes long.
   */
  constructor(bytes: Uint8Array, label = 'secret key') {
    if (bytes.length !== SECRET_KEY_BYTES) {
      throw coreError(
        'VLAB_ERR_SECRET_UNRESOLVED',
        `the ${label} is ${bytes.length} bytes long, not ${SECRET_KEY_BYTES}`,
        { hint: 'Make a new key with createSecretKeyFile (32 random bytes, base64).' },
      );
    }
    this.label = label;
    keyBytes.set(this, Buffer.from(bytes));
  }

  /** Always `[redacted]`. */
  toString(): string {
    return '[redacted]';
  }

  /** Always `[redacted]`. */
  toJSON(): string {
    return '[redacted]';
  }

  /** What `util.inspect` prints: the label, never the bytes. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretKey(${this.label}) [redacted]`;
  }
}

function bytesOf(key: SecretKey): Buffer {
  const bytes = keyBytes.get(key);
  if (bytes === undefined) {
    throw coreError('VLAB_ERR_SECRET_UNRESOLVED', 'the secret key was not made by SecretKey', {
      hint: 'Load the key with loadSecretKey.',
    });
  }
  return bytes;
}

/**
 * Writes a new key file: 32 random bytes, base64, one line, mode 0600, created exclusively (an
 * existing file is never overwritten: the secrets sealed with it would be lost).
 * @throws `VLAB_ERR_CONFIG_INVALID` when the file exists or cannot be written.
 * @public
 */
export async function createSecretKeyFile(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof openFile>>;
  try {
    handle = await openFile(path, 'wx', 0o600);
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      exists
        ? `the secret key file ${path} already exists and was left as it is`
        : `the secret key file ${path} could not be created`,
      {
        cause: error,
        hint: exists
          ? 'Use the existing key (secrets sealed with it need it), or move it away first if you really mean to replace it.'
          : 'Check that the directory exists and is writable by the user the manager runs as.',
      },
    );
  }
  try {
    await handle.writeFile(`${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`, 'utf8');
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw coreError('VLAB_ERR_CONFIG_INVALID', `the secret key file ${path} could not be written`, {
      cause: error,
      hint: 'Check the free space of its file system and try again.',
    });
  }
}

/**
 * Loads a key: from a path, or from a secret reference (`{ file }` or `{ env }`) through the
 * resolver. The value is the base64 of 32 bytes. A key file readable by others than its owner is
 * refused, as ssh refuses such a private key.
 * @param resolver - Reads references. Default: `createSecretResolver()` (environment, files).
 * @throws `VLAB_ERR_SECRET_UNRESOLVED` naming the file or variable (never the value).
 * @public
 */
export async function loadSecretKey(
  source: string | SecretRef,
  resolver: SecretResolver = createSecretResolver(),
): Promise<SecretKey> {
  const ref: SecretRef = typeof source === 'string' ? { file: source } : source;
  if ('file' in ref) {
    let mode: number | undefined;
    try {
      mode = (await stat(ref.file)).mode & 0o777;
    } catch {
      // The resolver reports a missing or unreadable file.
    }
    if (mode !== undefined && (mode & 0o077) !== 0) {
      throw coreError(
        'VLAB_ERR_SECRET_UNRESOLVED',
        `the secret key file ${ref.file} is readable by others than its owner (mode ${mode.toString(8)})`,
        { hint: `Run chmod 600 ${ref.file}, then start again.` },
      );
    }
  }
  const label = 'file' in ref ? `file ${ref.file}` : `env ${ref.env}`;
  const text = (await resolver.resolve(ref)).reveal().trim();
  const bytes = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || bytes.toString('base64') !== text) {
    throw coreError('VLAB_ERR_SECRET_UNRESOLVED', `the secret key in ${label} is not base64`, {
      hint: 'The key is one line: the base64 of 32 random bytes (createSecretKeyFile makes one).',
    });
  }
  return new SecretKey(bytes, label);
}

/**
 * Seals a small secret with AES-256-GCM: a random 12-byte nonce, the ciphertext, the 16-byte tag.
 * @param aad - What the value belongs to (`reservation:<id>:<login>`); {@link open} needs the same,
 * so a sealed value copied to another row does not open there.
 * @public
 */
export function seal(key: SecretKey, plaintext: Secret, aad: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', bytesOf(key), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext.reveal(), 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Opens what {@link seal} sealed with the same key and `aad`.
 * @param label - What the secret is, for its {@link Secret.label}. Default: the aad.
 * @throws `VLAB_ERR_SECRET_UNRESOLVED` when the key is another one, the bytes were altered or the
 * aad differs; the error says nothing of the content.
 * @public
 */
export function open(key: SecretKey, sealed: Uint8Array, aad: string, label = aad): Secret {
  const data = Buffer.from(sealed);
  const refuse = (cause?: unknown): Error =>
    coreError(
      'VLAB_ERR_SECRET_UNRESOLVED',
      `a sealed secret (${aad.slice(0, 100)}) could not be opened`,
      {
        cause,
        hint: `It was sealed with another key than ${key.label}, or for another row, or its bytes were altered. Use the key that sealed it; if it is lost, the secret must be made anew.`,
      },
    );
  if (data.length < SEAL_OVERHEAD) throw refuse();
  const nonce = data.subarray(0, NONCE_BYTES);
  const tag = data.subarray(data.length - TAG_BYTES);
  const body = data.subarray(NONCE_BYTES, data.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', bytesOf(key), nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    const secret = new Secret(plain.toString('utf8'), label);
    plain.fill(0);
    return secret;
  } catch {
    // The cause (OpenSSL's "unable to authenticate data") is left out: nothing to learn from it.
    throw refuse();
  }
}
