import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import {
  AES_BLOCK_LENGTH,
  AuthAlgorithm,
  ConfidentialityAlgorithm,
  IntegrityAlgorithm,
  K_CONSTANT_LENGTH,
  K1_CONSTANT_BYTE,
  K2_CONSTANT_BYTE,
  KG_LENGTH,
  MAX_PASSWORD_LENGTH,
} from './constants.js';

/**
 * A cipher suite this package speaks: 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) or 17
 * (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128) (IPMI v2.0 §22.15.2, Table 22-20).
 * @public
 */
export type CipherSuiteId = 3 | 17;

/** What a cipher suite is made of (§22.15.2, Table 22-20; §13.28). */
export interface CipherSuiteSpec {
  readonly id: CipherSuiteId;
  /** Authentication algorithm number (§13.28, Table 13-17). */
  readonly authAlgorithm: number;
  /** Integrity algorithm number (§13.28.4, Table 13-18). */
  readonly integrityAlgorithm: number;
  /** Confidentiality algorithm number (§13.28.5, Table 13-19). */
  readonly confidentialityAlgorithm: number;
  /** The hash of the RAKP HMACs, the key derivation and the integrity HMAC. */
  readonly hash: 'sha1' | 'sha256';
  /** Length of the RAKP 2 / RAKP 3 key exchange authentication codes: the full HMAC (§13.21, §13.22). */
  readonly rakpAuthCodeLength: number;
  /** Length of the RAKP 4 integrity check value: HMAC-SHA1-96 = 12, HMAC-SHA256-128 = 16 (§13.23, §13.28.1). */
  readonly rakp4IcvLength: number;
  /** Length of the session trailer AuthCode (§13.28.4: SHA1-96 = 12 bytes, SHA256-128 = 16 bytes). */
  readonly integrityLength: number;
}

/** The suites this package implements (§22.15.2, Table 22-20 "Cipher Suite IDs"). */
export const CIPHER_SUITES: Readonly<Record<CipherSuiteId, CipherSuiteSpec>> = {
  3: {
    id: 3,
    authAlgorithm: AuthAlgorithm.RAKP_HMAC_SHA1,
    integrityAlgorithm: IntegrityAlgorithm.HMAC_SHA1_96,
    confidentialityAlgorithm: ConfidentialityAlgorithm.AES_CBC_128,
    hash: 'sha1',
    rakpAuthCodeLength: 20,
    rakp4IcvLength: 12,
    integrityLength: 12,
  },
  17: {
    id: 17,
    authAlgorithm: AuthAlgorithm.RAKP_HMAC_SHA256,
    integrityAlgorithm: IntegrityAlgorithm.HMAC_SHA256_128,
    confidentialityAlgorithm: ConfidentialityAlgorithm.AES_CBC_128,
    hash: 'sha256',
    rakpAuthCodeLength: 32,
    rakp4IcvLength: 16,
    integrityLength: 16,
  },
};

/** Whether `value` is a cipher suite this package implements. */
export function isCipherSuiteId(value: unknown): value is CipherSuiteId {
  return value === 3 || value === 17;
}

/** The suite whose algorithm numbers these are, if this package implements it. */
export function suiteFromAlgorithms(
  auth: number,
  integrity: number,
  confidentiality: number,
): CipherSuiteSpec | undefined {
  return Object.values(CIPHER_SUITES).find(
    (suite) =>
      suite.authAlgorithm === auth &&
      suite.integrityAlgorithm === integrity &&
      suite.confidentialityAlgorithm === confidentiality,
  );
}

