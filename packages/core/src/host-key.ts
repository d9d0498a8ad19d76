import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Secret } from './secret.js';

/**
 * An SSH host key pair, as a provisioner generates it for a machine before its first boot.
 * @public
 */
export interface HostKeyPair {
  /** The key type; the file names follow it (`ssh_host_ed25519_key`). */
  readonly type: 'ed25519';
  /** The public key in OpenSSH one-line format (`ssh-ed25519 AAAA… comment`), for `trustHostKeys`. */
  readonly publicKey: string;
  /** The private key in OpenSSH's own PEM format (`openssh-key-v1`, unencrypted). */
  readonly privateKey: Secret;
}

/**
 * Generates an Ed25519 host key pair with Node's crypto (no `ssh-keygen` needed), written as
 * OpenSSH writes it, so a provisioner can put it on a disk and pin it before the first boot.
 * @param comment - The key's comment, usually the computer's name.
 * @public
 */
export function generateHostKey(comment = ''): HostKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const type = 'ssh-ed25519';
  const publicBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  const unpadded = Buffer.concat([
    check,
    check,
    sshString(type),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // The private section is padded with 1, 2, 3, … to the cipher block size (8 for "none").
  const padding = Buffer.from(
    Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1),
  );
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(Buffer.concat([unpadded, padding])),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
  return {
    type: 'ed25519',
    publicKey: `${type} ${publicBlob.toString('base64')}${comment === '' ? '' : ` ${comment}`}`,
    privateKey: new Secret(pem, 'host key'),
  };
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function sshString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}
