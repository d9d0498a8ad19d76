import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coreError, type ProgressSink, type TransferSource } from '@vlab/core';
import type { SshClient } from './client.js';
import { toReadable } from './exec.js';
import { TransferMeter } from './meter.js';
import { temporaryPath } from './temporary-path.js';

/**
 * The one script behind a `put` as root. Every value arrives as a positional parameter, quoted by
 * `quoteCommand`; nothing is ever pasted into the script. The content comes on stdin, followed by
 * `$6`, a random seal: sshd closes a program's stdin when the connection drops, so a bare EOF
 * could be a cut-off file, and only content that ends with the seal is renamed into place. The
 * temporary file is created exclusively (`set -C`) and private (`umask 077`), gets its owner and
 * then its mode (chown clears set-id bits), and replaces the final name by rename (`mv -T`
 * refuses to move into a directory). On any failure, on SIGTERM (an abort ends the process
 * group) and when the connection is gone, `gone` removes it. A signal usually comes more than
 * once (the group's, then sudo's relay of it): one arriving while a trap runs would end that trap
 * before its `rm`. So each trap first ignores further signals (inline: bash re-enters a trap
 * before a function in it starts, and under a flood of signals overflows its stack), `rm`
 * inherits that and is not killed either, and each signal trap removes the file itself.
 * @internal
 */
export const SUDO_PUT_SCRIPT = [
  'set -eu',
  'tmp=$1 dst=$2 mode=$3 owner=$4 group=$5 seal=$6',
  `gone() { trap '' HUP INT TERM; rm -f -- "$tmp"; }`,
  'trap gone EXIT',
  `trap 'trap "" HUP INT TERM; gone; exit 129' HUP`,
  `trap 'trap "" HUP INT TERM; gone; exit 130' INT`,
  `trap 'trap "" HUP INT TERM; gone; exit 143' TERM`,
  // A dropped connection leaves no reader of stderr: a message must not kill the script first.
  `trap '' PIPE`,
  'umask 077',
  'set -C',
  'cat >"$tmp"',
  'set +C',
  'size=$(wc -c <"$tmp")',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'if [ "$(tail -c ${#seal} -- "$tmp")" != "$seal" ]; then',
  '  echo "vlab-put: the content ended before its end; $dst was not written" >&2',
  '  exit 3',
  'fi',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'truncate -s $((size - ${#seal})) -- "$tmp"',
  'if [ -n "$owner" ]; then chown -- "$owner:$group" "$tmp"',
  'elif [ -n "$group" ]; then chgrp -- "$group" "$tmp"; fi',
  'chmod -- "$mode" "$tmp"',
  'sync -- "$tmp" 2>/dev/null || :',
  'mv -f -T -- "$tmp" "$dst"',
  'trap - EXIT',
].join('\n');

/** Options of {@link sudoPut}. @internal */
export interface SudoPutOptions {
  /** Ends the remote process group (whose trap removes the temporary file) when it fires. */
  readonly signal: AbortSignal;
  readonly mode: number;
  /** chown's owner; with no group, the group becomes the owner's login group. */
  readonly owner?: string | undefined;
  readonly group?: string | undefined;
  /** Called with each chunk handed to the remote side (the caller's idle timer). */
  readonly onData?: (() => void) | undefined;
  readonly onProgress?: ProgressSink | undefined;
}

/** Resolves once `stdin` takes data again, is gone (the program ended), or `stop` fired. */
async function drained(stdin: Writable, stop: AbortSignal): Promise<void> {
  if (stdin.destroyed || stdin.closed) return;
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, stop]);
  await Promise.race([once(stdin, 'drain', { signal }), once(stdin, 'close', { signal })]).catch(
    () => undefined,
  );
  done.abort();
}

/**
 * Writes `content` to `path` as root, atomically, through {@link SUDO_PUT_SCRIPT} under `sudo -n`
 * (as `exec` with `sudo` runs programs), with owner, group and mode set before the rename. The
 * caller validated every argument. A non-zero exit throws `VLAB_ERR_COMMAND_FAILED`.
 * @internal
 */
export async function sudoPut(
  client: SshClient,
  path: string,
  content: TransferSource,
  options: SudoPutOptions,
): Promise<void> {
  const seal = randomBytes(16).toString('hex');
  const argv = [
    'sh',
    '-c',
    SUDO_PUT_SCRIPT,
    'vlab-put',
    temporaryPath(path),
    path,
    options.mode.toString(8),
    options.owner ?? '',
    options.group ?? '',
    seal,
  ];
  const proc = await client.spawn(argv, { signal: options.signal, sudo: true });
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  proc.stderr.on('data', (chunk: Buffer) => {
    stderrBytes += chunk.length;
    if (stderrBytes <= 64 * 1024) stderr.push(chunk);
  });
  proc.stdout.resume();
  // The exit status tells what happened; a write after the program ended only fails here.
  proc.stdin.on('error', () => undefined);

  const meter = new TransferMeter({
    onProgress: options.onProgress,
    phase: `put ${path}`,
    computer: client.computer,
  });
  const source = toReadable(content);
  pipeline(source, meter).catch((error: unknown) => meter.destroy(error as Error));
  let contentError: unknown;
  const finished = new AbortController();
  void (async () => {
    for await (const chunk of meter as AsyncIterable<Buffer>) {
      // Never the seal after part of the content: stopping is a failure.
      if (finished.signal.aborted) throw new Error('put stopped');
      options.onData?.();
      if (!proc.stdin.write(chunk)) await drained(proc.stdin, finished.signal);
    }
  })().then(
    () => proc.stdin.end(seal),
    (error: unknown) => {
      // EOF without the seal: the script removes the temporary file and writes nothing.
      contentError ??= error;
      if (!proc.stdin.destroyed) proc.stdin.end();
    },
  );
  try {
    const exit = await proc.exit;
    // Set before the exit if the content failed: that ended stdin without the seal.
    if (contentError !== undefined) throw contentError;
    if (exit.code !== 0) {
      const text = Buffer.concat(stderr).toString('utf8').trim();
      const stderrTail = text.length > 2048 ? `…${text.slice(-2048)}` : text;
      const how =
        exit.signal === undefined
          ? `exited with code ${exit.code}`
          : `was killed by ${exit.signal}`;
      throw coreError(
        'VLAB_ERR_COMMAND_FAILED',
        `put ${path} through sudo ${how}: ${stderrTail || '(no stderr)'}`,
        {
          computer: client.computer,
          details: { program: 'sudo', path, exitCode: exit.code, signal: exit.signal, stderrTail },
        },
      );
    }
  } finally {
    // Stops reading the caller's content when the program ended first (abort, failure).
    finished.abort();
    source.destroy();
    meter.destroy();
  }
}
