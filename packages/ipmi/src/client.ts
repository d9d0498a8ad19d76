import { createHash, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  abortError,
  type PowerProbe,
  type PowerState,
  Secret,
  untilCancelled,
  type VlabError,
} from '@vlab/core';
import { ipmiError } from './errors.js';
import {
  attemptTimeout,
  DEFAULT_RETRY_POLICY,
  type ResolvedRetryPolicy,
  type RetryPolicy,
} from './protocol/client-session.js';
import {
  type BootDevice,
  type BootFlags,
  type ChassisStatus,
  type DeviceId,
  getBootFlagsRequest,
  keepBootFlagsRequest,
  POWER_ACTION_CODE,
  POWER_ACTION_IDEMPOTENT,
  type PowerAction,
  parseBootFlags,
  parseChassisStatus,
  parseDeviceId,
  setBootFlagsRequest,
} from './protocol/commands.js';
import {
  AppCmd,
  ASF_ENTITY_IPMI_SUPPORTED,
  ASF_INTERACTION_RMCP_SECURITY,
  ASF_TYPE_PRESENCE_PONG,
  BootDeviceSelector,
  ChassisCmd,
  COMPLETION_CODE_TEXT,
  MAX_PASSWORD_LENGTH,
  MAX_USER_NAME_LENGTH,
  NetFn,
  Privilege,
  RMCP_PORT,
} from './protocol/constants.js';
import { type CipherSuiteId, isCipherSuiteId } from './protocol/crypto.js';
import { encodeAsfPing, MalformedPacketError, parseDatagram } from './protocol/packet.js';
import { type CommandReply, mayHaveRun, SessionDriver } from './transport/session-driver.js';
import { UdpTransport } from './transport/udp.js';

/** Default timeout of one call, session set-up included: 20000 ms (pyghmi gives up after ~20 s). @public */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** Default keepalive interval: 25000 ms (pyghmi: 29 s minus up to 4.9 s; BMCs drop idle sessions after ~60 s). @public */
export const DEFAULT_KEEPALIVE_MS = 25_000;
/** Default idle time after which a session is assumed closed by the BMC: 55000 ms (nominal BMC timeout 60 s, minus 5 s). @public */
export const DEFAULT_SESSION_TIMEOUT_MS = 55_000;
/** Default cipher suite preference: 17 (SHA-256) first, then 3 (SHA-1), as ipmitool 1.8.19. @public */
export const DEFAULT_CIPHER_SUITES: readonly CipherSuiteId[] = [17, 3];

/**
 * Options of {@link IpmiClient}. Every field has a documented default.
 * @public
 */
export interface IpmiClientOptions {
  /** Local IPv4 address of the shared UDP socket. Default: all addresses (`0.0.0.0`). */
  readonly bindAddress?: string;
  /** Local UDP port. Default: 0 (the kernel picks a free one). */
  readonly bindPort?: number;
  /** Retransmission policy; see {@link RetryPolicy} for each default. */
  readonly retry?: RetryPolicy;
  /** Timeout of each call, session set-up included, unless the call gives its own. Default: {@link DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Idle time after which an open session is kept alive with Get Device ID; 0 turns keepalive off. Default: {@link DEFAULT_KEEPALIVE_MS}. */
  readonly keepaliveMs?: number;
  /** Idle time after which a session is assumed gone and set up again before use. Default: {@link DEFAULT_SESSION_TIMEOUT_MS}. */
  readonly sessionTimeoutMs?: number;
  /** Consecutive unanswered attempts after which a session is set up again (the BMC may have rebooted). Default: 3. */
  readonly reestablishAfterTimeouts?: number;
  /** Receives one line per protocol event (session set-up, retransmissions, drops); never secrets. Default: none. */
  readonly debug?: (line: string) => void;
}

/**
 * A BMC to talk to, and how to log in.
 * @public
 */
