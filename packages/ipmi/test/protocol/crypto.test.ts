import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CIPHER_SUITES,
  decryptPayload,
  deriveSessionKeys,
  encryptPayload,
  kuidFromPassword,
  type RakpParams,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
} from '../../src/protocol/crypto.js';
import { encodeRequest } from '../../src/protocol/message.js';
import { encodeV20, parseDatagram, unprotect } from '../../src/protocol/packet.js';

// Known vectors computed from the IPMI v2.0 formulas (§13.21–§13.23, §13.31, §13.32, §13.29)
// with the OpenSSL command line, independently of this code (`openssl dgst -mac HMAC`,
// `openssl enc -aes-128-cbc -nopad`): user "admin", password "s3cret", SIDm 0x0a0b0c0d,
// SIDc 0x11223344, Rm = 00..0f, Rc = 10..1f, GUID a1234567…, role 0x14 (admin, name-only).
const hex = (text: string): Buffer => Buffer.from(text, 'hex');

const VECTORS = {
  3: {
    rakp2: '6336a04fb77097e1aca79194632f176b0dd4af9c',
    rakp3: 'be611df6764472a45536d6017741d1b8033cd545',
    sik: '28c9eb230d7b1c88eed8525a926304ab98be8443',
    rakp4: '6bd4a7c4bfde51cde42834bb', // HMAC-SHA1-96: the first 12 of …e9bad0d5
    k1: '73163a8564f75606e06e1c0c16edb8dffc20a200',
    k2: '168a2d5c633749432d31617a08b2074afd55ec15',
    packet:
      '0600ff0706c04433221101000000200000112233445566778899aabbccddeeff0a3f16f2fc9515d6b9a8d5b71d63937effff0207b095abdb785a6f5dee7bae14',
  },
  17: {
    rakp2: '71143253c26aaad8fffab8a9578f2885443cd4b5cd96766f0f0c757685af9912',
    rakp3: 'd18259e46fccbcd9669a96447a8e9d9035e42daf74756af4dfb1b2c1eff0aff0',
    sik: '0b8847d272b45529feabd7d7fad1e3fa8674246d36c4c2fa070a6aaaad2a3e01',
    rakp4: '12199583ba91ab20ef13734770795959', // HMAC-SHA256-128: the first 16 bytes
    k1: '2652dd7f0a408e419f320f168622076d1ba1d3080080c417f3354084cf969676',
    k2: 'f92020a589a06c573b38a0304736603971795cc1bdfac87f70e4614e48a4273c',
    packet:
      '0600ff0706c04433221101000000200000112233445566778899aabbccddeeffd9328ad14bf62bc97a69a2d5e5b9b36effff02070144f2942a32bdadc4cacb9ca58a860f',
  },
} as const;

function params(suite: 3 | 17): RakpParams {
  return {
    suite: CIPHER_SUITES[suite],
    kuid: kuidFromPassword(Buffer.from('s3cret')),
    consoleSessionId: 0x0a0b0c0d,
    bmcSessionId: 0x11223344,
    consoleRandom: hex('000102030405060708090a0b0c0d0e0f'),
    bmcRandom: hex('101112131415161718191a1b1c1d1e1f'),
    bmcGuid: hex('a123456789abcdefa123456789abcdef'),
    role: 0x14,
    username: Buffer.from('admin'),
  };
}

