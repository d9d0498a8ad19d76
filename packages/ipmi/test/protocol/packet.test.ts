import { describe, expect, it } from 'vitest';
import {
  parseBootFlags,
  parseChassisStatus,
  parseDeviceId,
  setBootFlagsRequest,
} from '../../src/protocol/commands.js';
import {
  checksum,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from '../../src/protocol/message.js';
import {
  encodeAsfPing,
  encodeV15,
  encodeV20,
  MalformedPacketError,
  parseDatagram,
  peekSessionId,
} from '../../src/protocol/packet.js';
import {
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
  encodeOpenSessionRequest,
  encodeRakp1,
} from '../../src/protocol/rakp.js';
import { nextSequence, SequenceWindow } from '../../src/protocol/sequence.js';

const hex = (text: string): Buffer => Buffer.from(text.replaceAll(' ', ''), 'hex');

describe('RMCP and ASF (§13.1.3, §13.2.3)', () => {
  it('encodes a presence ping byte for byte', () => {
    // RMCP v1.0, reserved, seq 0xFF (no ACK), class ASF; IANA 4542; Presence Ping; tag; 0; length 0.
    expect(encodeAsfPing(0x42).toString('hex')).toBe('0600ff06000011be80420000');
  });

  it('decodes the pong ipmi_sim 2.0.33 sent (captured)', () => {
    const pong = parseDatagram(hex('0600ff06000011be40420010000011be000000008100000000000000'));
    expect(pong).toMatchObject({ kind: 'asf', messageType: 0x40, tag: 0x42 });
    if (pong.kind !== 'asf') throw new Error('not ASF');
    expect(pong.data[8]).toBe(0x81); // IPMI supported, ASF 1.0
  });

  it('rejects what is not RMCP, or cut short', () => {
    expect(() => parseDatagram(hex('0500ff07'))).toThrow(MalformedPacketError);
    expect(() => parseDatagram(hex('0600ff07 06 00 0000'))).toThrow(/cut short/);
    expect(() => parseDatagram(hex('0600ff08 00'))).toThrow(/neither IPMI nor ASF/);
    expect(() => parseDatagram(hex('0600ff87 00'))).toThrow(/ACK/);
  });
});

describe('IPMI messages over LAN (§13.8)', () => {
  it('builds Get Channel Authentication Capabilities in an IPMI v1.5 packet as ipmitool does', () => {
    const message = encodeRequest({ netFn: 0x06, cmd: 0x38, rqSeq: 0, data: hex('8e04') });
    expect(message.toString('hex')).toBe('2018c88100388e04b5');
    expect(encodeV15(message).toString('hex')).toBe(
      '0600ff07 00 00000000 00000000 09 2018c88100388e04b5'.replaceAll(' ', ''),
    );
  });

  it('checksums to zero and round-trips requests and responses', () => {
    const request = decodeRequest(
      encodeRequest({ netFn: 0x00, cmd: 0x02, rqSeq: 63, data: hex('02') }),
    );
    expect(request).toMatchObject({ netFn: 0, cmd: 2, rqSeq: 63, rsAddr: 0x20, rqAddr: 0x81 });
    const response = decodeResponse(encodeResponse(request, 0xcc, hex('abcd')));
    expect(response).toMatchObject({ netFn: 1, cmd: 2, rqSeq: 63, completionCode: 0xcc });
    expect(Buffer.from(response.data).toString('hex')).toBe('abcd');
    expect(checksum(hex('20 18'))).toBe(0xc8);
  });

  it('rejects a message with a wrong checksum', () => {
    expect(() => decodeResponse(hex('8118672000010000ff'))).toThrow(/checksum/);
  });
});

describe('RMCP+ session set-up payloads (§13.17–§13.21)', () => {
  it('lays out an Open Session Request as Table 13-9', () => {
    const payload = encodeOpenSessionRequest({
      tag: 7,
      privilege: 4,
      consoleSessionId: 0x0a0b0c0d,
      algorithms: { auth: 3, integrity: 4, confidentiality: 1 },
    });
    expect(payload.toString('hex')).toBe(
      '07040000 0d0c0b0a 00000008 03000000 01000008 04000000 02000008 01000000'.replaceAll(' ', ''),
    );
    expect(decodeOpenSessionRequest(payload).algorithms).toEqual({
      auth: 3,
      integrity: 4,
      confidentiality: 1,
    });
  });

  it('decodes the short error response ipmi_sim sends for suite 17 (captured): tag and status only', () => {
    const packet = parseDatagram(hex('0600ff070611000000000000000002000104'));
    if (packet.kind !== 'v20') throw new Error('not RMCP+');
    expect(decodeOpenSessionResponse(packet.body)).toMatchObject({
      tag: 1,
      status: 0x04,
      consoleSessionId: undefined,
    });
  });

  it('decodes the Open Session Response ipmi_sim sends for suite 3 (captured)', () => {
    const packet = parseDatagram(
      hex(
        '0600ff07061100000000000000002400010004004433221102060000000000080100000001000008010000000200000801000000',
      ),
    );
    if (packet.kind !== 'v20') throw new Error('not RMCP+');
    expect(decodeOpenSessionResponse(packet.body)).toEqual({
      tag: 1,
      status: 0,
      privilege: 4,
      consoleSessionId: 0x11223344,
      bmcSessionId: 0x0602,
      algorithms: { auth: 1, integrity: 1, confidentiality: 1 },
    });
  });

  it('lays out RAKP 1 as Table 13-11 and refuses a user name over 16 bytes', () => {
    const payload = encodeRakp1({
      tag: 2,
      bmcSessionId: 0x11223344,
      consoleRandom: Buffer.alloc(16, 0xaa),
      role: 0x14,
      username: Buffer.from('admin'),
    });
    expect(payload.length).toBe(33);
    expect(payload.subarray(0, 8).toString('hex')).toBe('0200000044332211');
    expect(payload.subarray(24, 28).toString('hex')).toBe('14000005');
    expect(Buffer.from(decodeRakp1(payload).username).toString()).toBe('admin');
    expect(() =>
      encodeRakp1({
        tag: 0,
        bmcSessionId: 1,
        consoleRandom: Buffer.alloc(16),
        role: 4,
        username: Buffer.alloc(17),
      }),
    ).toThrow(/at most 16/);
  });

  it('decodes a RAKP 2 error status without the rest', () => {
    expect(decodeRakp2(hex('050d0000 0d0c0b0a'))).toMatchObject({
      tag: 5,
      status: 0x0d,
      consoleSessionId: 0x0a0b0c0d,
    });
  });
});

describe('session header (Table 13-8)', () => {
  it('peeks the session ID of an RMCP+ packet and nothing else', () => {
    const packet = encodeV20({
      payloadType: 0,
      sessionId: 0xdeadbeef,
      sequence: 5,
      payload: hex('00'),
    });
    expect(peekSessionId(packet)).toBe(0xdeadbeef);
    expect(peekSessionId(encodeAsfPing(1))).toBeUndefined();
    expect(peekSessionId(encodeV15(hex('00')))).toBeUndefined();
  });

  it('rejects an authenticated packet whose trailer is inconsistent', () => {
    // Claims authentication, but the pad length does not fit the payload length.
    const bad = hex('0600ff07 06c0 44332211 01000000 0100 00 ff ff 05 07 000000000000000000000000');
    expect(() => parseDatagram(bad, 12)).toThrow(MalformedPacketError);
  });
});

describe('session sequence numbers (§6.12.13)', () => {
  it('skips 0 on wrap', () => {
    expect(nextSequence(0xffffffff)).toBe(1);
    expect(nextSequence(0)).toBe(1);
    expect(nextSequence(41)).toBe(42);
  });

  it('accepts each number once, within 16 below and 32 above the highest seen', () => {
    const window = new SequenceWindow();
    expect(window.accept(100)).toBe(true);
    expect(window.accept(100)).toBe(false);
    expect(window.accept(99)).toBe(true);
    expect(window.accept(99)).toBe(false);
    expect(window.accept(84)).toBe(true);
    expect(window.accept(83)).toBe(false);
    expect(window.accept(133)).toBe(false);
    expect(window.accept(132)).toBe(true);
    expect(window.accept(100)).toBe(false); // now 32 below: outside the window
    expect(window.accept(0)).toBe(false);
  });

  it('keeps working across the 32-bit wrap', () => {
    const window = new SequenceWindow();
    expect(window.accept(0xfffffffe)).toBe(true);
    expect(window.accept(1)).toBe(true);
    expect(window.accept(0xffffffff)).toBe(true);
    expect(window.accept(0xfffffffe)).toBe(false);
  });
});

describe('command data (§20.1, §28.2, §28.13)', () => {
  it('parses Get Device ID as ipmi_sim is set up to answer it (mc_add … 9 8 0x9f 0x1291 0xf02)', () => {
    expect(parseDeviceId(hex('00 03 09 08 02 9f 91 12 00 02 0f 00 00 00 00'))).toMatchObject({
      deviceId: 0,
      deviceRevision: 3,
      firmwareRevision: '9.08',
      ipmiVersion: '2.0',
      manufacturerId: 4753,
      productId: 3842,
      deviceAvailable: true,
    });
    expect(parseDeviceId(hex('00 03'))).toBeUndefined();
  });

  it('parses Get Chassis Status bits', () => {
    const status = parseChassisStatus(hex('41 10 00'));
    expect(status).toMatchObject({ powerOn: true, restorePolicy: 'always-on' });
    expect(status?.lastPowerEvent.powerOnByIpmi).toBe(true);
    expect(parseChassisStatus(hex('00 00'))).toBeUndefined();
  });

  it('encodes boot flags: valid, persistent, EFI, device (Table 28-14)', () => {
    expect(setBootFlagsRequest('pxe', { persistent: true, efi: true }).toString('hex')).toBe(
      '05e004000000',
    );
    expect(setBootFlagsRequest('disk', {}).toString('hex')).toBe('058008000000');
    expect(setBootFlagsRequest('bios', { efi: true }).toString('hex')).toBe('05a018000000');
  });

  it('parses boot flags as ipmi_sim returns them: the device, but "invalid"', () => {
    expect(parseBootFlags(hex('01 05 00 04 00 00 00'))).toEqual({
      valid: false,
      persistent: false,
      efi: false,
      device: 'pxe',
      raw: [0, 4, 0, 0, 0],
    });
    expect(parseBootFlags(hex('01 05 e0 08 00 00 00'))).toMatchObject({
      valid: true,
      persistent: true,
      efi: true,
      device: 'disk',
    });
    expect(parseBootFlags(hex('01 03 08'))).toBeUndefined();
  });
});