export interface BmcTarget {
  /** Host name or IP address of the BMC. */
  readonly host: string;
  /** UDP port. Default: 623. */
  readonly port?: number;
  /** User name, at most 16 bytes. */
  readonly username: string;
  /** Password, at most 20 bytes. Prefer a {@link @vlab/core#Secret}; never logged. */
  readonly password: Secret | string;
  /** The BMC key Kg, if the BMC has one (two-key login), at most 20 bytes. Default: none. */
  readonly kg?: Secret | string;
  /** Privilege level of the session. `operator` suffices for power and boot device. Default: `administrator`. */
  readonly privilege?: 'user' | 'operator' | 'administrator';
  /** Cipher suites to offer, in order of preference. Default: {@link DEFAULT_CIPHER_SUITES}. */
  readonly cipherSuites?: readonly CipherSuiteId[];
  /** The computer this BMC belongs to, named in errors. Default: none. */
  readonly computer?: string;
}

/**
 * Per-call options.
 * @public
 */
export interface CallOptions {
  /** Cancels the call; it then rejects with `VLAB_ERR_OP_CANCELLED` (or the signal's vlab error). */
  readonly signal?: AbortSignal;
  /** Timeout of this call, session set-up included. Default: the client's `timeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * How a power action is known to have been taken.
 * @public
 */
export interface PowerActionResult {
  /** The action. */
  readonly action: PowerAction;
  /**
   * `reply`: the BMC answered the command. `chassis-status`: the reply was lost (the command is
   * never re-sent blindly), and the chassis status read afterwards shows it ran.
   */
  readonly confirmedBy: 'reply' | 'chassis-status';
}

/**
 * Options of {@link Bmc.setBootDevice}.
 * @public
 */
export interface BootDeviceOptions extends CallOptions {
  /** For all future boots; otherwise the next boot only. Default: false. */
  readonly persistent?: boolean;
  /** EFI boot; otherwise PC-compatible (legacy BIOS). Default: false. */
  readonly efi?: boolean;
  /**
   * Also set boot option parameter 3 to 0x08 first, so the BMC does not clear the flags when no
   * power command follows within 60 s (as Ironic and pyghmi do). Default: true.
   */
  readonly keepValid?: boolean;
}

/**
 * Options of {@link Bmc.raw}.
 * @public
 */
export interface RawOptions extends CallOptions {
  /** `safe`: re-sent until answered; `never`: sent once, a lost reply fails with VLAB_ERR_IPMI_NO_RESPONSE. Default: `never`. */
  readonly retry?: 'safe' | 'never';
}

/**
 * A raw command's reply.
 * @public
 */
export interface RawReply {
  /** The completion code (0 = success); {@link Bmc.raw} does not throw on a non-zero one. */
  readonly completionCode: number;
  /** Response data after the completion code. */
  readonly data: Uint8Array;
}

/**
 * What the ASF presence pong says (IPMI v2.0 §13.2.3).
 * @public
 */
export interface PresencePong {
  /** The BMC supports IPMI (supported entities bit 7). */
  readonly ipmi: boolean;
  /** The BMC advertises the RMCP security extensions (RMCP+); many BMCs leave it clear even so. */
  readonly rmcpSecurityExtensions: boolean;
  /** Round-trip time of the answered attempt, in ms. */
  readonly rttMs: number;
}

const PRIVILEGES = {
  user: Privilege.user,
  operator: Privilege.operator,
  administrator: Privilege.administrator,
} as const;

function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function reveal(value: Secret | string): string {
  return Secret.isSecret(value) ? value.reveal() : value;
}

/**
 * A native IPMI v2.0 / RMCP+ client: one UDP socket shared by every BMC it talks to, one session
 * per BMC and user kept alive and reused, retransmission that respects what a command does.
 *
 * @remarks
 * Close it (or `await using`) when done: that closes each session with Close Session and the
 * socket. Between calls nothing keeps the process alive.
 * @public
 */
export class IpmiClient implements AsyncDisposable {
  readonly #transport: UdpTransport;
  readonly #retry: ResolvedRetryPolicy;
  readonly #options: IpmiClientOptions;
  readonly #bmcs = new Map<string, BmcHandle>();
  readonly #usedIds = new Set<number>();
  #closed = false;