describe.each([3, 17] as const)('cipher suite %i: RAKP codes and session keys', (suite) => {
  const expected = VECTORS[suite];

  it('Kuid is the password zero-padded to 20 bytes', () => {
    expect(kuidFromPassword(Buffer.from('s3cret')).toString('hex')).toBe(
      '7333637265740000000000000000000000000000',
    );
    expect(() => kuidFromPassword(Buffer.alloc(21, 0x61))).toThrow(/at most 20 bytes/);
  });

  it('computes the RAKP 2 and RAKP 3 key exchange codes (§13.21, §13.22)', () => {
    expect(rakp2AuthCode(params(suite)).toString('hex')).toBe(expected.rakp2);
    expect(rakp3AuthCode(params(suite)).toString('hex')).toBe(expected.rakp3);
  });

  it('derives SIK, the RAKP 4 value, K1 and K2 (§13.23, §13.31, §13.32)', () => {
    const sik = sessionIntegrityKey(params(suite));
    expect(sik.toString('hex')).toBe(expected.sik);
    expect(rakp4Icv(params(suite), sik).toString('hex')).toBe(expected.rakp4);
    const keys = deriveSessionKeys(CIPHER_SUITES[suite], sik);
    expect(keys.k1.toString('hex')).toBe(expected.k1);
    expect(keys.k2.toString('hex')).toBe(expected.k2);
    expect(keys.aesKey.toString('hex')).toBe(expected.k2.slice(0, 32));
  });

  it('uses Kg instead of Kuid for the SIK when a BMC key is set (§13.31)', () => {
    const withKg = { ...params(suite), kg: Buffer.alloc(20, 0x42) };
    expect(sessionIntegrityKey(withKg).toString('hex')).not.toBe(expected.sik);
    // The RAKP 2/3 codes stay keyed by Kuid.
    expect(rakp2AuthCode(withKg).toString('hex')).toBe(expected.rakp2);
  });

  it('builds the encrypted, authenticated Get Chassis Status packet byte for byte', () => {
    const keys = deriveSessionKeys(CIPHER_SUITES[suite], hex(expected.sik));
    const message = encodeRequest({ netFn: 0x00, cmd: 0x01, rqSeq: 1, data: new Uint8Array(0) });
    expect(message.toString('hex')).toBe('2000e08104017a');
    const packet = encodeV20({
      payloadType: 0x00,
      sessionId: 0x11223344,
      sequence: 1,
      payload: message,
      keys,
      iv: hex('00112233445566778899aabbccddeeff'),
    });
    expect(packet.toString('hex')).toBe(expected.packet);

    const parsed = parseDatagram(packet, keys.suite.integrityLength);
    if (parsed.kind !== 'v20') throw new Error('expected an RMCP+ packet');
    expect(parsed).toMatchObject({ encrypted: true, authenticated: true, sequence: 1 });
    expect(unprotect(parsed, keys)?.toString('hex')).toBe('2000e08104017a');
  });

  it('drops a packet whose AuthCode or ciphertext was changed', () => {
    const keys = deriveSessionKeys(CIPHER_SUITES[suite], hex(expected.sik));
    const packet = hex(expected.packet);
    for (const index of [5, 20, 40, packet.length - 1]) {
      const damaged = Buffer.from(packet);
      damaged[index] = (damaged[index] ?? 0) ^ 0x01;
      const parsed = parseDatagram(damaged, keys.suite.integrityLength);
      if (parsed.kind !== 'v20') throw new Error('expected an RMCP+ packet');
      expect(unprotect(parsed, keys), `byte ${index} flipped`).toBeUndefined();
    }
  });
});

describe('AES-CBC-128 confidentiality trailer (§13.29)', () => {
  const keys = deriveSessionKeys(CIPHER_SUITES[3], Buffer.alloc(20, 7));
  const iv = Buffer.alloc(16, 9);

  it.each([0, 1, 14, 15, 16, 17, 31, 32, 100])('round-trips a %i-byte payload', (length) => {
    const payload = Buffer.alloc(length, 0xab);
    const sealed = encryptPayload(keys, iv, payload);
    expect(sealed.length % 16).toBe(0);
    expect(sealed.subarray(0, 16)).toEqual(iv);
    expect(decryptPayload(keys, sealed)).toEqual(payload);
  });

  it('pads with 01 02 … N then N', () => {
    const sealed = encryptPayload(keys, iv, Buffer.from('abc'));
    const decipher = createDecipheriv('aes-128-cbc', keys.aesKey, iv);
    decipher.setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(sealed.subarray(16)), decipher.final()]);
    expect(plain.toString('hex')).toBe(`616263${'0102030405060708090a0b0c'}0c`);
  });
});
