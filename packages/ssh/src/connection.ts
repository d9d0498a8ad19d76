import type { Readable } from 'node:stream';
import { abortError, coreError, type VlabError } from '@vlab/core';
import ssh2, {
  type Algorithms,
  type Client,
  type ClientChannel,
  type ConnectConfig,
  type SFTPWrapper,
} from 'ssh2';
import { sshError } from './errors.js';
import {
  blobToLine,
  fingerprint,
  type HostKeyStore,
  hostKeyAlgorithmsFor,
  type PublicKey,
  parsePublicKey,
} from './host-key.js';
import { computerOf, describeTarget, pinId, type SshTarget } from './target.js';

// ssh2 is CommonJS: Node's named-export detection misses these, so take them off the default.
const { Client: SshClientClass, utils } = ssh2;

/** What to do when the store has no pin for a host. @public */
export type UnknownHostKeyPolicy = 'refuse' | 'pin';

/** The settings a connection is opened with (the pool's options, resolved). @internal */
export interface ConnectionSettings {
  readonly hostKeys: HostKeyStore;
  readonly unknownHostKey: UnknownHostKeyPolicy;
  readonly readyTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly debug: ((message: string) => void) | undefined;
  /** Called when a host key was pinned under the 'pin' policy. */
  readonly onPinned: ((hostId: string, fingerprint: string) => void) | undefined;
}

/**
 * Why a channel could not be used. `started: false` means the server cannot have run anything
 * (the channel never opened), so trying again is safe; `refused` means the server said no to
 * the channel itself (OpenSSH's answer past MaxSessions: back-pressure).
 * @internal
 */
export class ChannelOpenError extends Error {
  readonly started: boolean;
  readonly refused: boolean;
  constructor(message: string, started: boolean, refused: boolean, cause?: unknown) {
    super(message, { cause });
    this.started = started;
    this.refused = refused;
  }
}

/** An exec channel with its exit status (once known) and its close. @internal */
export interface ExecChannel {
  readonly channel: ClientChannel;
  /** What the server reported in `exit-status` or `exit-signal`, once it did. */
  exit: { readonly code: number | null; readonly signal: string | undefined } | undefined;
  /** Resolves when the channel closed. */
  readonly closed: Promise<void>;
}

/** Maps a connect failure of ssh2 to a vlab error naming the host. */
function connectError(error: unknown, target: SshTarget, cause: unknown): VlabError {
  const computer = computerOf(target);
  const where = describeTarget(target);
  const e = error as { level?: string; code?: string; message?: string };
  const message = e.message ?? String(error);
  if (e.level === 'client-authentication') {
    return sshError(
      'VLAB_ERR_SSH_AUTH_FAILED',
      `${where} refused every authentication method offered (${message})`,
      {
        computer,
        cause,
        details: { host: target.host, port: target.port ?? 22, user: target.user },
      },
    );
  }
  const socketLevel = e.level === 'client-socket' || e.level === 'client-dns';
  if (socketLevel || e.level === 'client-timeout' || /before handshake/.test(message)) {
    return coreError(
      'VLAB_ERR_COMPUTER_UNREACHABLE',
      `SSH to ${where} failed: ${e.code ?? message}`,
      { computer, cause, details: { host: target.host, port: target.port ?? 22, code: e.code } },
    );
  }
  return sshError(
    'VLAB_ERR_SSH_HANDSHAKE_FAILED',
    `SSH handshake with ${where} failed: ${message}`,
    {
      computer,
      cause,
      details: { host: target.host, port: target.port ?? 22 },
    },
  );
}

/** ssh2 connect options for the target's authentication; validates a private key first. */
function authConfig(target: SshTarget): Partial<ConnectConfig> {
  const auth = target.auth;
  if (auth.kind === 'password') return { password: auth.password.reveal() };
  if (auth.kind === 'agent') {
    const socket = auth.socket ?? process.env['SSH_AUTH_SOCK'];
    if (socket === undefined || socket === '') {
      throw sshError(
        'VLAB_ERR_SSH_AUTH_FAILED',
        `agent authentication for ${describeTarget(target)} needs an agent socket, and SSH_AUTH_SOCK is not set`,
        { computer: computerOf(target) },
      );
    }
    return { agent: socket };
  }
  const key = auth.privateKey.reveal();
  const passphrase = auth.passphrase?.reveal();
  const parsed = utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    // ssh2's messages name the problem ("Encrypted private OpenSSH key detected, but no
    // passphrase given"), never the key.
    throw sshError(
      'VLAB_ERR_SSH_KEY_INVALID',
      `the private key for ${describeTarget(target)} cannot be used: ${parsed.message}`,
      { computer: computerOf(target) },
    );
  }
  return passphrase === undefined ? { privateKey: key } : { privateKey: key, passphrase };
}