/** HMAC over the concatenation of `parts`. */
export function hmac(hash: 'sha1' | 'sha256', key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const mac = createHmac(hash, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Kuid: the user's password, zero-padded to 20 bytes (§13.31: "Kuid … the password configured
 * for the user", a 20-byte field for IPMI v2.0 passwords, §22.29). Throws if it is longer.
 */
export function kuidFromPassword(password: Uint8Array): Buffer {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(
      `an IPMI v2.0 password has at most ${MAX_PASSWORD_LENGTH} bytes, this one has ${password.length}`,
    );
  }
  const key = Buffer.alloc(MAX_PASSWORD_LENGTH);
  key.set(password);
  return key;
}

/** Kg, the BMC key, zero-padded to 20 bytes (§13.31; §22.25). Throws if it is longer. */
export function normaliseKg(kg: Uint8Array): Buffer {
  if (kg.length > KG_LENGTH) {
    throw new RangeError(`Kg has at most ${KG_LENGTH} bytes, this one has ${kg.length}`);
  }
  const key = Buffer.alloc(KG_LENGTH);
  key.set(kg);
  return key;
}

/** A one-byte buffer. */
function byte(value: number): Buffer {
  return Buffer.of(value & 0xff);
}

/** A 32-bit little-endian buffer, as session IDs travel (§13.6). */
export function u32le(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
}

/** The inputs both ends of RAKP know once RAKP 2 has arrived (§13.20–§13.23). */
export interface RakpParams {
  readonly suite: CipherSuiteSpec;
  /** Kuid, the zero-padded password (see {@link kuidFromPassword}). */
  readonly kuid: Uint8Array;
  /** Kg, the BMC key, if one is set on the BMC; else Kuid is used for the SIK (§13.31). */
  readonly kg?: Uint8Array | undefined;
  /** SIDm, the remote console session ID. */
  readonly consoleSessionId: number;
  /** SIDc, the managed system (BMC) session ID. */
  readonly bmcSessionId: number;
  /** Rm, the console's 16-byte random number (RAKP 1). */
  readonly consoleRandom: Uint8Array;
  /** Rc, the BMC's 16-byte random number (RAKP 2). */
  readonly bmcRandom: Uint8Array;
  /** GUIDc, the BMC's GUID (RAKP 2). */
  readonly bmcGuid: Uint8Array;
  /** ROLEm: the whole RAKP 1 role byte, lookup bit included. */
  readonly role: number;
  /** UNAMEm, the user name bytes. */
  readonly username: Uint8Array;
}

/**
 * RAKP 2 key exchange authentication code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm,
 * UNAMEm) (§13.21, Table 13-12; session IDs little-endian as on the wire).
 */
export function rakp2AuthCode(p: RakpParams): Buffer {
  return hmac(
    p.suite.hash,
    p.kuid,
    u32le(p.consoleSessionId),
    u32le(p.bmcSessionId),
    p.consoleRandom,
    p.bmcRandom,
    p.bmcGuid,
    byte(p.role),
    byte(p.username.length),
    p.username,
  );
}

/** RAKP 3 key exchange authentication code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm) (§13.22, Table 13-13). */
export function rakp3AuthCode(p: RakpParams): Buffer {
  return hmac(
    p.suite.hash,
    p.kuid,
    p.bmcRandom,
    u32le(p.consoleSessionId),
    byte(p.role),
    byte(p.username.length),
    p.username,
  );
}

/** Session Integrity Key: SIK = HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm), KG = Kg if set, else Kuid (§13.31). */
export function sessionIntegrityKey(p: RakpParams): Buffer {
  const key = p.kg === undefined ? p.kuid : p.kg;
  return hmac(
    p.suite.hash,
    key,
    p.consoleRandom,
    p.bmcRandom,
    byte(p.role),
    byte(p.username.length),
    p.username,
  );
}

/**
 * RAKP 4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated to 12 bytes (SHA1-96) or 16
 * bytes (SHA256-128) (§13.23, Table 13-14).
 */
export function rakp4Icv(p: RakpParams, sik: Uint8Array): Buffer {
  return hmac(p.suite.hash, sik, p.consoleRandom, u32le(p.bmcSessionId), p.bmcGuid).subarray(
    0,
    p.suite.rakp4IcvLength,
  );
}

/** The keys of an established session (§13.32 "Generating Additional Keying Material"). */
export interface SessionKeys {
  readonly suite: CipherSuiteSpec;
  /** SIK (§13.31). */
  readonly sik: Buffer;
  /** K1 = HMAC_SIK(const1): the integrity key (§13.32). */
  readonly k1: Buffer;
  /** K2 = HMAC_SIK(const2) (§13.32). */
  readonly k2: Buffer;
  /** The AES-CBC-128 key: the first 16 bytes of K2 (§13.29). */
  readonly aesKey: Buffer;
}

/** Derives K1, K2 and the AES key from the SIK (§13.32: const1 = 20 × 0x01, const2 = 20 × 0x02). */
export function deriveSessionKeys(suite: CipherSuiteSpec, sik: Buffer): SessionKeys {
  const k1 = hmac(suite.hash, sik, Buffer.alloc(K_CONSTANT_LENGTH, K1_CONSTANT_BYTE));
  const k2 = hmac(suite.hash, sik, Buffer.alloc(K_CONSTANT_LENGTH, K2_CONSTANT_BYTE));
  return { suite, sik, k1, k2, aesKey: k2.subarray(0, AES_BLOCK_LENGTH) };
}

/** The session trailer AuthCode over `signed` (Auth Type through Next Header): HMAC_K1, truncated (§13.28.4). */
export function integrityCode(keys: SessionKeys, signed: Uint8Array): Buffer {
  return hmac(keys.suite.hash, keys.k1, signed).subarray(0, keys.suite.integrityLength);
}

/** Compares two MACs in constant time. */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Encrypts an RMCP+ payload with AES-CBC-128 (§13.29, Table 13-20): the result is the 16-byte IV,
 * then the ciphertext of payload + confidentiality pad (0x01, 0x02, … N) + pad length N, the
 * three together a multiple of 16 bytes.
 */
export function encryptPayload(keys: SessionKeys, iv: Uint8Array, payload: Uint8Array): Buffer {
  if (iv.length !== AES_BLOCK_LENGTH) throw new RangeError('the AES-CBC-128 IV has 16 bytes');
  const padLength =
    (AES_BLOCK_LENGTH - ((payload.length + 1) % AES_BLOCK_LENGTH)) % AES_BLOCK_LENGTH;
  const plain = Buffer.alloc(payload.length + padLength + 1);
  plain.set(payload);
  for (let i = 0; i < padLength; i += 1) plain[payload.length + i] = i + 1;
  plain[plain.length - 1] = padLength;
  const cipher = createCipheriv('aes-128-cbc', keys.aesKey, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
}

/**
 * Decrypts an AES-CBC-128 RMCP+ payload (IV, then ciphertext) and strips the confidentiality
 * trailer (§13.29). Returns undefined when it is not well formed (length, pad length or pad bytes).
 */
export function decryptPayload(keys: SessionKeys, data: Uint8Array): Buffer | undefined {
  if (data.length < 2 * AES_BLOCK_LENGTH || data.length % AES_BLOCK_LENGTH !== 0) return undefined;
  const decipher = createDecipheriv('aes-128-cbc', keys.aesKey, data.subarray(0, AES_BLOCK_LENGTH));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data.subarray(AES_BLOCK_LENGTH)), decipher.final()]);
  const padLength = plain[plain.length - 1] ?? 0;
  if (padLength >= AES_BLOCK_LENGTH || padLength + 1 > plain.length) return undefined;
  const end = plain.length - 1 - padLength;
  for (let i = 0; i < padLength; i += 1) if (plain[end + i] !== i + 1) return undefined;
  return plain.subarray(0, end);
}
