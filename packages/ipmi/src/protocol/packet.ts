import {
  ASF_IANA,
  ASF_TYPE_PRESENCE_PING,
  ASF_TYPE_PRESENCE_PONG,
  AUTH_TYPE_NONE,
  AUTH_TYPE_RMCP_PLUS,
  INTEGRITY_PAD_BYTE,
  PAYLOAD_AUTHENTICATED_BIT,
  PAYLOAD_ENCRYPTED_BIT,
  PAYLOAD_TYPE_MASK,
  PayloadType,
  RMCP_CLASS_ACK_BIT,
  RMCP_CLASS_ASF,
  RMCP_CLASS_IPMI,
  RMCP_HEADER_LENGTH,
  RMCP_SEQ_NO_ACK,
  RMCP_VERSION_1_0,
  TRAILER_NEXT_HEADER,
  V15_SESSION_HEADER_LENGTH,
  V20_SESSION_HEADER_LENGTH,
} from './constants.js';
import {
  decryptPayload,
  encryptPayload,
  integrityCode,
  macEqual,
  type SessionKeys,
} from './crypto.js';

/** Thrown by the decoders for a datagram that is not well formed; the caller drops it. */
export class MalformedPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPacketError';
  }
}

function rmcpHeader(messageClass: number): Buffer {
  // §13.1.3, Table 13-1: version, reserved, sequence (0xFF: no ACK), class.
  return Buffer.of(RMCP_VERSION_1_0, 0x00, RMCP_SEQ_NO_ACK, messageClass);
}

// ---------------------------------------------------------------------------------------------
// ASF presence ping / pong (§13.2.3; DSP0136 §3.2.4)
// ---------------------------------------------------------------------------------------------

/** An ASF Presence Ping with this message tag (0–254; 255 is reserved) (§13.2.3, Table 13-2). */
export function encodeAsfPing(tag: number): Buffer {
  const asf = Buffer.alloc(8);
  asf.writeUInt32BE(ASF_IANA, 0);
  asf[4] = ASF_TYPE_PRESENCE_PING;
  asf[5] = tag & 0xff;
  asf[6] = 0x00; // reserved
  asf[7] = 0x00; // data length
  return Buffer.concat([rmcpHeader(RMCP_CLASS_ASF), asf]);
}

/** What a Presence Pong says (DSP0136 §3.2.4.2; IPMI v2.0 §13.2.3, Table 13-3). */
export interface AsfPong {
  readonly tag: number;
  /** The IANA enterprise number of the OEM field (4542 unless OEM-defined). */
  readonly iana: number;
  /** Supported entities byte: bit 7 = IPMI supported, bits 3:0 = ASF version. */
  readonly supportedEntities: number;
  /** Supported interactions byte: bit 5 = RMCP security extensions. */
  readonly supportedInteractions: number;
}

/** An ASF Presence Pong with the given fields (for a BMC-side peer). */
export function encodeAsfPong(pong: AsfPong): Buffer {
  const asf = Buffer.alloc(8 + 16);
  asf.writeUInt32BE(ASF_IANA, 0);
  asf[4] = ASF_TYPE_PRESENCE_PONG;
  asf[5] = pong.tag & 0xff;
  asf[7] = 16;
  asf.writeUInt32BE(pong.iana, 8);
  asf[16] = pong.supportedEntities;
  asf[17] = pong.supportedInteractions;
  return Buffer.concat([rmcpHeader(RMCP_CLASS_ASF), asf]);
}

// ---------------------------------------------------------------------------------------------
// Parsing a datagram
// ---------------------------------------------------------------------------------------------

/** An IPMI v1.5 session packet (Table 13-8, left column); only auth type "none" is used here. */
export interface V15Packet {
  readonly kind: 'v15';
  readonly authType: number;
  readonly sequence: number;
  readonly sessionId: number;
  /** The IPMI message. */
  readonly message: Buffer;
}

/** An RMCP+ (IPMI v2.0) session packet, not yet checked or decrypted (Table 13-8). */
export interface V20Packet {
  readonly kind: 'v20';
  /** Payload type, bits 5:0. */
  readonly payloadType: number;
  readonly encrypted: boolean;
  readonly authenticated: boolean;
  /** Session ID: the receiver's ID for the session (0 before a session exists). */
  readonly sessionId: number;
  readonly sequence: number;
  /** The payload as sent (still encrypted if `encrypted`). */
  readonly body: Buffer;
  /** Auth Type through Next Header, the bytes the AuthCode covers (authenticated packets). */
  readonly signed: Buffer;
  /** The trailer's AuthCode (authenticated packets; empty otherwise). */
  readonly authCode: Buffer;
}

/** An ASF message (class 6). */
export interface AsfPacket {
  readonly kind: 'asf';
  readonly messageType: number;
  readonly tag: number;
  readonly data: Buffer;
}

/** A datagram, split into its layers. */
export type Packet = V15Packet | V20Packet | AsfPacket;