  /** Makes a client; the socket is opened on first use. */
  constructor(options: IpmiClientOptions = {}) {
    this.#options = options;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#transport = new UdpTransport({
      bindAddress: options.bindAddress,
      bindPort: options.bindPort,
      debug: options.debug,
    });
  }

  /**
   * A handle on one BMC. Handles for the same host, port, user, password, privilege and suites
   * are the same object and share one session. Throws `VLAB_ERR_IPMI_ARGUMENT_INVALID` for a
   * user name over 16 bytes, a password or Kg over 20 bytes or an unknown cipher suite.
   */
  bmc(target: BmcTarget): Bmc {
    this.#assertOpen(`${target.host}:${target.port ?? RMCP_PORT}`);
    const port = target.port ?? RMCP_PORT;
    const address = UdpTransport.key(target.host, port);
    const username = Buffer.from(target.username, 'utf8');
    const password = Buffer.from(reveal(target.password), 'utf8');
    const kg = target.kg === undefined ? undefined : Buffer.from(reveal(target.kg), 'utf8');
    const suites = target.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    const invalid = (what: string): VlabError =>
      ipmiError('VLAB_ERR_IPMI_ARGUMENT_INVALID', `BMC ${address}: ${what}`, {
        computer: target.computer,
        details: { bmc: address },
      });
    if (username.length > MAX_USER_NAME_LENGTH) {
      throw invalid(`the user name has ${username.length} bytes; IPMI allows at most 16`);
    }
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw invalid(`the password has ${password.length} bytes; IPMI v2.0 allows at most 20`);
    }
    if (kg !== undefined && kg.length > MAX_PASSWORD_LENGTH) {
      throw invalid(`Kg has ${kg.length} bytes; IPMI v2.0 allows at most 20`);
    }
    if (suites.length === 0 || !suites.every(isCipherSuiteId)) {
      throw invalid(`cipherSuites must list 3 and/or 17, not [${suites.join(', ')}]`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalid(`port ${port} is not a UDP port`);
    }
    const privilege = target.privilege ?? 'administrator';
    // The key is a hash, so the password does not sit in a map key in clear.
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          target.host,
          port,
          target.username,
          password.toString('base64'),
          kg?.toString('base64'),
          privilege,
          suites,
        ]),
      )
      .digest('base64');
    const existing = this.#bmcs.get(key);
    if (existing !== undefined && !existing.closed) return existing;
    const bmc = new BmcHandle(
      {
        transport: this.#transport,
        host: target.host,
        port,
        username,
        password,
        kg,
        privilege: PRIVILEGES[privilege],
        suites,
        computer: target.computer,
        retry: this.#retry,
        timeoutMs: this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        keepaliveMs: this.#options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
        sessionTimeoutMs: this.#options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
        reestablishAfterTimeouts: this.#options.reestablishAfterTimeouts ?? 3,
        debug: this.#options.debug,
        newSessionId: () => this.#newSessionId(),
        isClientClosed: () => this.#closed,
      },
      () => this.#bmcs.delete(key),
    );
    this.#bmcs.set(key, bmc);
    return bmc;
  }

  /** The local UDP port of the shared IPv4 socket (opens it if needed). */
  localPort(): Promise<number> {
    return this.#transport.localPort();
  }

  /** How many UDP sockets the client holds (one per address family in use, so 0 to 2). */
  get socketCount(): number {
    return this.#transport.socketCount;
  }

  /** Closes every session (Close Session, at most ~1 s each, in parallel) and the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#bmcs.values()].map((bmc) => bmc.close()));
    this.#bmcs.clear();
    await this.#transport.close();
  }

  /** Same as {@link IpmiClient.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #newSessionId(): number {
    for (;;) {
      const id = randomBytes(4).readUInt32LE(0);
      if (id !== 0 && !this.#usedIds.has(id)) {
        this.#usedIds.add(id);
        return id;
      }
    }
  }

  #assertOpen(bmc: string): void {
    if (this.#closed) {
      throw ipmiError('VLAB_ERR_IPMI_CLIENT_CLOSED', `BMC ${bmc}: the IPMI client is closed`, {
        details: { bmc },
      });
    }
  }
}

/** What a {@link Bmc} is built from (internal). */
interface BmcInit {
  readonly transport: UdpTransport;
  readonly host: string;
  readonly port: number;
  readonly username: Buffer;
  readonly password: Buffer;
  readonly kg: Buffer | undefined;
  readonly privilege: number;
  readonly suites: readonly CipherSuiteId[];
  readonly computer: string | undefined;
  readonly retry: ResolvedRetryPolicy;
  readonly timeoutMs: number;
  readonly keepaliveMs: number;
  readonly sessionTimeoutMs: number;
  readonly reestablishAfterTimeouts: number;
  readonly debug: ((line: string) => void) | undefined;
  newSessionId(): number;
  isClientClosed(): boolean;
}

