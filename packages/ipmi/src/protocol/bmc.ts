import {
  AppCmd,
  ASF_ENTITY_IPMI_SUPPORTED,
  ASF_IANA,
  ASF_INTERACTION_RMCP_SECURITY,
  ASF_TYPE_PRESENCE_PING,
  BOOT_DEVICE_MASK,
  BOOT_FLAGS_VALID,
  BootParam,
  CHANNEL_AUTH_V20_EXTENDED,
  CHANNEL_SUPPORTS_V20,
  ChassisCmd,
  ChassisControl,
  CompletionCode,
  LastPowerEventBit,
  NetFn,
  PayloadType,
  Privilege,
  RmcpPlusStatus,
  ROLE_NAME_ONLY_LOOKUP,
} from './constants.js';
import {
  CIPHER_SUITES,
  type CipherSuiteId,
  type CipherSuiteSpec,
  deriveSessionKeys,
  kuidFromPassword,
  macEqual,
  normaliseKg,
  type RakpParams,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  type SessionKeys,
  sessionIntegrityKey,
} from './crypto.js';
import { decodeRequest, encodeResponse, type IpmiRequest } from './message.js';
import {
  encodeAsfPong,
  encodeV15,
  encodeV20,
  MalformedPacketError,
  type Packet,
  parseDatagram,
  peekPayloadType,
  peekSessionId,
  unprotect,
} from './packet.js';
import {
  decodeOpenSessionRequest,
  decodeRakp1,
  decodeRakp3,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp4,
} from './rakp.js';
import { nextSequence, SequenceWindow } from './sequence.js';

/**
 * The BMC side of RMCP+, on the same I/O-free core as the client: a small managed system that
 * answers the ASF ping, Get Channel Authentication Capabilities, Open Session, RAKP 1–4, and,
 * inside a session, Set Session Privilege Level, Close Session, Get Device ID, Get Device GUID,
 * Get Chassis Status, Chassis Control and Get/Set System Boot Options (parameters 3 and 5), with
 * a simulated chassis. It exists so that an independent client (the real `ipmitool -I lanplus
 * -C 17`) can be run against this package's SHA-256 code, and so that session loss and expiry
 * can be tested byte by byte. Not a product: one channel, no SOL, no SDRs.
 */

/** A BMC user. */
export interface BmcUser {
  readonly name: string;
  readonly password: string;
  /** The highest privilege this user may run at. Default: administrator. */
  readonly privilege?: keyof typeof Privilege;
}

/** The simulated chassis behind the BMC. */
export interface SimulatedChassis {
  powerOn: boolean;
  /** Boot option parameter 5, five bytes. */
  bootFlags: number[];
  /** Boot option parameter 3. */
  bootFlagValidBitClearing: number;
  /** Last power event byte (Get Chassis Status byte 3). */
  lastPowerEvent: number;
  /** Every Chassis Control action received, in order (for tests). */
  readonly controls: number[];
}

/** Options of {@link BmcEndpoint}. */
export interface BmcEndpointOptions {
  readonly users: readonly BmcUser[];
  /** The suites the BMC accepts. Default: [3, 17]. */
  readonly cipherSuites?: readonly CipherSuiteId[];
  /** The BMC's GUID (16 bytes). Default: a fixed test GUID. */
  readonly guid?: Uint8Array;
  /** The BMC key Kg, if set (two-key login). */
  readonly kg?: Uint8Array;
  /** Random bytes (Rc, IVs, session IDs). */
  readonly random: (length: number) => Uint8Array;
  /** A session idle this long is dropped. Default: 60000 ms (the nominal BMC timeout). */
  readonly sessionTimeoutMs?: number;
  /** How many sessions may be open at once. Default: 64. */
  readonly maxSessions?: number;
  /**
   * Called for each in-session request before the built-in commands; return a reply to answer
   * it yourself, `'drop'` to send no reply at all, or undefined for the built-in behaviour.
   */
  readonly onRequest?: (
    request: Required<IpmiRequest>,
    session: { readonly id: number; readonly privilege: number },
  ) => { readonly completionCode: number; readonly data?: Uint8Array } | 'drop' | undefined;
}