/**
 * Splits a datagram into RMCP, session header, payload and trailer. `integrityLength` is the
 * AuthCode length of the session the packet belongs to (12 or 16), needed to find the trailer of
 * an authenticated packet; the session ID can be read first with {@link peekSessionId}.
 * Throws {@link MalformedPacketError} for a datagram that is not RMCP or is cut short.
 */
export function parseDatagram(datagram: Uint8Array, integrityLength = 0): Packet {
  const data = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (data.length < RMCP_HEADER_LENGTH + 1) throw new MalformedPacketError('shorter than RMCP');
  if (data[0] !== RMCP_VERSION_1_0) throw new MalformedPacketError('not RMCP version 1.0');
  const messageClass = data[3] ?? 0;
  if ((messageClass & RMCP_CLASS_ACK_BIT) !== 0) {
    throw new MalformedPacketError('an RMCP ACK (never requested)');
  }
  if (messageClass === RMCP_CLASS_ASF) {
    if (data.length < 12) throw new MalformedPacketError('ASF message cut short');
    if (data.readUInt32BE(4) !== ASF_IANA) throw new MalformedPacketError('ASF IANA is not 4542');
    const length = data[11] ?? 0;
    if (data.length < 12 + length) throw new MalformedPacketError('ASF data cut short');
    return {
      kind: 'asf',
      messageType: data[8] ?? 0,
      tag: data[9] ?? 0,
      data: data.subarray(12, 12 + length),
    };
  }
  if (messageClass !== RMCP_CLASS_IPMI) {
    throw new MalformedPacketError(`RMCP class ${messageClass} is neither IPMI nor ASF`);
  }
  const authType = data[4] ?? 0;
  const s = RMCP_HEADER_LENGTH;
  if (authType !== AUTH_TYPE_RMCP_PLUS) {
    // IPMI v1.5 session header: auth type, sequence, session ID, [AuthCode], length (Table 13-8).
    if (authType !== AUTH_TYPE_NONE) {
      throw new MalformedPacketError(`IPMI v1.5 auth type ${authType} is not supported`);
    }
    if (data.length < s + V15_SESSION_HEADER_LENGTH) {
      throw new MalformedPacketError('IPMI v1.5 session header cut short');
    }
    const length = data[s + 9] ?? 0;
    const start = s + V15_SESSION_HEADER_LENGTH;
    if (data.length < start + length) throw new MalformedPacketError('IPMI v1.5 message cut short');
    return {
      kind: 'v15',
      authType,
      sequence: data.readUInt32LE(s + 1),
      sessionId: data.readUInt32LE(s + 5),
      message: data.subarray(start, start + length),
    };
  }
  if (data.length < s + V20_SESSION_HEADER_LENGTH) {
    throw new MalformedPacketError('RMCP+ session header cut short');
  }
  const typeByte = data[s + 1] ?? 0;
  const payloadType = typeByte & PAYLOAD_TYPE_MASK;
  if (payloadType === PayloadType.OEM_EXPLICIT) {
    throw new MalformedPacketError('OEM explicit payloads are not supported');
  }
  const sessionId = data.readUInt32LE(s + 2);
  const sequence = data.readUInt32LE(s + 6);
  const length = data.readUInt16LE(s + 10);
  const start = s + V20_SESSION_HEADER_LENGTH;
  if (data.length < start + length) throw new MalformedPacketError('RMCP+ payload cut short');
  const authenticated = (typeByte & PAYLOAD_AUTHENTICATED_BIT) !== 0;
  const body = data.subarray(start, start + length);
  if (!authenticated) {
    return {
      kind: 'v20',
      payloadType,
      encrypted: (typeByte & PAYLOAD_ENCRYPTED_BIT) !== 0,
      authenticated,
      sessionId,
      sequence,
      body,
      signed: data.subarray(s, start + length),
      authCode: Buffer.alloc(0),
    };
  }
  // Trailer (Table 13-8): integrity pad, pad length, next header (0x07), AuthCode.
  if (integrityLength <= 0) throw new MalformedPacketError('authenticated packet, no session keys');
  const authStart = data.length - integrityLength;
  const nextHeaderAt = authStart - 1;
  const padLengthAt = authStart - 2;
  if (padLengthAt < start + length) throw new MalformedPacketError('session trailer cut short');
  if (data[nextHeaderAt] !== TRAILER_NEXT_HEADER) {
    throw new MalformedPacketError('session trailer next header is not 0x07');
  }
  const padLength = data[padLengthAt] ?? 0;
  if (start + length + padLength !== padLengthAt) {
    throw new MalformedPacketError('integrity pad length does not match the packet length');
  }
  return {
    kind: 'v20',
    payloadType,
    encrypted: (typeByte & PAYLOAD_ENCRYPTED_BIT) !== 0,
    authenticated,
    sessionId,
    sequence,
    body,
    signed: data.subarray(s, authStart),
    authCode: data.subarray(authStart),
  };
}

/**
 * The session ID of an RMCP+ datagram without parsing the rest, or undefined for anything else
 * (ASF, IPMI v1.5, too short). A transport uses it to find the session a datagram belongs to.
 */
