import {
  GUID_LENGTH,
  MAX_USER_NAME_LENGTH,
  ProposalType,
  RAKP_RANDOM_LENGTH,
} from './constants.js';
import { MalformedPacketError } from './packet.js';

/**
 * RMCP+ session set-up payloads: Open Session Request/Response (§13.17, §13.18) and RAKP
 * messages 1–4 (§13.20–§13.23). All session IDs are little-endian 32-bit (§13.6).
 */

/** The three algorithm numbers proposed or chosen (§13.17, Table 13-9). */
export interface AlgorithmProposal {
  readonly auth: number;
  readonly integrity: number;
  readonly confidentiality: number;
}

/** Open Session Request (§13.17, Table 13-9). */
export interface OpenSessionRequest {
  readonly tag: number;
  /** Requested maximum privilege (bits 3:0; 0 = the highest the proposal allows). */
  readonly privilege: number;
  /** SIDm, the remote console's session ID. */
  readonly consoleSessionId: number;
  readonly algorithms: AlgorithmProposal;
}

/** Open Session Response (§13.18, Table 13-10). */
export interface OpenSessionResponse {
  readonly tag: number;
  /** RMCP+ status code (§13.24). Non-zero: the other fields after the console ID are absent. */
  readonly status: number;
  readonly privilege: number;
  /** SIDm. Undefined in an error response cut after the status, as ipmi_sim sends them. */
  readonly consoleSessionId: number | undefined;
  /** SIDc, the managed system's session ID (0 on error). */
  readonly bmcSessionId: number;
  readonly algorithms: AlgorithmProposal;
}

function proposal(type: number, algorithm: number): Buffer {
  // Table 13-9: payload type, reserved (2), payload length 8, algorithm (bits 5:0), reserved (3).
  return Buffer.of(type, 0x00, 0x00, 0x08, algorithm & 0x3f, 0x00, 0x00, 0x00);
}