interface BmcSession {
  readonly bmcSessionId: number;
  readonly consoleSessionId: number;
  readonly peer: string;
  readonly suite: CipherSuiteSpec;
  /** The highest privilege negotiated at Open Session / RAKP 1. */
  maxPrivilege: number;
  /** The current privilege of the session. */
  privilege: number;
  state: 'opened' | 'rakp2-sent' | 'active';
  consoleRandom: Uint8Array;
  bmcRandom: Uint8Array;
  role: number;
  username: Uint8Array;
  user: BmcUser | undefined;
  keys: SessionKeys | undefined;
  outSeq: number;
  readonly inWindow: SequenceWindow;
  lastHeardAt: number;
}

const DEFAULT_GUID = Buffer.from('a123456789abcdefa123456789abcdef', 'hex');

/** A sans-IO BMC: datagrams in, reply datagrams out; `now` passed in. */
export class BmcEndpoint {
  readonly #o: BmcEndpointOptions;
  readonly #sessions = new Map<number, BmcSession>();
  readonly #suites: readonly CipherSuiteId[];
  readonly #guid: Uint8Array;
  readonly #kg: Buffer | undefined;
  /** The simulated chassis (tests read and change it). */
  readonly chassis: SimulatedChassis = {
    powerOn: false,
    bootFlags: [0, 0, 0, 0, 0],
    bootFlagValidBitClearing: 0,
    lastPowerEvent: 0,
    controls: [],
  };
  /** Every in-session request handled, in order (for tests): netFn, cmd, session ID. */
  readonly log: { netFn: number; cmd: number; bmcSessionId: number; sequence: number }[] = [];
  /** Count of sessions that completed RAKP 4. */
  sessionsEstablished = 0;

  constructor(options: BmcEndpointOptions) {
    this.#o = options;
    this.#suites = options.cipherSuites ?? [3, 17];
    this.#guid = options.guid ?? DEFAULT_GUID;
    this.#kg = options.kg === undefined ? undefined : normaliseKg(options.kg);
  }