/**
 * One authenticated SSH connection (an ssh2 `Client`) to one target, with Nagle's algorithm off,
 * keepalive on, and the host key checked against the store's pins before anything is sent.
 * The pool counts its channels and decides when to open and close connections.
 * @internal
 */
export class SshConnection {
  readonly target: SshTarget;
  readonly client: Client;
  /** Session channels open (or opening) on it, as the pool counts them. */
  active = 0;
  /** Forwarded connections that run through it (it must stay open for them). */
  dependents = 0;
  /** No new channel before this time (ms since epoch): the server refused one. */
  backoffUntil = 0;
  /** How many refusals in a row. */
  refusals = 0;
  /** When a channel on it last closed. */
  lastReleaseAt = 0;
  idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #closeListeners: (() => void)[] = [];
  #lastError: unknown;

  private constructor(target: SshTarget, client: Client) {
    this.target = target;
    this.client = client;
    client.on('close', () => {
      this.#closed = true;
      if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
      for (const listener of this.#closeListeners.splice(0)) listener();
    });
    client.on('error', (error) => {
      this.#lastError = error;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * ssh2 threw before sending anything (its socket no longer writable: the server ended the
   * connection, and the close has not been emitted yet). The connection counts as closed from
   * now on, so the pool opens another instead of choosing this one again.
   */
  #unusable(error: unknown): ChannelOpenError {
    this.#closed = true;
    this.#lastError ??= error;
    try {
      this.client.end();
    } catch {
      // already ending
    }
    return new ChannelOpenError('the connection is not usable', false, false, error);
  }

  /** The error that ended the connection, if one did. */
  get lastError(): unknown {
    return this.#lastError;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /**
   * Connects, verifies the host key against the pins of the target's host id, and
   * authenticates. Rejects with `VLAB_ERR_HOSTKEY_MISMATCH` (naming both fingerprints),
   * `VLAB_ERR_SSH_HOSTKEY_UNKNOWN`, `VLAB_ERR_SSH_AUTH_FAILED`, `VLAB_ERR_COMPUTER_UNREACHABLE`,
   * `VLAB_ERR_SSH_HANDSHAKE_FAILED`, or the abort error of `signal`.
   */
  static async open(
    target: SshTarget,
    settings: ConnectionSettings,
    signal: AbortSignal,
    sock?: Readable,
  ): Promise<SshConnection> {
    const computer = computerOf(target);
    if (signal.aborted) throw abortError(signal, computer, `SSH connect to ${target.host}`);
    const hostId = pinId(target);
    const auth = authConfig(target);
    const pins: PublicKey[] = (await settings.hostKeys.get(hostId)).map((line) =>
      parsePublicKey(line),
    );
    if (signal.aborted) throw abortError(signal, computer, `SSH connect to ${target.host}`);

    let presented: Buffer | undefined;
    let verdict: 'ok' | 'mismatch' | 'unknown' | undefined;
    const serverHostKey = hostKeyAlgorithmsFor(pins);
    const algorithms: Algorithms | undefined =
      serverHostKey === undefined ? undefined : { serverHostKey: serverHostKey as never };

    const client = new SshClientClass();
    const connection = new SshConnection(target, client);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port ?? 22,
      username: target.user,
      readyTimeout: settings.readyTimeoutMs,
      keepaliveInterval: settings.keepaliveIntervalMs,
      keepaliveCountMax: settings.keepaliveCountMax,
      ...(algorithms === undefined ? {} : { algorithms }),
      ...(settings.debug === undefined ? {} : { debug: settings.debug }),
      ...(sock === undefined ? {} : { sock }),
      ...auth,
      hostVerifier: (key: Buffer): boolean => {
        presented = Buffer.from(key);
        if (pins.some((pin) => pin.blob.equals(key))) verdict = 'ok';
        else if (pins.length > 0) verdict = 'mismatch';
        else verdict = settings.unknownHostKey === 'pin' ? 'ok' : 'unknown';
        return verdict === 'ok';
      },
    };

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else {
          client.end();
          reject(error);
        }
      };
      const onAbort = (): void =>
        finish(abortError(signal, computer, `SSH connect to ${target.host}`));
      signal.addEventListener('abort', onAbort, { once: true });
      client.once('ready', () => finish());
      client.on('error', (error) => {
        if (verdict === 'mismatch' && presented !== undefined) {
          const got = fingerprint(presented);
          const pinned = pins.map((pin) => fingerprint(pin.blob));
          finish(
            coreError(
              'VLAB_ERR_HOSTKEY_MISMATCH',
              `${describeTarget(target)} presented host key ${got}, but ${hostId} is pinned to ${pinned.join(', ')}`,
              {
                computer,
                cause: error,
                details: { host: target.host, hostId, presented: got, pinned },
              },
            ),
          );
        } else if (verdict === 'unknown' && presented !== undefined) {
          const got = fingerprint(presented);
          finish(
            sshError(
              'VLAB_ERR_SSH_HOSTKEY_UNKNOWN',
              `${describeTarget(target)} presented host key ${got}, and nothing is pinned for ${hostId}`,
              { computer, cause: error, details: { host: target.host, hostId, presented: got } },
            ),
          );
        } else finish(connectError(error, target, error));
      });
      client.once('close', () =>
        finish(
          coreError(
            'VLAB_ERR_COMPUTER_UNREACHABLE',
            `SSH to ${describeTarget(target)} closed during the handshake`,
            { computer, details: { host: target.host, port: target.port ?? 22 } },
          ),
        ),
      );
      try {
        client.connect(config);
      } catch (error) {
        finish(connectError(error, target, error));
      }
    });