/**
 * One BMC, reached through an {@link IpmiClient}'s shared socket. Every call sets the session up
 * if needed, honours its `signal` and `timeoutMs`, and throws typed errors
 * (`VLAB_ERR_IPMI_*`, `VLAB_ERR_OP_CANCELLED`) that name the BMC, never the password.
 * @public
 */
export interface Bmc {
  /** The BMC as "host:port", as errors name it. */
  readonly address: string;
  /** Whether {@link Bmc.close} was called. */
  readonly closed: boolean;
  /** The cipher suite of the open session, or undefined when none is open. */
  cipherSuite(): Promise<CipherSuiteId | undefined>;
  /** Get Device ID (IPMI v2.0 §20.1): the BMC's firmware and IPMI version, manufacturer and product. */
  deviceId(options?: CallOptions): Promise<DeviceId>;
  /** Get Chassis Status (§28.2): power, faults, restore policy, last power event. */
  chassisStatus(options?: CallOptions): Promise<ChassisStatus>;
  /** The power state, `on` or `off` (Get Chassis Status bit 0). */
  powerStatus(options?: CallOptions): Promise<'on' | 'off'>;
  /**
   * Chassis Control (§28.3). `on` and `off` set a state and are retried like reads. `cycle`,
   * `reset`, `soft` and `diag` are sent once: if the reply is lost, the chassis status is read to
   * decide (a cycle also reads it before) — the result then says `confirmedBy: 'chassis-status'`
   * — and when that cannot tell, the call throws `VLAB_ERR_IPMI_OUTCOME_UNKNOWN` instead of
   * sending the command again.
   */
  power(action: PowerAction, options?: CallOptions): Promise<PowerActionResult>;
  /**
   * Sets the boot device (Set System Boot Options parameter 5, §28.12–§28.13) for the next boot
   * or persistently, legacy or EFI; by default first sets parameter 3 so the BMC keeps the flags
   * past 60 s. Retried like a read: setting it twice is harmless.
   */
  setBootDevice(device: BootDevice, options?: BootDeviceOptions): Promise<void>;
  /** Reads the boot flags (Get System Boot Options parameter 5). */
  bootFlags(options?: CallOptions): Promise<BootFlags>;
  /**
   * Sends any command inside the session and returns the completion code and data without
   * judging them. `retry` defaults to `never`: mark a command `safe` only if sending it twice
   * does no harm.
   * @param netFn - Network function of the request (even, 0x00–0x3E).
   * @param cmd - Command number.
   * @param data - Request data, at most 255 bytes.
   */
  raw(
    netFn: number,
    cmd: number,
    data?: Uint8Array | readonly number[],
    options?: RawOptions,
  ): Promise<RawReply>;
  /**
   * Sends an ASF presence ping (§13.2.3) outside any session and waits for the pong: a cheap
   * "is a BMC there" check. Retried under the client's retry policy.
   */
  ping(options?: CallOptions): Promise<PresencePong>;
  /**
   * A read-only power probe for `@vlab/core` (`waitForPowerState`, OS modules): `status()` reads
   * the chassis power with a 10 s default timeout, as the contract asks.
   */
  powerProbe(): PowerProbe;
  /** Closes the session (Close Session, waiting at most 1 s for its reply). Later calls throw `VLAB_ERR_IPMI_CLIENT_CLOSED`. */
  close(): Promise<void>;
}

