import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { coreError, type TransferSource } from '@vlab/core';
import { operationSignal } from './deadline.js';
import type { ConnectionPool } from './pool.js';
import { type SpawnOptions, spawnRemote } from './remote-process.js';
import { computerOf, describeTarget, type SshTarget } from './target.js';

/** Options of {@link SshClient.exec}. @public */
export interface ExecOptions extends SpawnOptions {
  /** Sent to the program's stdin, then EOF. Default: EOF at once. */
  readonly stdin?: TransferSource | Readable | undefined;
  /** Ends the remote process group after this many ms. Default: 60000. */
  readonly timeoutMs?: number | undefined;
  /**
   * Once stdout or stderr exceeds this many bytes, the process group is ended and the call
   * fails with `VLAB_ERR_OUTPUT_LIMIT`. Default: 16 MiB.
   */
  readonly maxOutputBytes?: number | undefined;
}

/** What a finished remote program left. A non-zero exit is a result, not an error. @public */
export interface ExecResult {
  /** The exit code; 128 + n when signal n killed it. */
  readonly code: number;
  /** The signal that killed it, if one did (`'TERM'`). */
  readonly signal: string | undefined;
  /** Everything the program wrote to stdout. */
  readonly stdout: Buffer;
  /** Everything it wrote to stderr. */
  readonly stderr: Buffer;
}

/** An async iterable or stream of bytes, from any {@link @vlab/core#TransferSource} or a Readable. @internal */
export function toReadable(source: TransferSource | Readable): Readable {
  if (source instanceof Readable) return source;
  if (typeof source === 'string') return Readable.from([Buffer.from(source, 'utf8')]);
  if (source instanceof Uint8Array) return Readable.from([source]);
  return Readable.from(source);
}

/**
 * Runs `argv` on the target and collects its output. See {@link SshClient.exec}.
 * @internal
 */
export async function execRemote(
  pool: ConnectionPool,
  target: SshTarget,
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const computer = computerOf(target);
  const limit = options.maxOutputBytes ?? 16 * 1024 * 1024;
  const op = operationSignal(
    options.signal,
    options.timeoutMs ?? 60_000,
    computer,
    // argv is checked by spawnRemote; not even an array must still get its typed error there.
    `${Array.isArray(argv) ? argv[0] : 'command'} on ${target.host}`,
  );
  try {
    const proc = await spawnRemote(pool, target, argv, {
      ...options,
      signal: op.signal,
      timeoutMs: undefined,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let overflow: 'stdout' | 'stderr' | undefined;
    const over = (stream: 'stdout' | 'stderr'): void => {
      if (overflow !== undefined) return;
      overflow = stream;
      void proc.kill();
    };
    proc.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > limit) over('stdout');
      else out.push(chunk);
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      errBytes += chunk.length;
      if (errBytes > limit) over('stderr');
      else err.push(chunk);
    });
    const ended = Promise.all([
      finished(proc.stdout).catch(() => undefined),
      finished(proc.stderr).catch(() => undefined),
    ]);
    if (options.stdin === undefined) proc.stdin.end();
    else {
      // A program may exit without reading all of stdin; that is its business, not an error.
      pipeline(toReadable(options.stdin), proc.stdin).catch(() => undefined);
    }
    const exit = await proc.exit;
    await ended;
    if (overflow !== undefined) {
      throw coreError(
        'VLAB_ERR_OUTPUT_LIMIT',
        `${argv[0]} on ${describeTarget(target)} wrote more than ${limit} bytes to ${overflow}`,
        {
          computer,
          details: { program: argv[0], stream: overflow, limit },
          hint: 'Raise maxOutputBytes for that call, or stream the output (spawn, readStream) instead of collecting it.',
        },
      );
    }
    return {
      code: exit.code,
      signal: exit.signal,
      stdout: Buffer.concat(out),
      stderr: Buffer.concat(err),
    };
  } finally {
    op.dispose();
  }
}