    client.setNoDelay(true);
    if (pins.length === 0 && presented !== undefined) {
      // Only reached under the explicit 'pin' policy; reported through onPinned.
      await settings.hostKeys.replace(hostId, [blobToLine(presented)]);
      settings.onPinned?.(hostId, fingerprint(presented));
    }
    return connection;
  }

  /**
   * Opens a session channel and starts `command` on it. The channel's `exit` and `close` are
   * watched from the very callback that hands it over: a fast program's exit status, EOF and
   * close can arrive in the same read, before any later listener would be attached.
   *
   * It takes no signal on purpose: once the channel open is sent, nothing stops the exec request
   * (ssh2 sends it on the server's confirmation) and the server may start the program whatever
   * the client does next. The caller always gets the channel, to end what runs on it.
   */
  openExec(command: string): Promise<ExecChannel> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new ChannelOpenError('the connection is closed', false, false));
        return;
      }
      try {
        this.client.exec(command, (error, channel) => {
          if (error !== undefined) {
            reject(this.#channelError(error));
            return;
          }
          const opened: ExecChannel = {
            channel,
            exit: undefined,
            closed: new Promise<void>((done) => channel.once('close', () => done())),
          };
          channel.once('exit', (code: number | null, signal?: string) => {
            opened.exit = { code, signal };
          });
          resolve(opened);
        });
      } catch (error) {
        reject(this.#unusable(error));
      }
    });
  }

  /** Opens an SFTP session (a session channel with the sftp subsystem). */
  openSftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new ChannelOpenError('the connection is closed', false, false));
        return;
      }
      try {
        this.client.sftp((error, sftp) => {
          if (error === undefined) resolve(sftp);
          // SFTP sessions are idempotent to start: nothing ran yet.
          else {
            const mapped = this.#channelError(error);
            reject(new ChannelOpenError(mapped.message, false, mapped.refused, error));
          }
        });
      } catch (error) {
        reject(this.#unusable(error));
      }
    });
  }

  /** Opens a TCP forward to `host:port` through this connection (for a jump host). */
  forward(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
          if (error === undefined) resolve(channel);
          else reject(error);
        });
      } catch (error) {
        reject(error);
      }
    });
  }

  #channelError(error: Error): ChannelOpenError {
    const reason = (error as { reason?: unknown }).reason;
    // A channel-open failure carries the RFC 4254 reason code; nothing ran.
    if (typeof reason === 'number') return new ChannelOpenError(error.message, false, true, error);
    // ssh2's word for CHANNEL_FAILURE in reply to the exec request: the server ran nothing.
    if (error.message === 'Unable to exec' && !this.#closed) {
      return new ChannelOpenError(error.message, false, true, error);
    }
    // Anything else (connection lost after the exec request may have gone out): it may have run.
    return new ChannelOpenError(error.message, true, false, error);
  }

  /** Ends the connection; resolves once it is closed (or after 2 s). */
  end(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000);
      timer.unref();
      this.onClose(() => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }
}
