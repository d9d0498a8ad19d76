// Host key files as Windows OpenSSH keeps them in %ProgramData%\ssh (ssh_host_<type>_key and .pub),
// in the format its ssh-keygen writes: "-----BEGIN OPENSSH PRIVATE KEY-----" (openssh-key-v1, not
// encrypted; https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.key) and one-line public
// keys. ssh2 parses these, so a peer can serve the machine's current host key.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export type HostKeyType = 'rsa' | 'ecdsa' | 'ed25519';
export const HOST_KEY_TYPES: readonly HostKeyType[] = ['rsa', 'ecdsa', 'ed25519'];

function sshString(b: Buffer | string): Buffer {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

function mpint(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

function b64u(s: string | undefined): Buffer {
  return Buffer.from(s ?? '', 'base64url');
}

/** openssh-key-v1 container around one unencrypted key. */
function opensshPrivate(publicBlob: Buffer, privateFields: Buffer, comment: string): string {
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, privateFields, sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const nkeys = Buffer.alloc(4);
  nkeys.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    nkeys,
    sshString(publicBlob),
    sshString(priv),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

export function generateHostKey(
  type: HostKeyType,
  comment: string,
): { privateKey: string; publicKey: string } {
  if (type === 'rsa') {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const j = privateKey.export({ format: 'jwk' });
    const blob = Buffer.concat([sshString('ssh-rsa'), mpint(b64u(j.e)), mpint(b64u(j.n))]);
    const fields = Buffer.concat([
      sshString('ssh-rsa'),
      mpint(b64u(j.n)),
      mpint(b64u(j.e)),
      mpint(b64u(j.d)),
      mpint(b64u(j.qi)),
      mpint(b64u(j.p)),
      mpint(b64u(j.q)),
    ]);
    return {
      privateKey: opensshPrivate(blob, fields, comment),
      publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}\n`,
    };
  }
  if (type === 'ecdsa') {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const j = privateKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), b64u(j.x), b64u(j.y)]);
    const blob = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(point),
    ]);
    const fields = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(point),
      mpint(b64u(j.d)),
    ]);
    return {
      privateKey: opensshPrivate(blob, fields, comment),
      publicKey: `ecdsa-sha2-nistp256 ${blob.toString('base64')} ${comment}\n`,
    };
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const j = privateKey.export({ format: 'jwk' });
  const pub = b64u(j.x);
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const fields = Buffer.concat([
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([b64u(j.d), pub])),
  ]);
  return {
    privateKey: opensshPrivate(blob, fields, comment),
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}\n`,
  };
}