export function peekSessionId(datagram: Uint8Array): number | undefined {
  if (datagram.length < RMCP_HEADER_LENGTH + V20_SESSION_HEADER_LENGTH) return undefined;
  if (datagram[3] !== RMCP_CLASS_IPMI || datagram[4] !== AUTH_TYPE_RMCP_PLUS) return undefined;
  const view = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  return view.readUInt32LE(RMCP_HEADER_LENGTH + 2);
}

/** The payload type (bits 5:0) of an RMCP+ datagram, or undefined for anything else. */
export function peekPayloadType(datagram: Uint8Array): number | undefined {
  if (datagram.length < RMCP_HEADER_LENGTH + V20_SESSION_HEADER_LENGTH) return undefined;
  if (datagram[3] !== RMCP_CLASS_IPMI || datagram[4] !== AUTH_TYPE_RMCP_PLUS) return undefined;
  return (datagram[RMCP_HEADER_LENGTH + 1] ?? 0) & PAYLOAD_TYPE_MASK;
}

/**
 * Checks the AuthCode of an authenticated packet with K1 and decrypts an encrypted one with K2;
 * returns the clear payload, or undefined when the AuthCode is wrong or the ciphertext is not
 * well formed (the packet must then be dropped, §13.28.4).
 */
export function unprotect(packet: V20Packet, keys: SessionKeys | undefined): Buffer | undefined {
  if (packet.authenticated) {
    if (keys === undefined) return undefined;
    if (!macEqual(integrityCode(keys, packet.signed), packet.authCode)) return undefined;
  }
  if (!packet.encrypted) return packet.body;
  if (keys === undefined) return undefined;
  return decryptPayload(keys, packet.body);
}

// ---------------------------------------------------------------------------------------------
// Building a datagram
// ---------------------------------------------------------------------------------------------

/** An IPMI v1.5 packet with auth type "none" carrying `message` (Table 13-8; used pre-session). */
export function encodeV15(message: Uint8Array, sessionId = 0, sequence = 0): Buffer {
  const header = Buffer.alloc(V15_SESSION_HEADER_LENGTH);
  header[0] = AUTH_TYPE_NONE;
  header.writeUInt32LE(sequence >>> 0, 1);
  header.writeUInt32LE(sessionId >>> 0, 5);
  header[9] = message.length;
  return Buffer.concat([rmcpHeader(RMCP_CLASS_IPMI), header, message]);
}

/** What {@link encodeV20} needs. */
export interface V20Frame {
  readonly payloadType: number;
  /** The receiver's session ID (0 before a session exists). */
  readonly sessionId: number;
  /** Session sequence number (0 outside a session). */
  readonly sequence: number;
  readonly payload: Uint8Array;
  /** Session keys: when given, the payload is encrypted (AES-CBC-128) and the packet authenticated. */
  readonly keys?: SessionKeys | undefined;
  /** The 16-byte AES IV; required with `keys`. Random per packet (§13.29). */
  readonly iv?: Uint8Array | undefined;
}

/**
 * An RMCP+ packet (Table 13-8). With keys: bit 7 and bit 6 of the payload type are set, the
 * payload is encrypted with K2, and the trailer is the integrity pad (0xFF until Auth Type through
 * Next Header is a multiple of 4 bytes), the pad length, 0x07 and the truncated HMAC_K1.
 */
export function encodeV20(frame: V20Frame): Buffer {
  const protectedPayload =
    frame.keys === undefined
      ? Buffer.from(frame.payload)
      : encryptPayload(frame.keys, requireIv(frame.iv), frame.payload);
  const header = Buffer.alloc(V20_SESSION_HEADER_LENGTH);
  header[0] = AUTH_TYPE_RMCP_PLUS;
  header[1] =
    (frame.payloadType & PAYLOAD_TYPE_MASK) |
    (frame.keys === undefined ? 0 : PAYLOAD_ENCRYPTED_BIT | PAYLOAD_AUTHENTICATED_BIT);
  header.writeUInt32LE(frame.sessionId >>> 0, 2);
  header.writeUInt32LE(frame.sequence >>> 0, 6);
  header.writeUInt16LE(protectedPayload.length, 10);
  if (frame.keys === undefined) {
    return Buffer.concat([rmcpHeader(RMCP_CLASS_IPMI), header, protectedPayload]);
  }
  const padLength = (4 - ((V20_SESSION_HEADER_LENGTH + protectedPayload.length + 2) % 4)) % 4;
  const trailer = Buffer.alloc(padLength + 2, INTEGRITY_PAD_BYTE);
  trailer[padLength] = padLength;
  trailer[padLength + 1] = TRAILER_NEXT_HEADER;
  const signed = Buffer.concat([header, protectedPayload, trailer]);
  return Buffer.concat([rmcpHeader(RMCP_CLASS_IPMI), signed, integrityCode(frame.keys, signed)]);
}

function requireIv(iv: Uint8Array | undefined): Uint8Array {
  if (iv === undefined) throw new TypeError('an encrypted packet needs an IV');
  return iv;
}
