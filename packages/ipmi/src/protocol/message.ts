import { BMC_SLAVE_ADDRESS, REMOTE_CONSOLE_SWID } from './constants.js';
import { MalformedPacketError } from './packet.js';

/**
 * IPMI messages as they travel over LAN (§13.8, Table 13-4): a request is rsAddr, netFn/rsLUN,
 * checksum 1, rqAddr, rqSeq/rqLUN, cmd, data, checksum 2; a response swaps the addresses and puts
 * the completion code first in the data.
 */

/** The two's-complement checksum of `bytes` (§13.8: the sum with the checksum is 0 mod 256). */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const value of bytes) sum = (sum + value) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** An IPMI request. */
export interface IpmiRequest {
  /** Network function of the request (even) (§5.1, Table 5-1). */
  readonly netFn: number;
  readonly cmd: number;
  /** Request sequence number, 0–63 (§5.4). */
  readonly rqSeq: number;
  readonly data: Uint8Array;
  /** Responder address. Default: the BMC, 0x20. */
  readonly rsAddr?: number;
  /** Requester address. Default: remote console software ID 0x81. */
  readonly rqAddr?: number;
  /** Responder LUN (0–3). Default: 0. */
  readonly rsLun?: number;
  /** Requester LUN (0–3). Default: 0. */
  readonly rqLun?: number;
}

/** An IPMI response. */
export interface IpmiResponse {
  /** Network function of the response (the request's + 1). */
  readonly netFn: number;
  readonly cmd: number;
  readonly rqSeq: number;
  readonly completionCode: number;
  /** Response data after the completion code. */
  readonly data: Uint8Array;
  readonly rqAddr: number;
  readonly rsAddr: number;
  readonly rqLun: number;
  readonly rsLun: number;
}

/** Encodes a request (§13.8, Table 13-4). */
export function encodeRequest(request: IpmiRequest): Buffer {
  const rsAddr = request.rsAddr ?? BMC_SLAVE_ADDRESS;
  const rqAddr = request.rqAddr ?? REMOTE_CONSOLE_SWID;
  const head = Buffer.of(rsAddr, ((request.netFn & 0x3f) << 2) | ((request.rsLun ?? 0) & 0x03));
  const body = Buffer.concat([
    Buffer.of(
      rqAddr,
      ((request.rqSeq & 0x3f) << 2) | ((request.rqLun ?? 0) & 0x03),
      request.cmd & 0xff,
    ),
    request.data,
  ]);
  return Buffer.concat([head, Buffer.of(checksum(head)), body, Buffer.of(checksum(body))]);
}

/** Decodes a request (for a BMC-side peer). Throws {@link MalformedPacketError}. */
export function decodeRequest(message: Uint8Array): Required<IpmiRequest> {
  const bytes = checkedMessage(message);
  return {
    rsAddr: bytes[0] ?? 0,
    netFn: (bytes[1] ?? 0) >> 2,
    rsLun: (bytes[1] ?? 0) & 0x03,
    rqAddr: bytes[3] ?? 0,
    rqSeq: (bytes[4] ?? 0) >> 2,
    rqLun: (bytes[4] ?? 0) & 0x03,
    cmd: bytes[5] ?? 0,
    data: bytes.subarray(6, bytes.length - 1),
  };
}

/** Encodes a response to `request` (for a BMC-side peer). */
export function encodeResponse(
  request: Required<IpmiRequest>,
  completionCode: number,
  data: Uint8Array = new Uint8Array(0),
): Buffer {
  const head = Buffer.of(request.rqAddr, (((request.netFn + 1) & 0x3f) << 2) | request.rqLun);
  const body = Buffer.concat([
    Buffer.of(request.rsAddr, ((request.rqSeq & 0x3f) << 2) | request.rsLun, request.cmd),
    Buffer.of(completionCode),
    data,
  ]);
  return Buffer.concat([head, Buffer.of(checksum(head)), body, Buffer.of(checksum(body))]);
}

/** Decodes a response (§13.8). Throws {@link MalformedPacketError}. */
export function decodeResponse(message: Uint8Array): IpmiResponse {
  const bytes = checkedMessage(message);
  if (bytes.length < 8) throw new MalformedPacketError('IPMI response without a completion code');
  return {
    rqAddr: bytes[0] ?? 0,
    netFn: (bytes[1] ?? 0) >> 2,
    rqLun: (bytes[1] ?? 0) & 0x03,
    rsAddr: bytes[3] ?? 0,
    rqSeq: (bytes[4] ?? 0) >> 2,
    rsLun: (bytes[4] ?? 0) & 0x03,
    cmd: bytes[5] ?? 0,
    completionCode: bytes[6] ?? 0,
    data: bytes.subarray(7, bytes.length - 1),
  };
}

function checkedMessage(message: Uint8Array): Buffer {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (bytes.length < 7) throw new MalformedPacketError('IPMI message shorter than 7 bytes');
  if (checksum(bytes.subarray(0, 3)) !== 0) {
    throw new MalformedPacketError('IPMI message header checksum is wrong');
  }
  if (checksum(bytes.subarray(3)) !== 0) {
    throw new MalformedPacketError('IPMI message data checksum is wrong');
  }
  return bytes;
}