/** The implementation of {@link Bmc}. */
class BmcHandle implements Bmc {
  /** The BMC as "host:port", as errors name it. */
  readonly address: string;
  readonly #init: BmcInit;
  readonly #forget: () => void;
  #driver: Promise<SessionDriver> | undefined;
  #resolved: Promise<string> | undefined;
  #closed = false;

  constructor(init: BmcInit, forget: () => void) {
    this.#init = init;
    this.#forget = forget;
    this.address = UdpTransport.key(init.host, init.port);
  }

  /** Whether {@link Bmc.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The cipher suite of the open session, or undefined when none is open. */
  async cipherSuite(): Promise<CipherSuiteId | undefined> {
    if (this.#driver === undefined) return undefined;
    return (await this.#driver.catch(() => undefined))?.cipherSuite;
  }

  /** Get Device ID (§20.1): the BMC's firmware and IPMI version, manufacturer and product. */
  async deviceId(options: CallOptions = {}): Promise<DeviceId> {
    const reply = await this.#command(
      NetFn.APP,
      AppCmd.GET_DEVICE_ID,
      [],
      'safe',
      options,
      'mc info',
    );
    return this.#parsed(parseDeviceId(reply.data), 'Get Device ID', reply);
  }

  /** Get Chassis Status (§28.2): power, faults, restore policy, last power event. */
  async chassisStatus(options: CallOptions = {}): Promise<ChassisStatus> {
    const reply = await this.#command(
      NetFn.CHASSIS,
      ChassisCmd.GET_CHASSIS_STATUS,
      [],
      'safe',
      options,
      'chassis status',
    );
    return this.#parsed(parseChassisStatus(reply.data), 'Get Chassis Status', reply);
  }

  /** The power state: `on` or `off` (Get Chassis Status bit 0). */
  async powerStatus(options: CallOptions = {}): Promise<'on' | 'off'> {
    return (await this.chassisStatus(options)).powerOn ? 'on' : 'off';
  }

