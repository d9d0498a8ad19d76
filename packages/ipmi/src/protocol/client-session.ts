import type { VlabError } from '@vlab/core';
import { ipmiError } from '../errors.js';
import { channelAuthCapabilitiesRequest, parseChannelAuthCapabilities } from './commands.js';
import {
  AppCmd,
  COMPLETION_CODE_TEXT,
  COMPLETION_CODES_NOT_RUN,
  COMPLETION_CODES_RETRY_IF_SAFE,
  NetFn,
  PayloadType,
  RMCP_PLUS_STATUS_TEXT,
  RmcpPlusStatus,
  ROLE_NAME_ONLY_LOOKUP,
  RQ_SEQ_MODULO,
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
import { decodeResponse, encodeRequest, type IpmiResponse } from './message.js';
import {
  encodeV15,
  encodeV20,
  MalformedPacketError,
  type Packet,
  parseDatagram,
  peekPayloadType,
  unprotect,
} from './packet.js';
import {
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
} from './rakp.js';
import { nextSequence, SequenceWindow } from './sequence.js';

/**
 * How a request is retransmitted when its reply does not come (pyghmi and Ironic are the models).
 * Attempt n waits `min(initialTimeoutMs + (n − 1) × timeoutIncrementMs, maxTimeoutMs)` for
 * the reply. With the defaults, ten attempts take about 17 s, inside the
 * default 20 s call timeout — sized so that a link losing 20 % of datagrams each way (an exchange
 * then fails 36 % of the time) still answers.
 * @public
 */
export interface RetryPolicy {
  /** How long the first attempt waits for its reply. Default: 500 ms. */
  readonly initialTimeoutMs?: number;
  /** Added to the wait of each further attempt. Default: 500 ms. */
  readonly timeoutIncrementMs?: number;
  /** The longest wait of one attempt. Default: 2000 ms. */
  readonly maxTimeoutMs?: number;
  /** Attempts per exchange, the first included. Default: 10. */
  readonly maxAttempts?: number;
  /**
   * How long a command that is never re-sent (power cycle, hard reset, soft shutdown) waits for
   * its only reply before the chassis status is read to decide. Default: 3000 ms.
   */
  readonly singleShotTimeoutMs?: number;
}

/** {@link RetryPolicy} with every default filled in. */
export type ResolvedRetryPolicy = Required<RetryPolicy>;

/** The documented defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = {
  initialTimeoutMs: 500,
  timeoutIncrementMs: 500,
  maxTimeoutMs: 2000,
  maxAttempts: 10,
  singleShotTimeoutMs: 3000,
};

/** How long attempt `attempt` (1-based) waits for its reply. */
export function attemptTimeout(policy: ResolvedRetryPolicy, attempt: number): number {
  return Math.min(
    policy.initialTimeoutMs + (attempt - 1) * policy.timeoutIncrementMs,
    policy.maxTimeoutMs,
  );
}

/** What the sans-IO session needs to know; the transport fills it in. */
export interface ClientSessionOptions {
  /** The BMC's address as "host:port", for errors and debug lines. */
  readonly bmc: string;
  /** The computer the BMC belongs to, for errors. */
  readonly computer?: string | undefined;
  /** User name bytes (0–16). */
  readonly username: Uint8Array;
  /** Password bytes (0–20). Never printed. */
  readonly password: Uint8Array;
  /** The BMC key Kg (0–20 bytes), if the BMC has one set. */
  readonly kg?: Uint8Array | undefined;
  /** Privilege level to run at (2 user, 3 operator, 4 administrator). */
  readonly privilege: number;
  /** Cipher suites to offer, in order of preference. */
  readonly cipherSuites: readonly CipherSuiteId[];
  /** SIDm: this session's ID, unique among the sessions of one socket, non-zero. */
  readonly consoleSessionId: number;
  /** Random bytes (Rm, AES IVs). */
  readonly random: (length: number) => Uint8Array;
  readonly retry: ResolvedRetryPolicy;
  /** Send Get Device ID after this much idleness to keep the session open; 0 = never. */
  readonly keepaliveMs: number;
  /** A session idle this long is assumed closed by the BMC and is set up again before use. */
  readonly sessionTimeoutMs: number;
  /** After this many consecutive unanswered attempts in a session, set the session up again. */
  readonly reestablishAfterTimeouts: number;
  /** Receives one line per protocol event; never secrets. */
  readonly debug?: ((line: string) => void) | undefined;
}

/** Whether a request may be sent again when its reply is lost. */
export type RetryMode = 'safe' | 'never';

/** A command to send inside the session. */
export interface SessionRequest {
  readonly netFn: number;
  readonly cmd: number;
  readonly data: Uint8Array;
  /** `safe`: retransmitted until answered; `never`: sent once (power cycle, reset, soft off). */
  readonly retry: RetryMode;
  /** Absolute time (same clock as `now`) after which the request fails. */
  readonly deadline: number;
}

/** What the session reports back. */
export type ClientSessionEvent =
  | {
      readonly type: 'response';
      readonly id: number;
      readonly completionCode: number;
      readonly data: Uint8Array;
    }
  | {
      readonly type: 'error';
      readonly id: number;
      readonly error: VlabError;
      /** Whether the request left at least once, so the BMC may have run it. */
      readonly mayHaveRun: boolean;
    }
  | {
      readonly type: 'established';
      readonly cipherSuite: CipherSuiteId;
      readonly bmcSessionId: number;
    }
  | { readonly type: 'closed' };

/** Where the session is. */
export type SessionPhase =
  | 'idle'
  | 'auth-caps'
  | 'open-session'
  | 'rakp1'
  | 'rakp3'
  | 'set-privilege'
  | 'active'
  | 'closing'
  | 'closed';

interface Pending {
  readonly id: number;
  readonly request: SessionRequest;
  readonly internal: 'keepalive' | 'close' | undefined;
  attempts: number;
  /** Absolute time the current attempt gives up (or the re-send after a busy reply is due). */
  timeoutAt: number;
  /** The rqSeq of every attempt, so a late reply to any of them answers the request. */
  readonly rqSeqs: number[];
  sent: boolean;
  /** The BMC answered "busy" (the command did not run): send it again at `timeoutAt`. */
  resendDue: boolean;
}

interface LoginStep {
  attempts: number;
  timeoutAt: number;
  /** Message tag (Open Session, RAKP) or rqSeq (auth caps, set privilege). */
  tag: number;
}

const SETUP_CIPHER_STATUSES: readonly number[] = [
  RmcpPlusStatus.INVALID_AUTH_ALGORITHM,
  RmcpPlusStatus.INVALID_INTEGRITY_ALGORITHM,
  RmcpPlusStatus.NO_MATCHING_AUTH_PAYLOAD,
  RmcpPlusStatus.NO_MATCHING_INTEGRITY_PAYLOAD,
  RmcpPlusStatus.INVALID_CONFIDENTIALITY_ALGORITHM,
  RmcpPlusStatus.NO_CIPHER_SUITE_MATCH,
];
const ROLE_STATUSES: readonly number[] = [
  RmcpPlusStatus.INVALID_ROLE,
  RmcpPlusStatus.UNAUTHORIZED_ROLE,
];
const RESOURCE_STATUSES: readonly number[] = [
  RmcpPlusStatus.INSUFFICIENT_RESOURCES,
  RmcpPlusStatus.INSUFFICIENT_RESOURCES_FOR_ROLE,
];

function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function statusText(status: number): string {
  return `${RMCP_PLUS_STATUS_TEXT[status] ?? 'unknown status'} (${hex(status)})`;
}

/**
 * One RMCP+ session with one BMC, as a state machine that does no I/O: datagrams go in through
 * {@link ClientSession.receive}, come out of {@link ClientSession.takeDatagrams}; time is passed
 * in as `now` and the owner calls {@link ClientSession.handleTimer} at
 * {@link ClientSession.nextTimer}. Results come out of {@link ClientSession.takeEvents}.
 *
 * It sets the session up when the first request arrives (Get Channel Authentication
 * Capabilities, Open Session with the preferred cipher suite and then the next ones, RAKP 1–4,
 * Set Session Privilege Level), sends one request at a time, retransmits safe requests under the
 * retry policy with a fresh rqSeq and session sequence number each time, never retransmits a
 * `never` request, keeps the session alive, and sets it up again when the BMC has forgotten it.
 */
export class ClientSession {
  readonly #o: ClientSessionOptions;
  readonly #kuid: Buffer;
  readonly #kg: Buffer | undefined;
  #phase: SessionPhase = 'idle';
  #datagrams: Buffer[] = [];
  #events: ClientSessionEvent[] = [];
  readonly #queue: Pending[] = [];
  #inFlight: Pending | undefined;
  #nextId = 1;
  #rqSeq = 0;
  /** Message tags start at a random value, so sessions to one BMC rarely share one. */
  #tag: number;

  // Login state.
  #step: LoginStep | undefined;
  #suiteIndex = 0;
  /** The suite that worked last time: tried first when the session is set up again. */
  #preferredSuite: CipherSuiteId | undefined;
  #authCapsDone = false;
  #suite: CipherSuiteSpec | undefined;
  #bmcSessionId = 0;
  #consoleRandom: Uint8Array = new Uint8Array(0);
  #rakp: RakpParams | undefined;
  #keys: SessionKeys | undefined;
  #outSeq = 0;
  #inWindow = new SequenceWindow();
  #lastHeardAt = 0;
  #lastSentAt = 0;
  #consecutiveTimeouts = 0;

  constructor(options: ClientSessionOptions) {
    this.#o = options;
    this.#kuid = kuidFromPassword(options.password);
    this.#kg =
      options.kg === undefined || options.kg.length === 0 ? undefined : normaliseKg(options.kg);
    if (options.cipherSuites.length === 0) throw new RangeError('no cipher suite to offer');
    this.#tag = options.random(1)[0] ?? 0;
  }

  /** Where the session is. */
  get phase(): SessionPhase {
    return this.#phase;
  }

  /** The cipher suite of the established session, if any. */
  get cipherSuite(): CipherSuiteId | undefined {
    return this.#phase === 'active' ? this.#suite?.id : undefined;
  }

  /** SIDm: this session's ID. */
  get consoleSessionId(): number {
    return this.#o.consoleSessionId;
  }

  /** Requests waiting or in flight (internal keepalives included). */
  get pendingCount(): number {
    return this.#queue.length + (this.#inFlight === undefined ? 0 : 1);
  }

  /** Datagrams to send to the BMC, oldest first; the queue is emptied. */
  takeDatagrams(): Buffer[] {
    const out = this.#datagrams;
    this.#datagrams = [];
    return out;
  }

  /** Events since the last call, oldest first; the queue is emptied. */
  takeEvents(): ClientSessionEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Queues a request and returns its id (events carry it). Sets the session up if needed. */
  send(request: SessionRequest, now: number): number {
    if (this.#phase === 'closing' || this.#phase === 'closed') {
      const id = this.#nextId++;
      this.#events.push({
        type: 'error',
        id,
        error: ipmiError(
          'VLAB_ERR_IPMI_CLIENT_CLOSED',
          `BMC ${this.#o.bmc}: the session is closed`,
          {
            computer: this.#o.computer,
            details: { bmc: this.#o.bmc },
          },
        ),
        mayHaveRun: false,
      });
      return id;
    }
    const pending = this.#newPending(request, undefined);
    this.#queue.push(pending);
    this.#pump(now);
    return pending.id;
  }

  /** Forgets a request (its caller gave up); a late reply to it is ignored. No event follows. */
  cancel(id: number): void {
    const index = this.#queue.findIndex((p) => p.id === id);
    if (index !== -1) this.#queue.splice(index, 1);
    if (this.#inFlight?.id === id) this.#inFlight = undefined;
    this.#stopLoginIfUnwanted();
  }

  /**
   * Ends the session: fails what is pending with `VLAB_ERR_IPMI_CLIENT_CLOSED` and, if a session
   * is open, sends Close Session once (§22.19). A `closed` event follows its reply, its timeout
   * (`waitMs`) or at once when there was no session.
   */
  close(now: number, waitMs = 1000): void {
    if (this.#phase === 'closing' || this.#phase === 'closed') return;
    const closedError = (): VlabError =>
      ipmiError('VLAB_ERR_IPMI_CLIENT_CLOSED', `BMC ${this.#o.bmc}: the client was closed`, {
        computer: this.#o.computer,
        details: { bmc: this.#o.bmc },
      });
    for (const pending of [...this.#queue, ...(this.#inFlight ? [this.#inFlight] : [])]) {
      if (pending.internal === undefined) {
        this.#events.push({
          type: 'error',
          id: pending.id,
          error: closedError(),
          mayHaveRun: pending.sent,
        });
      }
    }
    this.#queue.length = 0;
    this.#inFlight = undefined;
    this.#step = undefined;
    if (this.#phase !== 'active' || this.#keys === undefined) {
      this.#phase = 'closed';
      this.#events.push({ type: 'closed' });
      return;
    }
    this.#phase = 'closing';
    const data = Buffer.alloc(4);
    data.writeUInt32LE(this.#bmcSessionId >>> 0);
    const pending = this.#newPending(
      { netFn: NetFn.APP, cmd: AppCmd.CLOSE_SESSION, data, retry: 'never', deadline: now + waitMs },
      'close',
    );
    this.#inFlight = pending;
    this.#transmit(pending, now);
  }

  /** The absolute time at which {@link ClientSession.handleTimer} should run next, if any. */
  nextTimer(): number | undefined {
    let next = Number.POSITIVE_INFINITY;
    if (this.#step !== undefined) next = Math.min(next, this.#step.timeoutAt);
    if (this.#inFlight !== undefined) {
      next = Math.min(next, this.#inFlight.timeoutAt, this.#inFlight.request.deadline);
    }
    for (const pending of this.#queue) next = Math.min(next, pending.request.deadline);
    if (
      this.#phase === 'active' &&
      this.#o.keepaliveMs > 0 &&
      this.#inFlight === undefined &&
      this.#queue.length === 0
    ) {
      next = Math.min(next, this.#lastSentAt + this.#o.keepaliveMs);
    }
    return Number.isFinite(next) ? next : undefined;
  }

  /** Runs what is due at `now`: deadlines, retransmissions, login step timeouts, keepalive. */
  handleTimer(now: number): void {
    // Deadlines first: a request past its deadline fails whatever else happens.
    for (const pending of [...this.#queue]) {
      if (pending.request.deadline <= now) {
        this.#queue.splice(this.#queue.indexOf(pending), 1);
        this.#failNoResponse(pending);
      }
    }
    const flight = this.#inFlight;
    if (flight !== undefined && flight.request.deadline <= now) {
      this.#inFlight = undefined;
      this.#failNoResponse(flight);
    }
    this.#stopLoginIfUnwanted();

    if (this.#step !== undefined && this.#step.timeoutAt <= now) this.#loginStepTimedOut(now);

    const current = this.#inFlight;
    if (current !== undefined && current.timeoutAt <= now && current.resendDue) {
      current.resendDue = false;
      this.#transmit(current, now);
    } else if (current !== undefined && current.timeoutAt <= now) {
      if (current.request.retry === 'never' || current.internal === 'close') {
        this.#inFlight = undefined;
        this.#consecutiveTimeouts += 1;
        this.#failNoResponse(current);
      } else if (current.attempts >= this.#o.retry.maxAttempts) {
        this.#inFlight = undefined;
        this.#consecutiveTimeouts += 1;
        this.#failNoResponse(current);
      } else {
        this.#consecutiveTimeouts += 1;
        if (
          this.#consecutiveTimeouts >= this.#o.reestablishAfterTimeouts &&
          this.#phase === 'active'
        ) {
          // The BMC may have dropped the session (rebooted, timed it out): set it up again and
          // send the request inside the new session.
          this.#debug(
            `${this.#consecutiveTimeouts} attempts unanswered in a row: setting the session up again`,
          );
          this.#inFlight = undefined;
          this.#queue.unshift(current);
          this.#startLogin(now, true);
        } else {
          this.#transmit(current, now);
        }
      }
    }

    if (
      this.#phase === 'active' &&
      this.#o.keepaliveMs > 0 &&
      this.#inFlight === undefined &&
      this.#queue.length === 0 &&
      this.#lastSentAt + this.#o.keepaliveMs <= now
    ) {
      this.#debug('keepalive: Get Device ID');
      const keepalive = this.#newPending(
        {
          netFn: NetFn.APP,
          cmd: AppCmd.GET_DEVICE_ID,
          data: new Uint8Array(0),
          retry: 'safe',
          deadline: now + this.#o.keepaliveMs,
        },
        'keepalive',
      );
      this.#queue.push(keepalive);
    }
    this.#pump(now);
  }

  /** Feeds one datagram from the BMC's address. Anything not for this session is ignored. */
  receive(datagram: Uint8Array, now: number): void {
    let packet: Packet;
    try {
      const integrityLength =
        this.#keys !== undefined && peekPayloadType(datagram) === PayloadType.IPMI
          ? this.#keys.suite.integrityLength
          : 0;
      packet = parseDatagram(datagram, integrityLength);
    } catch (error) {
      if (error instanceof MalformedPacketError) {
        this.#debug(`dropped a malformed datagram: ${error.message}`);
        return;
      }
      throw error;
    }
    if (packet.kind === 'asf') return;
    if (packet.kind === 'v15') {
      if (this.#phase === 'auth-caps') this.#onAuthCaps(packet.message, now);
      return;
    }
    switch (packet.payloadType) {
      case PayloadType.OPEN_SESSION_RESPONSE:
        if (this.#phase === 'open-session' && packet.sessionId === 0 && !packet.authenticated) {
          this.#onOpenSessionResponse(packet.body, now);
        }
        return;
      case PayloadType.RAKP2:
        if (this.#phase === 'rakp1' && packet.sessionId === 0 && !packet.authenticated) {
          this.#onRakp2(packet.body, now);
        }
        return;
      case PayloadType.RAKP4:
        if (this.#phase === 'rakp3' && packet.sessionId === 0 && !packet.authenticated) {
          this.#onRakp4(packet.body, now);
        }
        return;
      case PayloadType.IPMI: {
        if (packet.sessionId !== this.#o.consoleSessionId || this.#keys === undefined) return;
        // Inside a session only authenticated, encrypted packets count (suites 3 and 17 have both).
        if (!packet.authenticated || !packet.encrypted) {
          this.#debug('dropped an unauthenticated in-session packet');
          return;
        }
        const payload = unprotect(packet, this.#keys);
        if (payload === undefined) {
          this.#debug('dropped a packet whose integrity check or padding failed');
          return;
        }
        if (!this.#inWindow.accept(packet.sequence)) {
          this.#debug(
            `dropped a packet with sequence ${packet.sequence} (duplicate or outside the window)`,
          );
          return;
        }
        let response: IpmiResponse;
        try {
          response = decodeResponse(payload);
        } catch (error) {
          this.#debug(`dropped a malformed IPMI response: ${(error as Error).message}`);
          return;
        }
        this.#lastHeardAt = now;
        this.#consecutiveTimeouts = 0;
        this.#onInSessionResponse(response, now);
        return;
      }
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  #newPending(request: SessionRequest, internal: Pending['internal']): Pending {
    return {
      id: this.#nextId++,
      request,
      internal,
      attempts: 0,
      timeoutAt: 0,
      rqSeqs: [],
      sent: false,
      resendDue: false,
    };
  }

  #allocRqSeq(): number {
    const used = new Set<number>();
    for (const pending of [...this.#queue, ...(this.#inFlight ? [this.#inFlight] : [])]) {
      for (const seq of pending.rqSeqs) used.add(seq);
    }
    for (let i = 0; i < RQ_SEQ_MODULO; i += 1) {
      this.#rqSeq = (this.#rqSeq + 1) % RQ_SEQ_MODULO;
      if (!used.has(this.#rqSeq)) return this.#rqSeq;
    }
    return this.#rqSeq;
  }

  /** Sends the next queued request if the session is up and nothing is in flight. */
  #pump(now: number): void {
    if (this.#phase === 'closing' || this.#phase === 'closed') return;
    if (this.#queue.length === 0) return;
    const needsSession =
      this.#phase === 'idle' ||
      (this.#phase === 'active' && now - this.#lastHeardAt >= this.#o.sessionTimeoutMs);
    if (needsSession) {
      if (this.#phase === 'active') {
        this.#debug(
          `idle ${now - this.#lastHeardAt} ms ≥ sessionTimeoutMs: the BMC has likely closed the session, setting it up again`,
        );
      }
      this.#startLogin(now, this.#authCapsDone);
      return;
    }
    if (this.#phase !== 'active' || this.#inFlight !== undefined) return;
    const next = this.#queue.shift();
    if (next === undefined) return;
    this.#inFlight = next;
    this.#transmit(next, now);
  }

  #transmit(pending: Pending, now: number): void {
    const keys = this.#keys;
    if (keys === undefined) return;
    const rqSeq = this.#allocRqSeq();
    pending.rqSeqs.push(rqSeq);
    pending.attempts += 1;
    pending.sent = true;
    const wait =
      pending.request.retry === 'never'
        ? this.#o.retry.singleShotTimeoutMs
        : attemptTimeout(this.#o.retry, pending.attempts);
    pending.timeoutAt = Math.min(now + wait, pending.request.deadline);
    this.#sendInSession(
      encodeRequest({
        netFn: pending.request.netFn,
        cmd: pending.request.cmd,
        rqSeq,
        data: pending.request.data,
      }),
      now,
    );
    this.#debug(
      `sent netFn ${hex(pending.request.netFn)} cmd ${hex(pending.request.cmd)} rqSeq ${rqSeq} (attempt ${pending.attempts})`,
    );
  }

  #sendInSession(message: Uint8Array, now: number): void {
    const keys = this.#keys;
    if (keys === undefined) return;
    this.#outSeq = nextSequence(this.#outSeq);
    this.#datagrams.push(
      encodeV20({
        payloadType: PayloadType.IPMI,
        sessionId: this.#bmcSessionId,
        sequence: this.#outSeq,
        payload: message,
        keys,
        iv: this.#o.random(16),
      }),
    );
    this.#lastSentAt = now;
  }

  #onInSessionResponse(response: IpmiResponse, now: number): void {
    if (this.#phase === 'set-privilege') {
      const step = this.#step;
      if (
        step !== undefined &&
        response.rqSeq === step.tag &&
        response.cmd === AppCmd.SET_SESSION_PRIVILEGE_LEVEL
      ) {
        this.#onSetPrivilege(response, now);
      }
      return;
    }
    const flight = this.#inFlight;
    if (
      flight === undefined ||
      !flight.rqSeqs.includes(response.rqSeq) ||
      response.cmd !== flight.request.cmd ||
      response.netFn !== flight.request.netFn + 1
    ) {
      this.#debug(`ignored a late or unmatched reply (rqSeq ${response.rqSeq})`);
      return;
    }
    const cc = response.completionCode;
    const retryable =
      flight.request.retry === 'safe'
        ? COMPLETION_CODES_RETRY_IF_SAFE.includes(cc)
        : COMPLETION_CODES_NOT_RUN.includes(cc);
    if (retryable && flight.attempts < this.#o.retry.maxAttempts && flight.internal !== 'close') {
      // Busy or initialising: the command did not run. Send it again after the attempt's wait.
      this.#debug(`completion code ${hex(cc)} (${COMPLETION_CODE_TEXT[cc] ?? '?'}): will retry`);
      flight.timeoutAt = Math.min(
        now + attemptTimeout(this.#o.retry, flight.attempts),
        flight.request.deadline,
      );
      flight.resendDue = true;
      return;
    }
    this.#inFlight = undefined;
    if (flight.internal === 'close') {
      this.#finishClose();
      return;
    }
    if (flight.internal === undefined) {
      this.#events.push({
        type: 'response',
        id: flight.id,
        completionCode: cc,
        data: response.data,
      });
    }
    this.#pump(now);
  }

  #failNoResponse(pending: Pending): void {
    if (pending.internal === 'close') {
      this.#finishClose();
      return;
    }
    if (pending.internal === 'keepalive') {
      // The session is presumably gone; the next request sets it up again.
      this.#debug('keepalive unanswered: the session will be set up again on next use');
      this.#dropSession();
      return;
    }
    const inLogin = this.#phase !== 'active';
    const step = inLogin ? ` during session set-up (${this.#phase})` : '';
    const attempts = pending.sent ? pending.attempts : 0;
    this.#events.push({
      type: 'error',
      id: pending.id,
      mayHaveRun: pending.sent,
      error: ipmiError(
        'VLAB_ERR_IPMI_NO_RESPONSE',
        pending.request.retry === 'never' && pending.sent
          ? `BMC ${this.#o.bmc} did not answer netFn ${hex(pending.request.netFn)} cmd ${hex(pending.request.cmd)}, which is never re-sent blindly`
          : `BMC ${this.#o.bmc} did not answer${step}: ${attempts} attempt(s) of netFn ${hex(pending.request.netFn)} cmd ${hex(pending.request.cmd)} before the deadline`,
        {
          computer: this.#o.computer,
          details: {
            bmc: this.#o.bmc,
            netFn: pending.request.netFn,
            cmd: pending.request.cmd,
            attempts,
            phase: this.#phase,
            mayHaveRun: pending.sent,
          },
        },
      ),
    });
  }

  #finishClose(): void {
    this.#inFlight = undefined;
    this.#phase = 'closed';
    this.#keys = undefined;
    this.#events.push({ type: 'closed' });
  }

  /** Forgets the session keys; the next request sets a session up again. */
  #dropSession(): void {
    this.#keys = undefined;
    this.#step = undefined;
    this.#phase = 'idle';
    this.#inWindow = new SequenceWindow();
    this.#outSeq = 0;
  }

  #stopLoginIfUnwanted(): void {
    if (this.#step === undefined || this.#phase === 'active') return;
    if (this.#queue.length > 0 || this.#inFlight !== undefined) return;
    this.#debug('no request waits for the session any more: set-up stopped');
    this.#dropSession();
  }

  // -------------------------------------------------------------------------------------------
  // Login
  // -------------------------------------------------------------------------------------------

  #startLogin(now: number, skipAuthCaps: boolean): void {
    this.#dropSession();
    this.#consecutiveTimeouts = 0;
    this.#suiteIndex = 0;
    if (skipAuthCaps) {
      this.#step = { attempts: 0, timeoutAt: now, tag: 0 };
      this.#sendOpenSession(now);
    } else {
      this.#step = { attempts: 0, timeoutAt: now, tag: 0 };
      this.#sendAuthCaps(now);
    }
  }

  #suiteOrder(): CipherSuiteId[] {
    const order = [...this.#o.cipherSuites];
    const preferred = this.#preferredSuite;
    if (preferred !== undefined && order.includes(preferred)) {
      order.splice(order.indexOf(preferred), 1);
      order.unshift(preferred);
    }
    return order;
  }

  #sendAuthCaps(now: number): void {
    const step = this.#requireStep();
    this.#phase = 'auth-caps';
    step.attempts += 1;
    step.tag = this.#allocRqSeq();
    step.timeoutAt = now + attemptTimeout(this.#o.retry, step.attempts);
    this.#datagrams.push(
      encodeV15(
        encodeRequest({
          netFn: NetFn.APP,
          cmd: AppCmd.GET_CHANNEL_AUTH_CAPABILITIES,
          rqSeq: step.tag,
          data: channelAuthCapabilitiesRequest(this.#o.privilege),
        }),
      ),
    );
    this.#lastSentAt = now;
    this.#debug(`login: Get Channel Authentication Capabilities (attempt ${step.attempts})`);
  }

  #sendOpenSession(now: number): void {
    const step = this.#requireStep();
    const suiteId = this.#suiteOrder()[this.#suiteIndex];
    const suite = suiteId === undefined ? undefined : CIPHER_SUITES[suiteId];
    if (suite === undefined) return;
    this.#suite = suite;
    this.#phase = 'open-session';
    step.attempts += 1;
    this.#tag = (this.#tag + 1) & 0xff;
    step.tag = this.#tag;
    step.timeoutAt = now + attemptTimeout(this.#o.retry, step.attempts);
    this.#datagrams.push(
      encodeV20({
        payloadType: PayloadType.OPEN_SESSION_REQUEST,
        sessionId: 0,
        sequence: 0,
        payload: encodeOpenSessionRequest({
          tag: step.tag,
          privilege: this.#o.privilege,
          consoleSessionId: this.#o.consoleSessionId,
          algorithms: {
            auth: suite.authAlgorithm,
            integrity: suite.integrityAlgorithm,
            confidentiality: suite.confidentialityAlgorithm,
          },
        }),
      }),
    );
    this.#lastSentAt = now;
    this.#debug(`login: Open Session, cipher suite ${suite.id} (attempt ${step.attempts})`);
  }

  #role(): number {
    return ROLE_NAME_ONLY_LOOKUP | (this.#o.privilege & 0x0f);
  }

  #sendRakp1(now: number): void {
    const step = this.#requireStep();
    this.#phase = 'rakp1';
    this.#consoleRandom = this.#o.random(16);
    this.#tag = (this.#tag + 1) & 0xff;
    step.tag = this.#tag;
    step.timeoutAt = now + attemptTimeout(this.#o.retry, step.attempts);
    this.#datagrams.push(
      encodeV20({
        payloadType: PayloadType.RAKP1,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp1({
          tag: step.tag,
          bmcSessionId: this.#bmcSessionId,
          consoleRandom: this.#consoleRandom,
          role: this.#role(),
          username: this.#o.username,
        }),
      }),
    );
    this.#lastSentAt = now;
    this.#debug('login: RAKP 1');
  }

  #sendSetPrivilege(now: number, fresh: boolean): void {
    const step = this.#requireStep();
    this.#phase = 'set-privilege';
    if (fresh) step.attempts = 0;
    step.attempts += 1;
    step.tag = this.#allocRqSeq();
    step.timeoutAt = now + attemptTimeout(this.#o.retry, step.attempts);
    this.#sendInSession(
      encodeRequest({
        netFn: NetFn.APP,
        cmd: AppCmd.SET_SESSION_PRIVILEGE_LEVEL,
        rqSeq: step.tag,
        data: Buffer.of(this.#o.privilege & 0x0f),
      }),
      now,
    );
    this.#debug(
      `login: Set Session Privilege Level ${this.#o.privilege} (attempt ${step.attempts})`,
    );
  }

  #requireStep(): LoginStep {
    if (this.#step === undefined) this.#step = { attempts: 0, timeoutAt: 0, tag: 0 };
    return this.#step;
  }

  #loginStepTimedOut(now: number): void {
    const step = this.#step;
    if (step === undefined) return;
    if (step.attempts >= this.#o.retry.maxAttempts) {
      const phase = this.#phase;
      this.#loginFailed(
        ipmiError(
          'VLAB_ERR_IPMI_NO_RESPONSE',
          `BMC ${this.#o.bmc} did not answer during session set-up (${phase}) after ${step.attempts} attempt(s)`,
          {
            computer: this.#o.computer,
            details: { bmc: this.#o.bmc, phase, attempts: step.attempts },
          },
        ),
      );
      return;
    }
    switch (this.#phase) {
      case 'auth-caps':
        this.#sendAuthCaps(now);
        return;
      case 'open-session':
      case 'rakp1':
      case 'rakp3':
        // A lost RAKP message restarts from Open Session: BMCs reject a repeated RAKP 1 or 3.
        this.#sendOpenSession(now);
        return;
      case 'set-privilege':
        this.#sendSetPrivilege(now, false);
        return;
      default:
        return;
    }
  }

  /** Session set-up failed for good: every waiting request gets `error`. */
  #loginFailed(error: VlabError): void {
    this.#debug(`login failed: ${error.code}`);
    const waiting = [...this.#queue, ...(this.#inFlight ? [this.#inFlight] : [])];
    this.#queue.length = 0;
    this.#inFlight = undefined;
    this.#dropSession();
    for (const pending of waiting) {
      if (pending.internal !== undefined) continue;
      this.#events.push({ type: 'error', id: pending.id, error, mayHaveRun: pending.sent });
    }
  }

  #loginError(
    code: Parameters<typeof ipmiError>[0],
    summary: string,
    details: Record<string, unknown>,
  ): VlabError {
    return ipmiError(code, `BMC ${this.#o.bmc}: ${summary}`, {
      computer: this.#o.computer,
      details: { bmc: this.#o.bmc, ...details },
    });
  }

  #onAuthCaps(message: Uint8Array, now: number): void {
    const step = this.#step;
    if (step === undefined) return;
    let response: IpmiResponse;
    try {
      response = decodeResponse(message);
    } catch {
      return;
    }
    if (response.rqSeq !== step.tag || response.cmd !== AppCmd.GET_CHANNEL_AUTH_CAPABILITIES)
      return;
    if (response.completionCode !== 0) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_SESSION_REFUSED',
          `Get Channel Authentication Capabilities answered ${hex(response.completionCode)} (${COMPLETION_CODE_TEXT[response.completionCode] ?? 'unknown'}): no IPMI v2.0 on this channel?`,
          { completionCode: response.completionCode },
        ),
      );
      return;
    }
    const caps = parseChannelAuthCapabilities(response.data);
    if (caps === undefined || !caps.supportsV20) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_SESSION_REFUSED',
          'the channel does not offer IPMI v2.0 (RMCP+) sessions',
          { supportsV20: false },
        ),
      );
      return;
    }
    this.#authCapsDone = true;
    step.attempts = 0;
    this.#sendOpenSession(now);
  }

  /**
   * Decodes a login reply and keeps it only if it answers `step`: the same tag and, where the
   * reply carries one, our console session id (error replies may stop after the status, as
   * ipmi_sim's do; then the tag alone matches). Anything else is a stray datagram: dropped.
   */
  #replyTo<T extends { readonly tag: number; readonly consoleSessionId?: number | undefined }>(
    step: { readonly tag: number },
    decode: (payload: Uint8Array) => T,
    payload: Uint8Array,
  ): T | undefined {
    let reply: T;
    try {
      reply = decode(payload);
    } catch {
      return undefined;
    }
    if (reply.tag !== step.tag) return undefined;
    const id = reply.consoleSessionId;
    return id === undefined || id === this.#o.consoleSessionId ? reply : undefined;
  }

  #onOpenSessionResponse(payload: Uint8Array, now: number): void {
    const step = this.#step;
    const suite = this.#suite;
    if (step === undefined || suite === undefined) return;
    const response = this.#replyTo(step, decodeOpenSessionResponse, payload);
    if (response === undefined) return;
    const status = response.status;
    if (status !== RmcpPlusStatus.NO_ERRORS) {
      if (SETUP_CIPHER_STATUSES.includes(status)) {
        const order = this.#suiteOrder();
        this.#debug(`cipher suite ${suite.id} refused: ${statusText(status)}`);
        if (this.#suiteIndex + 1 < order.length) {
          this.#suiteIndex += 1;
          step.attempts = 0;
          this.#sendOpenSession(now);
          return;
        }
        this.#loginFailed(
          this.#loginError(
            'VLAB_ERR_IPMI_CIPHER_UNSUPPORTED',
            `refused every cipher suite offered (${order.join(', ')}); last status: ${statusText(status)}`,
            { cipherSuites: order, status },
          ),
        );
        return;
      }
      if (ROLE_STATUSES.includes(status)) {
        this.#loginFailed(
          this.#loginError(
            'VLAB_ERR_IPMI_PRIVILEGE_REFUSED',
            `Open Session refused privilege level ${this.#o.privilege}: ${statusText(status)}`,
            { status, privilege: this.#o.privilege },
          ),
        );
        return;
      }
      if (RESOURCE_STATUSES.includes(status) && step.attempts < this.#o.retry.maxAttempts) {
        // No free session slot: wait for the step's timeout, then ask again (Ironic retries it).
        this.#debug(`Open Session: ${statusText(status)}; will ask again`);
        return;
      }
      this.#loginFailed(
        this.#loginError('VLAB_ERR_IPMI_SESSION_REFUSED', `Open Session: ${statusText(status)}`, {
          status,
        }),
      );
      return;
    }
    const chosen = response.algorithms;
    if (
      chosen.auth !== suite.authAlgorithm ||
      chosen.integrity !== suite.integrityAlgorithm ||
      chosen.confidentiality !== suite.confidentialityAlgorithm
    ) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_PROTOCOL_ERROR',
          `Open Session Response chose algorithms ${chosen.auth}/${chosen.integrity}/${chosen.confidentiality}, not the proposed cipher suite ${suite.id}`,
          { algorithms: chosen, cipherSuite: suite.id },
        ),
      );
      return;
    }
    this.#bmcSessionId = response.bmcSessionId;
    this.#sendRakp1(now);
  }

  #onRakp2(payload: Uint8Array, now: number): void {
    const step = this.#step;
    const suite = this.#suite;
    if (step === undefined || suite === undefined) return;
    const message = this.#replyTo(step, decodeRakp2, payload);
    if (message === undefined) return;
    const status = message.status;
    if (status !== RmcpPlusStatus.NO_ERRORS) {
      if (
        status === RmcpPlusStatus.UNAUTHORIZED_NAME ||
        status === RmcpPlusStatus.INVALID_NAME_LENGTH
      ) {
        this.#loginFailed(
          this.#loginError(
            'VLAB_ERR_IPMI_USER_UNKNOWN',
            `the BMC refused user "${Buffer.from(this.#o.username).toString('utf8')}": ${statusText(status)}`,
            { status, username: Buffer.from(this.#o.username).toString('utf8') },
          ),
        );
        return;
      }
      if (ROLE_STATUSES.includes(status)) {
        this.#loginFailed(
          this.#loginError(
            'VLAB_ERR_IPMI_PRIVILEGE_REFUSED',
            `RAKP 2 refused privilege level ${this.#o.privilege}: ${statusText(status)}`,
            { status, privilege: this.#o.privilege },
          ),
        );
        return;
      }
      if (RESOURCE_STATUSES.includes(status) && step.attempts < this.#o.retry.maxAttempts) {
        this.#debug(`RAKP 2: ${statusText(status)}; will start again`);
        return;
      }
      this.#loginFailed(
        this.#loginError('VLAB_ERR_IPMI_SESSION_REFUSED', `RAKP 2: ${statusText(status)}`, {
          status,
        }),
      );
      return;
    }
    if (message.authCode.length !== suite.rakpAuthCodeLength) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_PROTOCOL_ERROR',
          `RAKP 2 carries a ${message.authCode.length}-byte key exchange code; cipher suite ${suite.id} needs ${suite.rakpAuthCodeLength}`,
          { cipherSuite: suite.id, authCodeLength: message.authCode.length },
        ),
      );
      return;
    }
    const params: RakpParams = {
      suite,
      kuid: this.#kuid,
      kg: this.#kg,
      consoleSessionId: this.#o.consoleSessionId,
      bmcSessionId: this.#bmcSessionId,
      consoleRandom: this.#consoleRandom,
      bmcRandom: Buffer.from(message.bmcRandom),
      bmcGuid: Buffer.from(message.bmcGuid),
      role: this.#role(),
      username: this.#o.username,
    };
    if (!macEqual(rakp2AuthCode(params), message.authCode)) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_PASSWORD_WRONG',
          `the RAKP 2 key exchange code does not match the password of user "${Buffer.from(this.#o.username).toString('utf8')}"`,
          { username: Buffer.from(this.#o.username).toString('utf8'), cipherSuite: suite.id },
        ),
      );
      return;
    }
    this.#rakp = params;
    this.#phase = 'rakp3';
    this.#tag = (this.#tag + 1) & 0xff;
    step.tag = this.#tag;
    step.timeoutAt = now + attemptTimeout(this.#o.retry, step.attempts);
    this.#datagrams.push(
      encodeV20({
        payloadType: PayloadType.RAKP3,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp3({
          tag: step.tag,
          status: RmcpPlusStatus.NO_ERRORS,
          bmcSessionId: this.#bmcSessionId,
          authCode: rakp3AuthCode(params),
        }),
      }),
    );
    this.#lastSentAt = now;
    this.#debug('login: RAKP 3');
  }

  #onRakp4(payload: Uint8Array, now: number): void {
    const step = this.#step;
    const params = this.#rakp;
    if (step === undefined || params === undefined) return;
    const message = this.#replyTo(step, decodeRakp4, payload);
    if (message === undefined) return;
    if (message.status !== RmcpPlusStatus.NO_ERRORS) {
      const code =
        message.status === RmcpPlusStatus.INVALID_INTEGRITY_CHECK
          ? 'VLAB_ERR_IPMI_PASSWORD_WRONG'
          : 'VLAB_ERR_IPMI_SESSION_REFUSED';
      this.#loginFailed(
        this.#loginError(code, `RAKP 4: ${statusText(message.status)}`, {
          status: message.status,
        }),
      );
      return;
    }
    const sik = sessionIntegrityKey(params);
    if (!macEqual(rakp4Icv(params, sik), message.icv)) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_SESSION_REFUSED',
          `the RAKP 4 integrity check value is wrong${this.#kg === undefined ? '' : ' (is the BMC key Kg right?)'}`,
          { cipherSuite: params.suite.id, kgSet: this.#kg !== undefined },
        ),
      );
      return;
    }
    this.#keys = deriveSessionKeys(params.suite, sik);
    this.#outSeq = 0;
    this.#inWindow = new SequenceWindow();
    this.#lastHeardAt = now;
    this.#sendSetPrivilege(now, true);
  }

  #onSetPrivilege(response: IpmiResponse, now: number): void {
    if (response.completionCode !== 0) {
      this.#loginFailed(
        this.#loginError(
          'VLAB_ERR_IPMI_PRIVILEGE_REFUSED',
          `Set Session Privilege Level ${this.#o.privilege} answered ${hex(response.completionCode)} (${COMPLETION_CODE_TEXT[response.completionCode] ?? 'command-specific'})`,
          { completionCode: response.completionCode, privilege: this.#o.privilege },
        ),
      );
      return;
    }
    const suite = this.#suite;
    if (suite === undefined) return;
    this.#step = undefined;
    this.#phase = 'active';
    this.#preferredSuite = suite.id;
    this.#consecutiveTimeouts = 0;
    this.#events.push({
      type: 'established',
      cipherSuite: suite.id,
      bmcSessionId: this.#bmcSessionId,
    });
    this.#debug(
      `session established: cipher suite ${suite.id}, BMC session ${hex(this.#bmcSessionId)}`,
    );
    this.#pump(now);
  }

  #debug(line: string): void {
    this.#o.debug?.(`[${this.#o.bmc} sid ${this.#o.consoleSessionId.toString(16)}] ${line}`);
  }
}
