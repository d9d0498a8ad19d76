/** The longest public key line accepted (a 16384-bit RSA key with a long comment fits). */
const MAX_KEY_LENGTH = 16_384;

/** Control, format (bidi overrides, zero-width) and line-separator characters. */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * What is wrong with `line` as an OpenSSH one-line public key (`type base64 [comment]`, the form
 * of `id_ed25519.pub` and of a host key pin), or `undefined` when it is one. No control or
 * invisible characters anywhere (so no second line, no `authorized_keys` options), a key type the
 * blob itself names, canonical base64.
 * @returns A sentence that does not repeat the key.
 */
export function openSshKeyProblem(line: unknown): string | undefined {
  if (typeof line !== 'string') return 'is not a string';
  if (line.length > MAX_KEY_LENGTH) return `is longer than ${MAX_KEY_LENGTH} characters`;
  if (UNSAFE_CHARACTERS.test(line)) {
    return 'contains a control or invisible character (a public key is one line of printable text)';
  }
  const [type = '', base64 = ''] = line.trim().split(/ +/);
  if (!/^[a-z0-9@.-]{1,64}$/.test(type)) {
    return 'does not start with a key type such as ssh-ed25519';
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    return 'has no base64 key after its type';
  }
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64') !== base64 || blob.length < 4) return 'has a damaged base64 key';
  const fields = sshStrings(blob);
  if (fields === undefined) return 'has a damaged or cut key';
  if (fields[0]?.toString('latin1') !== type) {
    return 'has a key whose type differs from the type before it';
  }
  if (type === 'ssh-ed25519' && (fields.length !== 2 || fields[1]?.length !== 32)) {
    return 'has a damaged or cut key';
  }
  return undefined;
}

/**
 * The SSH wire-format strings (4-byte length, bytes) a key blob is made of, or `undefined` when
 * they do not fill it exactly (a cut or padded key).
 */
function sshStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < blob.length) {
    if (offset + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(offset);
    if (offset + 4 + length > blob.length) return undefined;
    out.push(blob.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return out.length >= 2 ? out : undefined;
}

/**
 * The key as stored: `line` without leading and trailing spaces. Call after
 * {@link openSshKeyProblem} found nothing.
 */
export function normaliseOpenSshKey(line: string): string {
  return line.trim();
}