function readProposal(bytes: Buffer, offset: number, type: number): number {
  if (bytes[offset] !== type) {
    throw new MalformedPacketError(`algorithm proposal at ${offset} is not of type ${type}`);
  }
  return (bytes[offset + 4] ?? 0) & 0x3f;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes an Open Session Request (32 bytes). */
export function encodeOpenSessionRequest(request: OpenSessionRequest): Buffer {
  const head = Buffer.alloc(8);
  head[0] = request.tag & 0xff;
  head[1] = request.privilege & 0x0f;
  head.writeUInt32LE(request.consoleSessionId >>> 0, 4);
  return Buffer.concat([
    head,
    proposal(ProposalType.AUTHENTICATION, request.algorithms.auth),
    proposal(ProposalType.INTEGRITY, request.algorithms.integrity),
    proposal(ProposalType.CONFIDENTIALITY, request.algorithms.confidentiality),
  ]);
}

/** Decodes an Open Session Request (for a BMC-side peer). */
export function decodeOpenSessionRequest(payload: Uint8Array): OpenSessionRequest {
  const bytes = asBuffer(payload);
  if (bytes.length < 32) throw new MalformedPacketError('Open Session Request cut short');
  return {
    tag: bytes[0] ?? 0,
    privilege: (bytes[1] ?? 0) & 0x0f,
    consoleSessionId: bytes.readUInt32LE(4),
    algorithms: {
      auth: readProposal(bytes, 8, ProposalType.AUTHENTICATION),
      integrity: readProposal(bytes, 16, ProposalType.INTEGRITY),
      confidentiality: readProposal(bytes, 24, ProposalType.CONFIDENTIALITY),
    },
  };
}

/** Encodes an Open Session Response (36 bytes; 8 when status is non-zero). */
export function encodeOpenSessionResponse(response: OpenSessionResponse): Buffer {
  const head = Buffer.alloc(response.status === 0 ? 12 : 8);
  head[0] = response.tag & 0xff;
  head[1] = response.status;
  head[2] = response.privilege & 0x0f;
  head.writeUInt32LE((response.consoleSessionId ?? 0) >>> 0, 4);
  if (response.status !== 0) return head;
  head.writeUInt32LE(response.bmcSessionId >>> 0, 8);
  return Buffer.concat([
    head,
    proposal(ProposalType.AUTHENTICATION, response.algorithms.auth),
    proposal(ProposalType.INTEGRITY, response.algorithms.integrity),
    proposal(ProposalType.CONFIDENTIALITY, response.algorithms.confidentiality),
  ]);
}

/** Decodes an Open Session Response. A response with a non-zero status may be only 8 bytes. */
export function decodeOpenSessionResponse(payload: Uint8Array): OpenSessionResponse {
  const bytes = asBuffer(payload);
  if (bytes.length < 2) throw new MalformedPacketError('Open Session Response cut short');
  const status = bytes[1] ?? 0;
  const consoleSessionId = bytes.length >= 8 ? bytes.readUInt32LE(4) : undefined;
  if (status !== 0) {
    return {
      tag: bytes[0] ?? 0,
      status,
      privilege: 0,
      consoleSessionId,
      bmcSessionId: 0,
      algorithms: { auth: 0, integrity: 0, confidentiality: 0 },
    };
  }
  if (bytes.length < 36) throw new MalformedPacketError('Open Session Response cut short');
  return {
    tag: bytes[0] ?? 0,
    status,
    privilege: (bytes[2] ?? 0) & 0x0f,
    consoleSessionId,
    bmcSessionId: bytes.readUInt32LE(8),
    algorithms: {
      auth: readProposal(bytes, 12, ProposalType.AUTHENTICATION),
      integrity: readProposal(bytes, 20, ProposalType.INTEGRITY),
      confidentiality: readProposal(bytes, 28, ProposalType.CONFIDENTIALITY),
    },
  };
}

/** RAKP Message 1 (§13.20, Table 13-11). */
export interface Rakp1 {
  readonly tag: number;
  /** SIDc, the managed system's session ID. */
  readonly bmcSessionId: number;
  /** Rm, 16 random bytes. */
  readonly consoleRandom: Uint8Array;
  /** Requested maximum privilege (bits 3:0) with the name-only lookup bit (bit 4). */
  readonly role: number;
  /** User name, 0–16 bytes. */
  readonly username: Uint8Array;
}

/** Encodes RAKP 1 (28 bytes plus the user name). */
export function encodeRakp1(message: Rakp1): Buffer {
  if (message.consoleRandom.length !== RAKP_RANDOM_LENGTH) {
    throw new RangeError('Rm has 16 bytes');
  }
  if (message.username.length > MAX_USER_NAME_LENGTH) {
    throw new RangeError(`a user name has at most ${MAX_USER_NAME_LENGTH} bytes`);
  }
  const out = Buffer.alloc(28 + message.username.length);
  out[0] = message.tag & 0xff;
  out.writeUInt32LE(message.bmcSessionId >>> 0, 4);
  out.set(message.consoleRandom, 8);
  out[24] = message.role;
  out[27] = message.username.length;
  out.set(message.username, 28);
  return out;
}

/** Decodes RAKP 1 (for a BMC-side peer). */
export function decodeRakp1(payload: Uint8Array): Rakp1 {
  const bytes = asBuffer(payload);
  if (bytes.length < 28) throw new MalformedPacketError('RAKP 1 cut short');
  const length = bytes[27] ?? 0;
  if (length > MAX_USER_NAME_LENGTH || bytes.length < 28 + length) {
    throw new MalformedPacketError('RAKP 1 user name length is wrong');
  }
  return {
    tag: bytes[0] ?? 0,
    bmcSessionId: bytes.readUInt32LE(4),
    consoleRandom: bytes.subarray(8, 24),
    role: bytes[24] ?? 0,
    username: bytes.subarray(28, 28 + length),
  };
}

/** RAKP Message 2 (§13.21, Table 13-12). */
export interface Rakp2 {
  readonly tag: number;
  readonly status: number;
  /** SIDm, the remote console's session ID (undefined in an error response cut after the status). */
  readonly consoleSessionId: number | undefined;
  /** Rc, 16 random bytes (absent, zero-length, on error). */
  readonly bmcRandom: Uint8Array;
  /** GUIDc, 16 bytes (absent on error). */
  readonly bmcGuid: Uint8Array;
  /** HMAC_Kuid(…) (absent on error). */
  readonly authCode: Uint8Array;
}

/** Encodes RAKP 2. */
export function encodeRakp2(message: Rakp2): Buffer {
  const head = Buffer.alloc(8);
  head[0] = message.tag & 0xff;
  head[1] = message.status;
  head.writeUInt32LE((message.consoleSessionId ?? 0) >>> 0, 4);
  if (message.status !== 0) return head;
  return Buffer.concat([head, message.bmcRandom, message.bmcGuid, message.authCode]);
}

/** Decodes RAKP 2. With a non-zero status only the first 8 bytes are read. */
export function decodeRakp2(payload: Uint8Array): Rakp2 {
  const bytes = asBuffer(payload);
  if (bytes.length < 2) throw new MalformedPacketError('RAKP 2 cut short');
  const status = bytes[1] ?? 0;
  const consoleSessionId = bytes.length >= 8 ? bytes.readUInt32LE(4) : undefined;
  if (status !== 0) {
    const none = new Uint8Array(0);
    return {
      tag: bytes[0] ?? 0,
      status,
      consoleSessionId,
      bmcRandom: none,
      bmcGuid: none,
      authCode: none,
    };
  }
  const authStart = 8 + RAKP_RANDOM_LENGTH + GUID_LENGTH;
  if (bytes.length < authStart || consoleSessionId === undefined) {
    throw new MalformedPacketError('RAKP 2 cut short');
  }
  return {
    tag: bytes[0] ?? 0,
    status,
    consoleSessionId,
    bmcRandom: bytes.subarray(8, 8 + RAKP_RANDOM_LENGTH),
    bmcGuid: bytes.subarray(8 + RAKP_RANDOM_LENGTH, authStart),
    authCode: bytes.subarray(authStart),
  };
}

/** RAKP Message 3 (§13.22, Table 13-13). */
export interface Rakp3 {
  readonly tag: number;
  readonly status: number;
  /** SIDc, the managed system's session ID. */
  readonly bmcSessionId: number;
  /** HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm) (absent on error). */
  readonly authCode: Uint8Array;
}

/** Encodes RAKP 3. */
export function encodeRakp3(message: Rakp3): Buffer {
  const head = Buffer.alloc(8);
  head[0] = message.tag & 0xff;
  head[1] = message.status;
  head.writeUInt32LE(message.bmcSessionId >>> 0, 4);
  return Buffer.concat([head, message.authCode]);
}

/** Decodes RAKP 3 (for a BMC-side peer). */
export function decodeRakp3(payload: Uint8Array): Rakp3 {
  const bytes = asBuffer(payload);
  if (bytes.length < 8) throw new MalformedPacketError('RAKP 3 cut short');
  return {
    tag: bytes[0] ?? 0,
    status: bytes[1] ?? 0,
    bmcSessionId: bytes.readUInt32LE(4),
    authCode: bytes.subarray(8),
  };
}

/** RAKP Message 4 (§13.23, Table 13-14). */
export interface Rakp4 {
  readonly tag: number;
  readonly status: number;
  /** SIDm, the remote console's session ID (undefined in an error response cut after the status). */
  readonly consoleSessionId: number | undefined;
  /** HMAC_SIK(Rm, SIDc, GUIDc), truncated (absent on error). */
  readonly icv: Uint8Array;
}

/** Encodes RAKP 4. */
export function encodeRakp4(message: Rakp4): Buffer {
  const head = Buffer.alloc(8);
  head[0] = message.tag & 0xff;
  head[1] = message.status;
  head.writeUInt32LE((message.consoleSessionId ?? 0) >>> 0, 4);
  return Buffer.concat([head, message.icv]);
}

/** Decodes RAKP 4. */
export function decodeRakp4(payload: Uint8Array): Rakp4 {
  const bytes = asBuffer(payload);
  const status = bytes[1] ?? 0;
  if (bytes.length < (status === 0 ? 8 : 2)) throw new MalformedPacketError('RAKP 4 cut short');
  return {
    tag: bytes[0] ?? 0,
    status,
    consoleSessionId: bytes.length >= 8 ? bytes.readUInt32LE(4) : undefined,
    icv: bytes.subarray(8),
  };
}