  /** How many sessions exist (half-open ones included). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** How many sessions are active. */
  get activeSessionCount(): number {
    return [...this.#sessions.values()].filter((s) => s.state === 'active').length;
  }

  /** Forgets every session, as a rebooted BMC would. */
  dropSessions(): void {
    this.#sessions.clear();
  }

  /** Drops sessions idle longer than the session timeout. */
  handleTimer(now: number): void {
    const timeout = this.#o.sessionTimeoutMs ?? 60_000;
    for (const [id, session] of this.#sessions) {
      if (now - session.lastHeardAt >= timeout) this.#sessions.delete(id);
    }
  }

  /** Handles a datagram from `peer` ("host:port"); returns the datagrams to send back to it. */
  receive(datagram: Uint8Array, peer: string, now: number): Buffer[] {
    this.handleTimer(now);
    let packet: Packet;
    try {
      let integrityLength = 0;
      if (peekPayloadType(datagram) === PayloadType.IPMI) {
        const session = this.#sessions.get(peekSessionId(datagram) ?? 0);
        integrityLength = session?.keys?.suite.integrityLength ?? 0;
      }
      packet = parseDatagram(datagram, integrityLength);
    } catch (error) {
      if (error instanceof MalformedPacketError) return [];
      throw error;
    }
    if (packet.kind === 'asf') {
      if (packet.messageType !== ASF_TYPE_PRESENCE_PING) return [];
      return [
        encodeAsfPong({
          tag: packet.tag,
          iana: ASF_IANA,
          supportedEntities: ASF_ENTITY_IPMI_SUPPORTED | 0x01,
          supportedInteractions: ASF_INTERACTION_RMCP_SECURITY,
        }),
      ];
    }
    if (packet.kind === 'v15') return this.#sessionless(packet.message, 'v15');
    if (packet.sessionId === 0) {
      if (packet.authenticated || packet.encrypted) return [];
      switch (packet.payloadType) {
        case PayloadType.IPMI:
          return this.#sessionless(packet.body, 'v20');
        case PayloadType.OPEN_SESSION_REQUEST:
          return this.#openSession(packet.body, peer, now);
        case PayloadType.RAKP1:
          return this.#rakp1(packet.body, now);
        case PayloadType.RAKP3:
          return this.#rakp3(packet.body, now);
        default:
          return [];
      }
    }
    if (packet.payloadType !== PayloadType.IPMI) return [];
    const session = this.#sessions.get(packet.sessionId);
    if (session === undefined || session.state !== 'active' || session.keys === undefined)
      return [];
    if (!packet.authenticated || !packet.encrypted) return [];
    const payload = unprotect(packet, session.keys);
    if (payload === undefined) return [];
    if (!session.inWindow.accept(packet.sequence)) return [];
    session.lastHeardAt = now;
    let request: Required<IpmiRequest>;
    try {
      request = decodeRequest(payload);
    } catch {
      return [];
    }
    this.log.push({
      netFn: request.netFn,
      cmd: request.cmd,
      bmcSessionId: session.bmcSessionId,
      sequence: packet.sequence,
    });
    const custom = this.#o.onRequest?.(request, {
      id: session.bmcSessionId,
      privilege: session.privilege,
    });
    if (custom === 'drop') return [];
    const reply = custom ?? this.#command(session, request);
    if (reply === undefined) return [];
    const message = encodeResponse(request, reply.completionCode, reply.data ?? new Uint8Array(0));
    const out = [this.#seal(session, message)];
    if (
      request.netFn === NetFn.APP &&
      request.cmd === AppCmd.CLOSE_SESSION &&
      reply.completionCode === 0
    ) {
      this.#sessions.delete(session.bmcSessionId);
    }
    return out;
  }