  /**
   * Chassis Control (§28.3). `on` and `off` set a state and are retried like reads. `cycle`,
   * `reset`, `soft` and `diag` are sent once: if the reply is lost, the chassis status is read to
   * decide — the result then says `confirmedBy: 'chassis-status'` — and when it cannot tell,
   * the call throws `VLAB_ERR_IPMI_OUTCOME_UNKNOWN` instead of sending the command again.
   */
  async power(action: PowerAction, options: CallOptions = {}): Promise<PowerActionResult> {
    if (!Object.hasOwn(POWER_ACTION_CODE, action)) {
      throw ipmiError(
        'VLAB_ERR_IPMI_ARGUMENT_INVALID',
        `BMC ${this.address}: unknown power action "${String(action)}" (on, off, cycle, reset, soft, diag)`,
        { computer: this.#init.computer, details: { bmc: this.address } },
      );
    }
    const code = POWER_ACTION_CODE[action];
    const operation = `power ${action}`;
    if (POWER_ACTION_IDEMPOTENT[action]) {
      await this.#command(
        NetFn.CHASSIS,
        ChassisCmd.CHASSIS_CONTROL,
        [code],
        'safe',
        options,
        operation,
      );
      return { action, confirmedBy: 'reply' };
    }
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? this.#init.timeoutMs;
    // For a cycle, the status before it is what a lost reply is judged against.
    const before = action === 'cycle' ? await this.chassisStatus(options) : undefined;
    try {
      await this.#command(
        NetFn.CHASSIS,
        ChassisCmd.CHASSIS_CONTROL,
        [code],
        'never',
        options,
        operation,
      );
      return { action, confirmedBy: 'reply' };
    } catch (error) {
      if (!mayHaveRun(error)) throw error;
      const left = Math.max(timeoutMs - (Date.now() - started), 5000);
      let after: ChassisStatus;
      try {
        after = await this.chassisStatus({ ...options, timeoutMs: left });
      } catch (statusError) {
        throw this.#outcomeUnknown(action, 'the chassis status could not be read either', {
          cause: statusError,
        });
      }
      const ran =
        (action === 'soft' && !after.powerOn) ||
        (action === 'cycle' &&
          before !== undefined &&
          ((before.powerOn && !after.powerOn) ||
            (!before.lastPowerEvent.powerOnByIpmi && after.lastPowerEvent.powerOnByIpmi)));
      if (ran) {
        this.#init.debug?.(
          `[${this.address}] ${operation}: reply lost, chassis status shows it ran`,
        );
        return { action, confirmedBy: 'chassis-status' };
      }
      throw this.#outcomeUnknown(
        action,
        `the chassis status (power ${after.powerOn ? 'on' : 'off'}, last power event ${hex(after.lastPowerEventByte)}) does not tell`,
        {
          cause: error,
          after: { powerOn: after.powerOn, lastPowerEvent: after.lastPowerEventByte },
          before:
            before === undefined
              ? undefined
              : { powerOn: before.powerOn, lastPowerEvent: before.lastPowerEventByte },
        },
      );
    }
  }

  /**
   * Sets the boot device (Set System Boot Options parameter 5, §28.12–§28.13): for the next boot
   * or persistently, legacy or EFI. Retried like a read: setting it twice is harmless.
   */
  async setBootDevice(device: BootDevice, options: BootDeviceOptions = {}): Promise<void> {
    if (!Object.hasOwn(BootDeviceSelector, device)) {
      throw ipmiError(
        'VLAB_ERR_IPMI_ARGUMENT_INVALID',
        `BMC ${this.address}: unknown boot device "${String(device)}" (${Object.keys(BootDeviceSelector).join(', ')})`,
        { computer: this.#init.computer, details: { bmc: this.address } },
      );
    }
    if (options.keepValid !== false) {
      await this.#command(
        NetFn.CHASSIS,
        ChassisCmd.SET_SYSTEM_BOOT_OPTIONS,
        [...keepBootFlagsRequest()],
        'safe',
        options,
        'bootdev',
      );
    }
    await this.#command(
      NetFn.CHASSIS,
      ChassisCmd.SET_SYSTEM_BOOT_OPTIONS,
      [...setBootFlagsRequest(device, options)],
      'safe',
      options,
      'bootdev',
    );
  }

  /** Reads the boot flags (Get System Boot Options parameter 5). */
  async bootFlags(options: CallOptions = {}): Promise<BootFlags> {
    const reply = await this.#command(
      NetFn.CHASSIS,
      ChassisCmd.GET_SYSTEM_BOOT_OPTIONS,
      [...getBootFlagsRequest()],
      'safe',
      options,
      'bootparam get 5',
    );
    return this.#parsed(parseBootFlags(reply.data), 'Get System Boot Options', reply);
  }

  /**
   * Sends any command inside the session and returns the completion code and data without
   * judging them. `retry` defaults to `never`: only mark a command `safe` if sending it twice
   * does no harm.
   */
  async raw(
    netFn: number,
    cmd: number,
    data: Uint8Array | readonly number[] = [],
    options: RawOptions = {},
  ): Promise<RawReply> {
    const bytes = Uint8Array.from(data);
    if (!Number.isInteger(netFn) || netFn < 0 || netFn > 0x3f || netFn % 2 !== 0) {
      throw this.#invalid(`netFn ${netFn} must be an even number from 0x00 to 0x3e (a request)`);
    }
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) {
      throw this.#invalid(`cmd ${cmd} must be a byte`);
    }
    if (bytes.length > 255) throw this.#invalid('raw data is limited to 255 bytes');
    const driver = await this.#driverFor(options);
    return driver.call({
      netFn,
      cmd,
      data: bytes,
      retry: options.retry ?? 'never',
      timeoutMs: options.timeoutMs ?? this.#init.timeoutMs,
      signal: options.signal,
      operation: `raw ${hex(netFn)} ${hex(cmd)}`,
    });
  }

  /**
   * Sends an ASF presence ping (§13.2.3) outside any session and waits for the pong: a cheap
   * "is a BMC there" check. Retried under the client's retry policy.
   */
  async ping(options: CallOptions = {}): Promise<PresencePong> {
    this.#assertOpen();
    const address = await this.#resolve(options);
    const transport = this.#init.transport;
    const timeoutMs = options.timeoutMs ?? this.#init.timeoutMs;
    const retry = this.#init.retry;
    const tag = (randomBytes(1)[0] ?? 0) % 255;
    return new Promise<PresencePong>((resolve, reject) => {
      const release = transport.hold();
      const started = Date.now();
      let attempt = 0;
      let sentAt = 0;
      let timer: NodeJS.Timeout | undefined;
      const sink = {
        receive: (datagram: Buffer): void => {
          try {
            const packet = parseDatagram(datagram);
            if (
              packet.kind !== 'asf' ||
              packet.messageType !== ASF_TYPE_PRESENCE_PONG ||
              packet.tag !== tag
            ) {
              return;
            }
            finish();
            resolve({
              ipmi: ((packet.data[8] ?? 0) & ASF_ENTITY_IPMI_SUPPORTED) !== 0,
              rmcpSecurityExtensions: ((packet.data[9] ?? 0) & ASF_INTERACTION_RMCP_SECURITY) !== 0,
              rttMs: Date.now() - sentAt,
            });
          } catch (error) {
            if (!(error instanceof MalformedPacketError)) throw error;
          }
        },
      };
      const finish = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        transport.unregister(address, this.#init.port, sink);
        release();
      };
      const onAbort = (): void => {
        finish();
        reject(abortError(options.signal as AbortSignal, this.#init.computer, 'ping'));
      };
      const send = (): void => {
        const elapsed = Date.now() - started;
        if (attempt >= retry.maxAttempts || elapsed >= timeoutMs) {
          finish();
          reject(
            ipmiError(
              'VLAB_ERR_IPMI_NO_RESPONSE',
              `BMC ${this.address} did not answer the ASF presence ping: ${attempt} attempt(s)`,
              {
                computer: this.#init.computer,
                details: { bmc: this.address, attempts: attempt, phase: 'ping' },
              },
            ),
          );
          return;
        }
        attempt += 1;
        sentAt = Date.now();
        transport.send(address, this.#init.port, encodeAsfPing(tag)).catch((error: unknown) => {
          finish();
          reject(this.#socketError(error));
        });
        timer = setTimeout(send, Math.min(attemptTimeout(retry, attempt), timeoutMs - elapsed));
      };
      if (options.signal?.aborted === true) {
        release();
        reject(abortError(options.signal, this.#init.computer, 'ping'));
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      transport.register(address, this.#init.port, sink);
      send();
    });
  }

  /**
   * A read-only power probe for `@vlab/core` (`waitForPowerState`, OS modules): `status()` reads
   * the chassis power, with a 10 s default timeout as the contract asks.
   */
  powerProbe(): PowerProbe {
    return {
      status: async (options?: { readonly signal?: AbortSignal }): Promise<PowerState> =>
        this.powerStatus({
          timeoutMs: Math.min(10_000, this.#init.timeoutMs),
          ...(options?.signal === undefined ? {} : { signal: options.signal }),
        }),
    };
  }

  /** Closes the session (Close Session, waiting at most 1 s for its reply). Calls after it throw `VLAB_ERR_IPMI_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#forget();
    const driver = await this.#driver?.catch(() => undefined);
    await driver?.close();
  }

  async #command(
    netFn: number,
    cmd: number,
    data: readonly number[],
    retry: 'safe' | 'never',
    options: CallOptions,
    operation: string,
  ): Promise<CommandReply> {
    const driver = await this.#driverFor(options);
    const reply = await driver.call({
      netFn,
      cmd,
      data: Uint8Array.from(data),
      retry,
      timeoutMs: options.timeoutMs ?? this.#init.timeoutMs,
      signal: options.signal,
      operation,
    });
    if (reply.completionCode !== 0) {
      const meaning = COMPLETION_CODE_TEXT[reply.completionCode] ?? 'command-specific';
      throw ipmiError(
        'VLAB_ERR_IPMI_COMPLETION_CODE',
        `BMC ${this.address} answered ${operation} (netFn ${hex(netFn)} cmd ${hex(cmd)}) with completion code ${hex(reply.completionCode)}: ${meaning}`,
        {
          computer: this.#init.computer,
          details: {
            bmc: this.address,
            netFn,
            cmd,
            completionCode: reply.completionCode,
            meaning,
            operation,
          },
        },
      );
    }
    return reply;
  }

  #parsed<T>(value: T | undefined, what: string, reply: CommandReply): T {
    if (value !== undefined) return value;
    throw ipmiError(
      'VLAB_ERR_IPMI_PROTOCOL_ERROR',
      `BMC ${this.address}: the ${what} response is too short (${reply.data.length} data bytes)`,
      {
        computer: this.#init.computer,
        details: { bmc: this.address, what, data: Buffer.from(reply.data).toString('hex') },
      },
    );
  }

  #outcomeUnknown(
    action: PowerAction,
    why: string,
    extra: { cause: unknown } & Record<string, unknown>,
  ): VlabError {
    const { cause, ...details } = extra;
    return ipmiError(
      'VLAB_ERR_IPMI_OUTCOME_UNKNOWN',
      `BMC ${this.address}: the reply to power ${action} was lost and ${why}; it was not sent again`,
      { computer: this.#init.computer, cause, details: { bmc: this.address, action, ...details } },
    );
  }

  #invalid(what: string): VlabError {
    return ipmiError('VLAB_ERR_IPMI_ARGUMENT_INVALID', `BMC ${this.address}: ${what}`, {
      computer: this.#init.computer,
      details: { bmc: this.address },
    });
  }

  #socketError(error: unknown): VlabError {
    return ipmiError(
      'VLAB_ERR_IPMI_SOCKET_FAILED',
      `BMC ${this.address}: ${(error as Error).message}`,
      { computer: this.#init.computer, cause: error, details: { bmc: this.address } },
    );
  }

  #assertOpen(): void {
    if (this.#closed || this.#init.isClientClosed()) {
      throw ipmiError('VLAB_ERR_IPMI_CLIENT_CLOSED', `BMC ${this.address}: the handle is closed`, {
        computer: this.#init.computer,
        details: { bmc: this.address },
      });
    }
  }

  /** The BMC's IP address (looked up once). */
  #resolve(options: CallOptions): Promise<string> {
    if (this.#resolved === undefined) {
      const host = this.#init.host;
      this.#resolved =
        isIP(host) !== 0
          ? Promise.resolve(host)
          : lookup(host).then(
              (result) => result.address,
              (error: unknown) => {
                this.#resolved = undefined;
                throw ipmiError(
                  'VLAB_ERR_IPMI_SOCKET_FAILED',
                  `BMC ${this.address}: the host name does not resolve (${(error as Error).message})`,
                  { computer: this.#init.computer, cause: error, details: { bmc: this.address } },
                );
              },
            );
    }
    const resolved = this.#resolved;
    if (options.signal === undefined) return resolved;
    return untilCancelled(resolved, options.signal, this.#init.computer);
  }

  async #driverFor(options: CallOptions): Promise<SessionDriver> {
    this.#assertOpen();
    if (this.#driver === undefined) {
      const init = this.#init;
      this.#driver = this.#resolve(options).then(
        async (address) => {
          await init.transport.open(address).catch((error: unknown) => {
            throw this.#socketError(error);
          });
          return new SessionDriver(init.transport, address, init.port, {
            bmc: this.address,
            computer: init.computer,
            username: init.username,
            password: init.password,
            kg: init.kg,
            privilege: init.privilege,
            cipherSuites: init.suites,
            consoleSessionId: init.newSessionId(),
            random: (length) => randomBytes(length),
            retry: init.retry,
            keepaliveMs: init.keepaliveMs,
            sessionTimeoutMs: init.sessionTimeoutMs,
            reestablishAfterTimeouts: init.reestablishAfterTimeouts,
            debug: init.debug,
          });
        },
        (error: unknown) => {
          this.#driver = undefined;
          throw error;
        },
      );
    }
    return this.#driver;
  }
}
