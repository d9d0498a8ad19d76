/**
 * The OpenSSH public key types a lab user's key may have.
 * @public
 */
export const SSH_PUBLIC_KEY_TYPES: ReadonlySet<string> = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** How to write a key {@link sshPublicKeyProblem} accepts. @public */
export const SSH_PUBLIC_KEY_HINT = `Give the key in one-line OpenSSH format, without options: "ssh-ed25519 AAAA… comment". Known types: ${[...SSH_PUBLIC_KEY_TYPES].join(', ')}.`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * What is wrong with `line` as one OpenSSH public key (`type base64 [comment]`, no options), or
 * `undefined` when it is fine: one line without control characters, a known type whose base64 body starts
 * with that same type, a comment of at most 256 characters. One rule for every module that writes
 * a user's key where sshd reads it, so no key spans lines or carries options into that file.
 * @param what - What the key is, for the sentence (`SSH key 2 of "alice"`).
 * @returns A sentence starting with `what`, or `undefined`.
 * @public
 */
export function sshPublicKeyProblem(line: string, what: string): string | undefined {
  if (CONTROL.test(line)) return `${what} holds a control character or a line break`;
  const [type = '', body = '', ...rest] = line.trim().split(/ +/);
  if (!SSH_PUBLIC_KEY_TYPES.has(type)) {
    const shown = JSON.stringify(type.length > 40 ? `${type.slice(0, 40)}…` : type);
    return `${what} is not an OpenSSH public key of a known type (it starts ${shown})`;
  }
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64') : undefined;
  // The key blob starts with its own type, as a length-prefixed string.
  const inner =
    bytes !== undefined && bytes.length > 4
      ? bytes.subarray(4, 4 + bytes.readUInt32BE(0)).toString('latin1')
      : undefined;
  if (inner !== type) return `${what} has a damaged key body`;
  if (rest.join(' ').length > 256) return `${what} has a comment over 256 characters`;
  return undefined;
}