  #seal(session: BmcSession, message: Uint8Array): Buffer {
    session.outSeq = nextSequence(session.outSeq);
    return encodeV20({
      payloadType: PayloadType.IPMI,
      sessionId: session.consoleSessionId,
      sequence: session.outSeq,
      payload: message,
      keys: session.keys,
      iv: this.#o.random(16),
    });
  }

  #sessionless(message: Uint8Array, format: 'v15' | 'v20'): Buffer[] {
    let request: Required<IpmiRequest>;
    try {
      request = decodeRequest(message);
    } catch {
      return [];
    }
    let reply: Buffer;
    if (request.netFn === NetFn.APP && request.cmd === AppCmd.GET_CHANNEL_AUTH_CAPABILITIES) {
      // §22.13, Table 22-15: channel 1; v2.0 extended data; auth type none only for v1.5;
      // non-null user names; byte 4 bit 1: IPMI v2.0 connections supported.
      reply = encodeResponse(
        request,
        CompletionCode.OK,
        Buffer.of(0x01, CHANNEL_AUTH_V20_EXTENDED | 0x01, 0x04, CHANNEL_SUPPORTS_V20, 0, 0, 0, 0),
      );
    } else if (request.netFn === NetFn.APP && request.cmd === AppCmd.GET_CHANNEL_CIPHER_SUITES) {
      reply = encodeResponse(request, CompletionCode.OK, this.#cipherSuiteRecords(request.data));
    } else {
      reply = encodeResponse(request, CompletionCode.INSUFFICIENT_PRIVILEGE);
    }
    return [
      format === 'v15'
        ? encodeV15(reply)
        : encodeV20({ payloadType: PayloadType.IPMI, sessionId: 0, sequence: 0, payload: reply }),
    ];
  }

  /** Get Channel Cipher Suites, list by cipher suite ID (§22.15, Table 22-18 and 22-19). */
  #cipherSuiteRecords(data: Uint8Array): Buffer {
    const records: number[] = [];
    for (const id of this.#suites) {
      const suite = CIPHER_SUITES[id];
      records.push(
        0xc0,
        id,
        suite.authAlgorithm,
        0x40 | suite.integrityAlgorithm,
        0x80 | suite.confidentialityAlgorithm,
      );
    }
    const index = (data[2] ?? 0) & 0x3f;
    const chunk = records.slice(index * 16, index * 16 + 16);
    return Buffer.of(0x01, ...chunk);
  }

  #openSession(payload: Uint8Array, peer: string, now: number): Buffer[] {
    let request: ReturnType<typeof decodeOpenSessionRequest>;
    try {
      request = decodeOpenSessionRequest(payload);
    } catch {
      return [];
    }
    const reply = (status: number, session?: BmcSession): Buffer[] => [
      encodeV20({
        payloadType: PayloadType.OPEN_SESSION_RESPONSE,
        sessionId: 0,
        sequence: 0,
        payload: encodeOpenSessionResponse({
          tag: request.tag,
          status,
          privilege: session?.maxPrivilege ?? 0,
          consoleSessionId: request.consoleSessionId,
          bmcSessionId: session?.bmcSessionId ?? 0,
          algorithms: request.algorithms,
        }),
      }),
    ];
    const accepted = this.#suites.map((id) => CIPHER_SUITES[id]);
    const a = request.algorithms;
    if (!accepted.some((s) => s.authAlgorithm === a.auth)) {
      return reply(RmcpPlusStatus.INVALID_AUTH_ALGORITHM);
    }
    if (!accepted.some((s) => s.authAlgorithm === a.auth && s.integrityAlgorithm === a.integrity)) {
      return reply(RmcpPlusStatus.INVALID_INTEGRITY_ALGORITHM);
    }
    const suite = accepted.find(
      (s) =>
        s.authAlgorithm === a.auth &&
        s.integrityAlgorithm === a.integrity &&
        s.confidentialityAlgorithm === a.confidentiality,
    );
    if (suite === undefined) return reply(RmcpPlusStatus.INVALID_CONFIDENTIALITY_ALGORITHM);
    if (this.#sessions.size >= (this.#o.maxSessions ?? 64)) {
      return reply(RmcpPlusStatus.INSUFFICIENT_RESOURCES);
    }
    let bmcSessionId = 0;
    while (bmcSessionId === 0 || this.#sessions.has(bmcSessionId)) {
      bmcSessionId = Buffer.from(this.#o.random(4)).readUInt32LE(0);
    }
    const maxPrivilege = request.privilege === 0 ? Privilege.administrator : request.privilege;
    const session: BmcSession = {
      bmcSessionId,
      consoleSessionId: request.consoleSessionId,
      peer,
      suite,
      maxPrivilege,
      privilege: Privilege.user,
      state: 'opened',
      consoleRandom: new Uint8Array(0),
      bmcRandom: new Uint8Array(0),
      role: 0,
      username: new Uint8Array(0),
      user: undefined,
      keys: undefined,
      outSeq: 0,
      inWindow: new SequenceWindow(),
      lastHeardAt: now,
    };
    this.#sessions.set(bmcSessionId, session);
    return reply(RmcpPlusStatus.NO_ERRORS, session);
  }

  #params(session: BmcSession): RakpParams {
    const password = Buffer.from(session.user?.password ?? '', 'utf8');
    return {
      suite: session.suite,
      kuid: kuidFromPassword(password),
      kg: this.#kg,
      consoleSessionId: session.consoleSessionId,
      bmcSessionId: session.bmcSessionId,
      consoleRandom: session.consoleRandom,
      bmcRandom: session.bmcRandom,
      bmcGuid: this.#guid,
      role: session.role,
      username: session.username,
    };
  }

  #rakp1(payload: Uint8Array, now: number): Buffer[] {
    let message: ReturnType<typeof decodeRakp1>;
    try {
      message = decodeRakp1(payload);
    } catch {
      return [];
    }
    const session = this.#sessions.get(message.bmcSessionId);
    if (session === undefined || session.state !== 'opened') return [];
    session.lastHeardAt = now;
    const reply = (status: number, bmcRandom?: Uint8Array, authCode?: Uint8Array): Buffer[] => [
      encodeV20({
        payloadType: PayloadType.RAKP2,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp2({
          tag: message.tag,
          status,
          consoleSessionId: session.consoleSessionId,
          bmcRandom: bmcRandom ?? new Uint8Array(0),
          bmcGuid: this.#guid,
          authCode: authCode ?? new Uint8Array(0),
        }),
      }),
    ];
    const name = Buffer.from(message.username).toString('utf8');
    const user = this.#o.users.find((u) => u.name === name);
    if (user === undefined) {
      this.#sessions.delete(session.bmcSessionId);
      return reply(RmcpPlusStatus.UNAUTHORIZED_NAME);
    }
    const requested = message.role & 0x0f;
    const allowed = Privilege[user.privilege ?? 'administrator'];
    if (
      requested > allowed ||
      requested > session.maxPrivilege ||
      (message.role & ~(ROLE_NAME_ONLY_LOOKUP | 0x0f)) !== 0
    ) {
      this.#sessions.delete(session.bmcSessionId);
      return reply(RmcpPlusStatus.UNAUTHORIZED_ROLE);
    }
    session.user = user;
    session.role = message.role;
    session.username = Buffer.from(message.username);
    session.consoleRandom = Buffer.from(message.consoleRandom);
    session.bmcRandom = Buffer.from(this.#o.random(16));
    session.maxPrivilege = requested === 0 ? allowed : requested;
    session.state = 'rakp2-sent';
    return reply(RmcpPlusStatus.NO_ERRORS, session.bmcRandom, rakp2AuthCode(this.#params(session)));
  }

  #rakp3(payload: Uint8Array, now: number): Buffer[] {
    let message: ReturnType<typeof decodeRakp3>;
    try {
      message = decodeRakp3(payload);
    } catch {
      return [];
    }
    const session = this.#sessions.get(message.bmcSessionId);
    if (session === undefined || session.state !== 'rakp2-sent') return [];
    session.lastHeardAt = now;
    const reply = (status: number, icv?: Uint8Array): Buffer[] => [
      encodeV20({
        payloadType: PayloadType.RAKP4,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp4({
          tag: message.tag,
          status,
          consoleSessionId: session.consoleSessionId,
          icv: icv ?? new Uint8Array(0),
        }),
      }),
    ];
    if (message.status !== 0) {
      this.#sessions.delete(session.bmcSessionId);
      return [];
    }
    const params = this.#params(session);
    if (!macEqual(rakp3AuthCode(params), message.authCode)) {
      this.#sessions.delete(session.bmcSessionId);
      return reply(RmcpPlusStatus.INVALID_INTEGRITY_CHECK);
    }
    const sik = sessionIntegrityKey(params);
    session.keys = deriveSessionKeys(session.suite, sik);
    session.state = 'active';
    session.privilege = Math.min(Privilege.user, session.maxPrivilege);
    this.sessionsEstablished += 1;
    return reply(RmcpPlusStatus.NO_ERRORS, rakp4Icv(params, sik));
  }

  #command(
    session: BmcSession,
    request: Required<IpmiRequest>,
  ): { completionCode: number; data?: Uint8Array } | undefined {
    const ok = (data: number[] = []) => ({
      completionCode: CompletionCode.OK,
      data: Buffer.of(...data),
    });
    const fail = (completionCode: number) => ({ completionCode });
    const operator = session.privilege >= Privilege.operator;
    const chassis = this.chassis;
    if (request.netFn === NetFn.APP) {
      switch (request.cmd) {
        case AppCmd.SET_SESSION_PRIVILEGE_LEVEL: {
          const wanted = (request.data[0] ?? 0) & 0x0f;
          if (wanted === 0) return ok([session.privilege]);
          // §22.18: 0x80 requested level not available for this user, 0x81 exceeds the limit.
          if (wanted > session.maxPrivilege) return fail(0x81);
          session.privilege = wanted;
          return ok([wanted]);
        }
        case AppCmd.CLOSE_SESSION:
          return ok();
        case AppCmd.GET_DEVICE_ID:
          // §20.1: device 0x20, rev 1, firmware 1.02, IPMI 2.0, chassis device, IANA 4542 (ASF), product 0x1711.
          return ok([0x20, 0x01, 0x01, 0x02, 0x02, 0x80, 0xbe, 0x11, 0x00, 0x11, 0x17]);
        case AppCmd.GET_DEVICE_GUID:
          return ok([...this.#guid]);
        case AppCmd.GET_CHANNEL_AUTH_CAPABILITIES:
          return ok([
            0x01,
            CHANNEL_AUTH_V20_EXTENDED | 0x01,
            0x04,
            CHANNEL_SUPPORTS_V20,
            0,
            0,
            0,
            0,
          ]);
        case AppCmd.GET_CHANNEL_CIPHER_SUITES:
          return { completionCode: 0, data: this.#cipherSuiteRecords(request.data) };
        default:
          return fail(CompletionCode.INVALID_COMMAND);
      }
    }
    if (request.netFn === NetFn.CHASSIS) {
      switch (request.cmd) {
        case ChassisCmd.GET_CHASSIS_STATUS:
          return ok([chassis.powerOn ? 0x01 : 0x00, chassis.lastPowerEvent, 0x00, 0x00]);
        case ChassisCmd.CHASSIS_CONTROL: {
          if (!operator) return fail(CompletionCode.INSUFFICIENT_PRIVILEGE);
          const action = (request.data[0] ?? 0xff) & 0x0f;
          if (action > ChassisControl.SOFT_SHUTDOWN) return fail(CompletionCode.INVALID_DATA_FIELD);
          chassis.controls.push(action);
          if (action === ChassisControl.POWER_UP || action === ChassisControl.POWER_CYCLE) {
            chassis.powerOn = true;
            chassis.lastPowerEvent = LastPowerEventBit.POWER_ON_BY_IPMI;
          } else if (
            action === ChassisControl.POWER_DOWN ||
            action === ChassisControl.SOFT_SHUTDOWN
          ) {
            chassis.powerOn = false;
          }
          return ok();
        }
        case ChassisCmd.SET_SYSTEM_BOOT_OPTIONS: {
          if (!operator) return fail(CompletionCode.INSUFFICIENT_PRIVILEGE);
          const param = (request.data[0] ?? 0) & 0x7f;
          if (param === BootParam.BOOT_FLAGS && request.data.length >= 6) {
            chassis.bootFlags = [...request.data.subarray(1, 6)];
            return ok();
          }
          if (param === BootParam.BOOT_FLAG_VALID_BIT_CLEARING && request.data.length >= 2) {
            chassis.bootFlagValidBitClearing = request.data[1] ?? 0;
            return ok();
          }
          if (param === BootParam.SET_IN_PROGRESS || param === BootParam.BOOT_INFO_ACKNOWLEDGE) {
            return ok();
          }
          return fail(0x80); // §28.12: parameter not supported
        }
        case ChassisCmd.GET_SYSTEM_BOOT_OPTIONS: {
          const param = (request.data[0] ?? 0) & 0x7f;
          if (param === BootParam.BOOT_FLAGS) return ok([0x01, param, ...chassis.bootFlags]);
          if (param === BootParam.BOOT_FLAG_VALID_BIT_CLEARING) {
            return ok([0x01, param, chassis.bootFlagValidBitClearing]);
          }
          return fail(0x80);
        }
        default:
          return fail(CompletionCode.INVALID_COMMAND);
      }
    }
    return fail(CompletionCode.INVALID_COMMAND);
  }

  /** The boot device selector bits of the current boot flags, and whether they are valid. */
  bootDevice(): { valid: boolean; selector: number } {
    return {
      valid: ((this.chassis.bootFlags[0] ?? 0) & BOOT_FLAGS_VALID) !== 0,
      selector: (this.chassis.bootFlags[1] ?? 0) & BOOT_DEVICE_MASK,
    };
  }
}
