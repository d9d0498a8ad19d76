import { constants } from 'node:os';
import { type Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { abortError, coreError, isVlabError, type VlabError } from '@vlab/core';
import type { ClientChannel } from 'ssh2';
import { ChannelOpenError, type ExecChannel, type SshConnection } from './connection.js';
import { operationSignal, UNANSWERED_MS } from './deadline.js';
import { sshError } from './errors.js';
import type { ConnectionPool } from './pool.js';
import { encodePowerShellCommand, powerShellKillCommand, powerShellScript } from './powershell.js';
import { assertCommandLineLength, quoteCommand } from './quote.js';
import { computerOf, describeTarget, type RemoteShell, type SshTarget } from './target.js';

/** Options of {@link SshClient.spawn}. @public */
export interface SpawnOptions {
  /** Ends the remote process group and rejects `exit` with the cancel error when it fires. */
  readonly signal?: AbortSignal | undefined;
  /** Ends the remote process group after this many ms. Default: no limit. */
  readonly timeoutMs?: number | undefined;
  /** Run through `sudo -n` (as root; the login user needs passwordless sudo). */
  readonly sudo?: boolean | undefined;
  /**
   * After SIGTERM to the process group, how long before SIGKILL, in ms. Default: 2000. Not used on
   * a PowerShell target: `taskkill /T /F` ends its process tree at once (Windows has no SIGTERM).
   */
  readonly killGraceMs?: number | undefined;
}

/** How a remote program ended. @public */
export interface RemoteExit {
  /** The exit code; 128 + n when signal n killed it. */
  readonly code: number;
  /** The signal that killed it (`'TERM'`, `'KILL'`), if one did. */
  readonly signal: string | undefined;
}

/** A program running on the remote computer, with its streams. @public */
export interface RemoteProcess {
  /** Its stdin; `end()` it to send EOF. Writes respect back-pressure (the SSH window). */
  readonly stdin: Writable;
  /** Its stdout, with back-pressure: a slow reader slows the remote writer. */
  readonly stdout: Readable;
  /** Its stderr (without the line the wrapper uses to report the process group). */
  readonly stderr: Readable;
  /**
   * Settles when it ended: with its exit, or rejects with the cancel or timeout error,
   * `VLAB_ERR_CONNECTION_LOST` if the connection dropped. Code -1 when the server reported no
   * exit status (the channel closed without one, or {@link RemoteProcess.kill} stopped waiting
   * for it). Settled by the time `kill()` resolved.
   */
  readonly exit: Promise<RemoteExit>;
  /**
   * Ends its whole process group (SIGTERM, then SIGKILL after the grace time). Idempotent; never
   * rejects. Resolves once the group is gone and the channel closed, whether or not anybody
   * still reads stdout and stderr: after the group ended, output not yet read is discarded
   * (streams piped elsewhere are unpiped), and the channel's close is waited for at most 1 s.
   * A machine that gives no sign of life within 1 s (frozen, cut off) is not waited for, nor
   * one that answers but has not finished after the grace time and 2 s: the kill goes on in the
   * background. An abort or timeout waits the same way before `exit` rejects.
   */
  kill(): Promise<void>;
}

const MARKER = 'vlab-pid:';

/**
 * The command line that runs `argv` so it can be ended as a group: the shell sshd starts is a
 * session (and process group) leader, it reports its pid (= the group id) on stderr and then
 * `exec`s the program in place, so every child of the program is in that group.
 * @internal
 */
export function wrapCommand(
  argv: readonly string[],
  sudo: boolean,
  shell: RemoteShell = 'posix',
): string {
  if (shell === 'powershell') {
    if (sudo) {
      throw coreError(
        'VLAB_ERR_ARGUMENT_INVALID',
        'sudo is a POSIX command; a PowerShell target has none',
        {
          hint: 'Log in to the Windows computer as an administrator (its SSH logon runs elevated) and run the command without sudo.',
        },
      );
    }
    return encodePowerShellCommand(powerShellScript(argv));
  }
  const line = `echo ${MARKER}$$ >&2; exec ${sudo ? 'sudo -n -- ' : ''}${quoteCommand(argv)}`;
  assertCommandLineLength(line);
  return line;
}

/**
 * The command line that ends process group `pid` (and `pid` itself, should it not lead a group):
 * SIGTERM, a grace time, then SIGKILL to whatever is left, and a last wait (at most 2 s) until
 * nothing of it lives, so that the call settles after its processes ended. A zombie does not
 * count: an orphan's is reaped only when init gets to it, and some inits (in containers) take
 * seconds; `/proc` tells them apart, and `kill -0` stands in where there is none.
 * `kill -SIG -pgid` is the form both dash and bash accept.
 * @internal
 */
export function killCommand(
  pid: number,
  graceMs: number,
  sudo: boolean,
  shell: RemoteShell = 'posix',
): string {
  if (shell === 'powershell') return powerShellKillCommand(pid);
  const rounds = Math.max(0, Math.ceil(graceMs / 50));
  const script =
    `p=${pid}; ` +
    'alive() { if [ -r /proc/self/stat ]; then for f in /proc/[0-9]*/stat; do ' +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'read -r l 2>/dev/null <"$f" || continue; set -- ${l##*") "}; ' +
    'case $1 in Z|X) continue;; esac; ' +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    '{ [ "$3" = "$p" ] || [ "${l%% *}" = "$p" ]; } && return 0; done; return 1; fi; ' +
    'kill -0 -$p 2>/dev/null || kill -0 $p 2>/dev/null; }; ' +
    'kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null; i=0; ' +
    `while [ $i -lt ${rounds} ] && alive; do sleep 0.05; i=$((i+1)); done; ` +
    'kill -KILL -$p 2>/dev/null; kill -KILL $p 2>/dev/null; i=0; ' +
    'while [ $i -lt 40 ] && alive; do sleep 0.05; i=$((i+1)); done; exit 0';
  return sudo ? `sudo -n sh -c ${quoteCommand([script])}` : script;
}

/** Passes stderr through, minus the marker line with the remote pid. */
class MarkerStripper extends Transform {
  #pending: Buffer | undefined = Buffer.alloc(0);
  readonly #onPid: (pid: number | undefined) => void;

  constructor(onPid: (pid: number | undefined) => void) {
    super();
    this.#onPid = onPid;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#pending === undefined) {
      callback(null, chunk);
      return;
    }
    let buffer = Buffer.concat([this.#pending, chunk]);
    // Lines before the marker (a noisy login shell) pass through.
    for (;;) {
      const newline = buffer.indexOf(10);
      if (newline === -1) break;
      const line = buffer.subarray(0, newline).toString('latin1');
      // Windows ends its lines with CR LF.
      const pid = line.slice(MARKER.length).replace(/\r$/, '');
      if (line.startsWith(MARKER) && /^\d+$/.test(pid)) {
        this.#pending = undefined;
        this.#onPid(Number(pid));
        const rest = buffer.subarray(newline + 1);
        callback(null, rest.length > 0 ? rest : undefined);
        return;
      }
      this.push(buffer.subarray(0, newline + 1));
      buffer = buffer.subarray(newline + 1);
    }
    if (buffer.length > 4096) {
      this.#pending = undefined;
      this.#onPid(undefined);
      callback(null, buffer);
      return;
    }
    this.#pending = buffer;
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pending !== undefined) {
      this.#onPid(undefined);
      const rest = this.#pending;
      this.#pending = undefined;
      callback(null, rest.length > 0 ? rest : undefined);
      return;
    }
    callback();
  }
}

function signalNumber(name: string): number {
  const value = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
  return value ?? 0;
}

/** The argument error of `wrapCommand`, naming the target; a non-vlab error is kept as cause. */
function argumentError(error: unknown, target: SshTarget): VlabError {
  const vlab = isVlabError(error);
  const summary = vlab ? (error as VlabError).summary : String((error as Error)?.message ?? error);
  return coreError(
    'VLAB_ERR_ARGUMENT_INVALID',
    `${summary} (command for ${describeTarget(target)})`,
    {
      computer: computerOf(target),
      cause: vlab ? (error as VlabError).cause : error,
      details: vlab ? (error as VlabError).details : {},
      ...(vlab ? { hint: (error as VlabError).hint } : {}),
    },
  );
}

/**
 * Starts `argv` on the target and resolves once it runs (a channel slot was free and the server
 * accepted the exec request). See {@link SshClient.spawn}.
 *
 * An abort or timeout before that still waits for the channel: from the moment the channel open
 * is sent, the server may start the program whatever the client does (ssh2 sends the exec request
 * on the server's confirmation, and sshd does not signal a program when its channel closes). A
 * channel that opens after the abort is used to end the program's process group, and the call
 * rejects once that is done — or after {@link UNANSWERED_MS} when the machine gives no sign of
 * life, the kill going on in the background.
 * @internal
 */
export function spawnRemote(
  pool: ConnectionPool,
  target: SshTarget,
  argv: readonly string[],
  options: SpawnOptions = {},
): Promise<RemoteProcess> {
  const computer = computerOf(target);
  const sudo = options.sudo === true;
  let command: string;
  try {
    command = wrapCommand(argv, sudo, target.shell);
  } catch (error) {
    return Promise.reject(argumentError(error, target));
  }
  const operation = `${argv[0]} on ${target.host}`;
  const op = operationSignal(
    options.signal,
    options.timeoutMs ?? Number.POSITIVE_INFINITY,
    computer,
    operation,
  );
  const graceMs = options.killGraceMs ?? 2000;

  return new Promise<RemoteProcess>((resolveStarted, rejectStarted) => {
    let settled = false;
    let giveUp: NodeJS.Timeout | undefined;
    const settle = (outcome: { handle: RemoteProcess } | { error: unknown }): void => {
      if (settled) return;
      settled = true;
      if (giveUp !== undefined) clearTimeout(giveUp);
      if ('handle' in outcome) resolveStarted(outcome.handle);
      else rejectStarted(outcome.error);
    };
    const cancelled = (): void => settle({ error: abortError(op.signal, computer, operation) });

    pool
      .withSession(target, op.signal, async (connection) => {
        if (op.signal.aborted) throw abortError(op.signal, computer, operation);
        // Listening before the open is sent: an abort may come from inside it (ssh2's debug hook).
        const onAbort = (): void => {
          giveUp = setTimeout(cancelled, UNANSWERED_MS);
          giveUp.unref();
        };
        op.signal.addEventListener('abort', onAbort, { once: true });
        let opened: ExecChannel;
        try {
          opened = await connection.openExec(command);
        } finally {
          op.signal.removeEventListener('abort', onAbort);
        }
        // The machine answered: from here Running decides how long the kill is waited for.
        if (giveUp !== undefined) clearTimeout(giveUp);
        const running = new Running(
          pool,
          target,
          connection,
          opened,
          sudo,
          graceMs,
          op.signal,
          operation,
        );
        if (op.signal.aborted) {
          // Started after all: Running ends the group; the caller hears of the abort after that.
          running.abandon();
          running.handle.exit.then(cancelled, (error: unknown) => settle({ error }));
        } else settle({ handle: running.handle });
        await running.closed;
      })
      .catch((error: unknown) => {
        if (op.signal.aborted) cancelled();
        else if (error instanceof ChannelOpenError) {
          // The connection dropped after the exec request may have gone out: never retried.
          settle({
            error: coreError(
              'VLAB_ERR_CONNECTION_LOST',
              `the SSH connection to ${describeTarget(target)} dropped while ${operation} was starting; it may or may not have run`,
              { computer, cause: error, details: { host: target.host } },
            ),
          });
        } else settle({ error });
      })
      .finally(() => op.dispose());
  });
}

/** The state of one running remote program. */
class Running {
  readonly handle: RemoteProcess;
  readonly closed: Promise<void>;
  readonly channel: ClientChannel;
  readonly #pid: Promise<number | undefined>;
  /** stderr as the caller gets it (without the marker line). */
  readonly #stderr: Readable;
  #killing: Promise<void> | undefined;
  #channelClosed = false;
  /** The machine opened the kill's channel: it answers, so the kill is worth waiting for. */
  #killAnswered = false;
  /** Settles `exit` from what is known now (the channel's close does it, or a kill that gave up). */
  #settleExit: () => void = () => undefined;

  constructor(
    readonly pool: ConnectionPool,
    readonly target: SshTarget,
    readonly connection: SshConnection,
    readonly opened: ExecChannel,
    readonly sudo: boolean,
    readonly graceMs: number,
    signal: AbortSignal,
    operation: string,
  ) {
    const computer = computerOf(target);
    const channel = opened.channel;
    this.channel = channel;
    let resolvePid: (pid: number | undefined) => void = () => undefined;
    this.#pid = new Promise((resolve) => {
      resolvePid = resolve;
    });
    const stderr = channel.stderr.pipe(new MarkerStripper((pid) => resolvePid(pid)));
    this.#stderr = stderr;

    const exitInfo = (): RemoteExit | undefined => {
      const reported = opened.exit;
      if (reported === undefined) return undefined;
      // ssh2 passes OpenSSH's names with the SIG prefix ('SIGTERM'); RFC 4254 has none.
      const name = reported.signal?.replace(/^SIG/, '');
      return reported.code === null
        ? { code: 128 + signalNumber(name ?? ''), signal: name }
        : { code: reported.code, signal: undefined };
    };
    this.closed = opened.closed;

    const exit = new Promise<RemoteExit>((resolve, reject) => {
      const onAbort = (): void => {
        // The group is ended before the caller hears of it — unless the machine gives no sign of
        // life (see kill): then the kill goes on in the background and the call settles anyway,
        // so that an abort is honoured promptly whatever the machine does.
        void this.kill().finally(() => reject(abortError(signal, computer, operation)));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      this.#settleExit = () => {
        if (settled) return;
        resolvePid(undefined);
        if (signal.aborted) return; // onAbort rejects once the kill is done
        settled = true;
        signal.removeEventListener('abort', onAbort);
        const info = exitInfo();
        if (info !== undefined) resolve(info);
        else if (pool.closed) {
          reject(
            sshError(
              'VLAB_ERR_SSH_POOL_CLOSED',
              `the SSH pool was closed while ${operation} ran (${describeTarget(target)})`,
              { computer, details: { host: target.host } },
            ),
          );
        } else if (connection.closed) {
          reject(
            coreError(
              'VLAB_ERR_CONNECTION_LOST',
              `the SSH connection to ${describeTarget(target)} dropped while ${operation} ran`,
              { computer, cause: connection.lastError, details: { host: target.host } },
            ),
          );
        } else resolve({ code: -1, signal: undefined });
      };
      void opened.closed.then(() => {
        this.#channelClosed = true;
        this.#settleExit();
      });
    });
    // Unobserved rejections of `exit` are the caller's business, but must not crash the process.
    exit.catch(() => undefined);

    this.handle = {
      stdin: channel.stdin,
      stdout: channel.stdout,
      stderr,
      exit,
      kill: () => this.kill(),
    };
  }

  kill(): Promise<void> {
    this.#killing ??= this.#boundedKill();
    return this.#killing;
  }

  /**
   * Runs the kill, but stops waiting for it after UNANSWERED_MS when the machine gives no sign of
   * life (the kill's channel did not open), or after the grace time and UNANSWERED_MS more when
   * it answered; the kill then goes on in the background. `exit` has settled when this resolves.
   */
  async #boundedKill(): Promise<void> {
    let stopped = false;
    const unanswered = delay(UNANSWERED_MS);
    let answered: Delay | undefined;
    const giveUp = unanswered.done.then(() => {
      if (stopped || !this.#killAnswered) return;
      answered = delay(this.graceMs + UNANSWERED_MS);
      return answered.done;
    });
    try {
      await Promise.race([this.#kill().catch(() => undefined), giveUp]);
    } finally {
      stopped = true;
      unanswered.cancel();
      answered?.cancel();
      this.#settleExit();
    }
  }

  /** Nobody will read its streams (the caller gave up before it started): drain them. */
  abandon(): void {
    this.handle.stdin.end();
    this.handle.stdout.resume();
    this.handle.stderr.resume();
  }

  async #kill(): Promise<void> {
    if (this.#channelClosed) return;
    // The marker comes first on stderr; wait for it (or the end) a little while.
    const markerWait = delay(5000);
    const pid = await Promise.race([this.#pid, markerWait.done.then(() => undefined)]);
    markerWait.cancel();
    if (this.#channelClosed) return;
    try {
      // The leader at once, through sshd; the group through a second channel.
      this.channel.signal('TERM');
    } catch {
      // channel already closing
    }
    if (pid !== undefined) {
      const deadline = operationSignal(
        undefined,
        this.graceMs + 15_000,
        computerOf(this.target),
        'kill',
      );
      try {
        await this.pool.withSession(this.target, deadline.signal, async (connection) => {
          const kill = await connection.openExec(
            killCommand(pid, this.graceMs, this.sudo, this.target.shell),
          );
          this.#killAnswered = true;
          kill.channel.resume();
          kill.channel.stderr.resume();
          kill.channel.end();
          await kill.closed;
        });
      } catch {
        // The connection is gone, or the pool closed: nothing more can be done from here.
      } finally {
        deadline.dispose();
      }
    }
    if (this.#channelClosed) return;
    // ssh2 reports the channel's close only once stdout was read to its end: output that a
    // reader who gave up left unread would hold it (and this kill) forever. The group is gone,
    // so what is left of its output is of no use; it is discarded, the channel closed, and its
    // close waited for no longer than a kill on a machine that does not answer.
    discardOutput(this.channel);
    discardOutput(this.#stderr);
    try {
      this.channel.close();
    } catch {
      // already closed
    }
    const closing = delay(UNANSWERED_MS);
    await Promise.race([this.closed, closing.done]);
    closing.cancel();
  }
}

/**
 * Reads `stream` into the void from now on, whoever else reads it or stopped doing so: it is
 * unpiped from its destinations and read on every `readable` (which works in paused and flowing
 * mode alike, and past a `readable` listener a reader left behind) until it ends.
 */
function discardOutput(stream: Readable): void {
  if (stream.readableEnded || stream.destroyed) return;
  stream.unpipe();
  const drain = (): void => {
    while (stream.read() !== null) {
      // discarded
    }
  };
  stream.on('readable', drain);
  stream.once('end', () => stream.off('readable', drain));
  drain();
}

/** A cancellable timer. */
interface Delay {
  /** Resolves after the time, unless cancelled first (then it never settles). */
  readonly done: Promise<void>;
  /** Clears the timer. */
  cancel(): void;
}

/** A timer that never keeps the process alive by itself (the connection does while it is open). */
function delay(ms: number): Delay {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return { done, cancel: () => clearTimeout(timer) };
}
