import { type ChildProcess, spawn } from 'node:child_process';
import { type Logger, redact, type Secret } from '@vlab/core';
import type { RunAs } from './postgres-binaries.js';

const READY = 'database system is ready to accept connections';
const TAIL_LINES = 20;

/** How a PostgreSQL process ended. @public */
export interface PostgresExit {
  /** Its exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or `null`. */
  readonly signal: NodeJS.Signals | null;
}

/**
 * The last lines a PostgreSQL program wrote, with the password removed, for errors: a program
 * that fails says why in its log, not in its exit code.
 */
export class LogTail {
  readonly #lines: string[] = [];

  /** Keeps `line`, dropping the oldest beyond the last 20. */
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > TAIL_LINES) this.#lines.shift();
  }

  /** The kept lines, oldest first. */
  lines(): readonly string[] {
    return [...this.#lines];
  }

  /** The kept lines as one text, cut to its last 2 KiB, or `(no output)`. */
  text(): string {
    const text = this.#lines.join('\n');
    if (text === '') return '(no output)';
    return text.length > 2048 ? `…${text.slice(-2048)}` : text;
  }
}

/**
 * Sends every line of `stream` (redacted of `secrets`) to `log` at debug level and into `tail`,
 * and calls `onLine` with it.
 */
export function relayLines(
  stream: NodeJS.ReadableStream | null,
  program: string,
  log: Logger,
  secrets: readonly Secret[],
  tail: LogTail,
  onLine: (line: string) => void = () => {},
): void {
  if (stream === null) return;
  let partial = '';
  const emit = (raw: string): void => {
    const line = redact(raw.replace(/\r$/, ''), secrets);
    if (line.trim() === '') return;
    tail.push(line);
    log.debug('postgres log line', { program, line });
    onLine(line);
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) emit(part);
  });
  stream.on('end', () => {
    if (partial !== '') emit(partial);
    partial = '';
  });
}

/** A running PostgreSQL server started by {@link spawnPostmaster}. */
export interface Postmaster {
  /** The server's process id. */
  readonly pid: number;
  /** Settles when the server has exited, for whatever reason. */
  readonly exited: Promise<PostgresExit>;
  /** Its last log lines. */
  readonly tail: LogTail;
  /**
   * Stops it: a fast shutdown (SIGINT: sessions are ended, a shutdown checkpoint is written), an
   * immediate one (SIGQUIT) after 60 s, SIGKILL after 10 s more. Idempotent.
   */
  stop(): Promise<PostgresExit>;
}

/** What {@link spawnPostmaster} needs. */
export interface SpawnPostmasterOptions {
  /** The `postgres` binary. */
  readonly binary: string;
  /** The cluster's directory. */
  readonly clusterDir: string;
  /** The TCP port, on 127.0.0.1 only. */
  readonly port: number;
  /** Whom to run as. */
  readonly runAs: RunAs;
  /** Where log lines go (debug level). */
  readonly log: Logger;
  /** Values no log line may contain. */
  readonly secrets: readonly Secret[];
  /** Give up when the server is not ready after this long, in ms. */
  readonly timeoutMs: number;
}

/** The outcome of a start attempt: a ready server, or why it is not one. */
export type SpawnOutcome =
  | { readonly ok: true; readonly postmaster: Postmaster }
  | {
      readonly ok: false;
      readonly reason: 'exited' | 'timeout' | 'spawn-failed';
      readonly tail: LogTail;
      readonly exit?: PostgresExit;
      readonly cause?: unknown;
    };

/**
 * Starts the PostgreSQL server on `clusterDir`, listening on 127.0.0.1:`port` only (no Unix
 * socket), in a process group of its own (a Ctrl-C meant for the manager does not reach it), and
 * waits until it accepts connections. The server stops when this process exits normally
 * (`process.exit`); after a crash or SIGKILL the next start finds it orphaned.
 */
export async function spawnPostmaster(options: SpawnPostmasterOptions): Promise<SpawnOutcome> {
  const tail = new LogTail();
  let child: ChildProcess;
  try {
    child = spawn(
      options.binary,
      [
        '-D',
        options.clusterDir,
        '-p',
        String(options.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      {
        ...options.runAs,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
      },
    );
  } catch (error) {
    return { ok: false, reason: 'spawn-failed', tail, cause: error };
  }

  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  relayLines(child.stdout, 'postgres', options.log, options.secrets, tail);
  relayLines(child.stderr, 'postgres', options.log, options.secrets, tail, (line) => {
    if (line.includes(READY)) resolveReady();
  });
  const exited = new Promise<PostgresExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const spawnError = new Promise<unknown>((resolve) => child.once('error', resolve));

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  const first = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then((exit) => ({ exit })),
    spawnError.then((cause) => ({ cause })),
    timedOut,
  ]);
  clearTimeout(timer);

  if (first === 'ready' && child.pid !== undefined) {
    return { ok: true, postmaster: supervise(child, child.pid, exited, tail, options.log) };
  }
  if (first === 'timeout' || first === 'ready') {
    await stopChild(child, exited);
    return { ok: false, reason: 'timeout', tail };
  }
  if ('cause' in first) return { ok: false, reason: 'spawn-failed', tail, cause: first.cause };
  // Let the last lines of stderr arrive before reporting them (its pipe closes after the exit).
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  return { ok: false, reason: 'exited', tail, exit: first.exit };
}

function supervise(
  child: ChildProcess,
  pid: number,
  exited: Promise<PostgresExit>,
  tail: LogTail,
  log: Logger,
): Postmaster {
  let stopping: Promise<PostgresExit> | undefined;
  const onProcessExit = (): void => {
    // Synchronous: the last chance to ask for a fast shutdown before this process is gone.
    child.kill('SIGINT');
  };
  process.on('exit', onProcessExit);
  void exited.then((exit) => {
    process.off('exit', onProcessExit);
    if (stopping === undefined) {
      log.error('PostgreSQL exited unexpectedly', {
        pid,
        code: exit.code,
        signal: exit.signal,
        logTail: tail.lines(),
      });
    }
  });
  return {
    pid,
    exited,
    tail,
    stop() {
      stopping ??= stopChild(child, exited);
      return stopping;
    },
  };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<PostgresExit>,
): Promise<PostgresExit> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  const within = (ms: number): Promise<PostgresExit | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  };
  child.kill('SIGINT');
  const fast = await within(60_000);
  if (fast !== undefined) return fast;
  child.kill('SIGQUIT');
  const immediate = await within(10_000);
  if (immediate !== undefined) return immediate;
  child.kill('SIGKILL');
  return exited;
}
