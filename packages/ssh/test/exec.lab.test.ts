import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { isVlabError } from '@vlab/core';
import { liveProcessesOf } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import {
  blockEventLoop,
  blockEventLoopUntil,
  eventually,
  killRemote,
  type Lab,
  processesUnder,
  remoteProcesses,
  startLab,
  uniqueTag,
} from './lab.fixture.js';

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Whether `promise` settles within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.finally(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * The points of the exec exchange as ssh2's debug trace shows them, in order; `execSent` says
 * whether this test's exec request went out yet.
 */
const EXCHANGE: readonly (readonly [string, (message: string, execSent: boolean) => boolean])[] = [
  [
    'the session channel was requested',
    (m) => /^Outbound: Sending CHANNEL_OPEN \(r:\d+, session\)$/.test(m),
  ],
  [
    'the channel was confirmed, before the exec request',
    (m) => m.startsWith('Inbound: CHANNEL_OPEN_CONFIRMATION'),
  ],
  [
    'the exec request was sent',
    (m, execSent) => execSent && m.startsWith('Outbound: Sending CHANNEL_REQUEST'),
  ],
  [
    'the server accepted the exec request',
    (m, execSent) => execSent && m.startsWith('Inbound: CHANNEL_SUCCESS'),
  ],
];

/** Every command of this file carries it (the test account is shared with other suites). */
const FILE_TAG = uniqueTag();
let tags = 0;
/** A number for a command line (`sleep 300.<tag>`) that names one test's processes. */
function tag(): string {
  tags += 1;
  return `${FILE_TAG}${tags}`;
}

describe('exec against a real sshd (MaxSessions 10)', () => {
  let lab: Lab;
  let client: SshClient;
  /** Gets ssh2's protocol trace while a test listens. */
  let listen: ((message: string) => void) | undefined;
  beforeAll(async () => {
    lab = await startLab({
      sshd: { maxSessions: 10 },
      pool: { debug: (message) => listen?.(message) },
    });
    client = lab.pool.client(lab.target);
  });
  afterAll(async () => {
    // Nothing runs under this sshd but its own per-connection processes, and no command of this
    // file survives anywhere.
    const commands = processesUnder(lab.sshd).filter((line) => !/^\d+ sshd: /.test(line));
    await lab?.close();
    expect(commands).toEqual([]);
    expect(liveProcessesOf(lab.sshd.user).filter((line) => line.includes(FILE_TAG))).toEqual([]);
  });

  it('returns stdout, stderr, the exit code and the signal', async () => {
    const result = await client.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({ code: 3, signal: undefined });
    expect(result.stdout.toString()).toBe('out\n');
    expect(result.stderr.toString()).toBe('err\n');
    const killed = await client.exec(['sh', '-c', 'kill -TERM $$']);
    expect(killed).toMatchObject({ code: 143, signal: 'TERM' });
  });

  it('feeds stdin from a string, bytes or a stream, and sends EOF when there is none', async () => {
    expect((await client.exec(['cat'], { stdin: 'from a string' })).stdout.toString()).toBe(
      'from a string',
    );
    expect(
      (await client.exec(['wc', '-c'], { stdin: new Uint8Array(70_000) })).stdout.toString().trim(),
    ).toBe('70000');
    const stream = Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s)));
    expect((await client.exec(['cat'], { stdin: stream })).stdout.toString()).toBe('abc');
    expect((await client.exec(['cat'])).stdout.length).toBe(0);
  });

  it('runs 50 concurrent execs against MaxSessions 10 without one failing', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.exec(['sh', '-c', `sleep 0.2; echo ${i}`])),
    );
    expect(results.map((r) => r.stdout.toString())).toEqual(
      Array.from({ length: 50 }, (_, i) => `${i}\n`),
    );
    expect(lab.pool.stats(lab.target).connections).toBeLessThanOrEqual(2);
  });

  it('treats refused channels as back-pressure when the pool believes in more sessions than sshd allows', async () => {
    // A pool told 10 sessions per connection against an sshd that allows 3: sshd refuses the 4th
    // channel on a connection; the pool waits and retries instead of failing the call.
    await using small = await startLab({
      sshd: { maxSessions: 3, hostKeyTypes: ['ed25519'] },
      pool: { maxSessionsPerConnection: 10, maxConnectionsPerTarget: 1 },
    });
    const c = small.pool.client(small.target);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.exec(['sh', '-c', `sleep 0.1; echo ${i}`])),
    );
    expect(results.every((r, i) => r.stdout.toString() === `${i}\n`)).toBe(true);
    expect(small.sshd.log()).toMatch(/no more sessions|session_new|open failed/i);
  });

  it('on abort ends the whole remote process group, not just the leader', async () => {
    const sleep = `sleep 300.${tag()}`;
    const controller = new AbortController();
    const pending = failure(
      client.exec(['sh', '-c', `${sleep} & ${sleep} & wait`], { signal: controller.signal }),
    );
    // The known point: both children run.
    expect(await eventually(() => remoteProcesses(lab.sshd.user, sleep).length === 2, 10_000)).toBe(
      true,
    );
    controller.abort(new Error('operator said stop'));
    const error = await pending;
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.message).toMatch(/operator said stop/);
    expect(remoteProcesses(lab.sshd.user, sleep)).toEqual([]);
  });

  /**
   * Runs `sleep 300.<tag>` and interrupts it from ssh2's debug hook at `isPoint`. When the
   * server's reply to the exec request arrives, the hook holds the event loop until the program
   * runs (as over any real network, where the reply takes a while): whatever the client does with
   * the channel then, the program is there. Resolves with the call's error, whether the program
   * ran, and the processes under sshd left when the call settled and 10 s after the exchange.
   */
  async function interrupted(
    isPoint: (message: string, execSent: boolean) => boolean,
    interrupt: (stop: AbortController) => void,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<{
    error: Error & { code?: string };
    hit: boolean;
    ran: boolean;
    atSettle: string[];
    survivors: string[];
  }> {
    await client.exec(['true']); // a warm connection: the next session channel is this call's
    const baseline = processesUnder(lab.sshd);
    const mark = tag();
    const stop = new AbortController();
    let execSent = false;
    let answered = false;
    let ran = false;
    let hit = false;
    let onReply: () => void = () => undefined;
    const replied = new Promise<void>((resolve) => {
      onReply = resolve;
    });
    listen = (message) => {
      if (message.startsWith('Outbound: Sending CHANNEL_REQUEST') && message.includes(mark)) {
        execSent = true;
      } else if (execSent && !answered && /^Inbound: CHANNEL_(SUCCESS|FAILURE)/.test(message)) {
        answered = true;
        ran = blockEventLoopUntil(
          () => remoteProcesses(lab.sshd.user, `sleep 300.${mark}`).length > 0,
          10_000,
        );
        onReply();
      }
      if (!hit && isPoint(message, execSent)) {
        hit = true;
        interrupt(stop);
      }
    };
    try {
      const error = await failure(
        client.exec(['sleep', `300.${mark}`], { signal: stop.signal, ...options }),
      );
      const left = (): string[] =>
        processesUnder(lab.sshd).filter((line) => !baseline.includes(line));
      const atSettle = left();
      // The exec request cannot be taken back: once the server answered it, the program ran,
      // and nothing of it may outlive the call.
      expect(await settlesWithin(replied, 10_000)).toBe(true);
      await eventually(() => left().length === 0, 10_000);
      return { error, hit, ran, atSettle, survivors: left() };
    } finally {
      listen = undefined;
      killRemote(liveProcessesOf(lab.sshd.user).filter((line) => line.includes(mark)));
    }
  }

  it.each(EXCHANGE)('an abort when %s leaves no remote process behind', async (point, isPoint) => {
    const outcome = await interrupted(isPoint, (stop) =>
      stop.abort(new Error(`aborted when ${point}`)),
    );
    expect(outcome).toMatchObject({ hit: true, ran: true, atSettle: [], survivors: [] });
    expect(outcome.error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(outcome.error.message).toContain(`aborted when ${point}`);
  });

  it('a timeout that expires while the exec request awaits its reply leaves no remote process behind', async () => {
    // The hook holds the event loop past the deadline when the exec request goes out: the
    // timer then runs before the server's reply can be read.
    const timeoutMs = 2000;
    const began = performance.now();
    const outcome = await interrupted(
      (message, execSent) => execSent && message.startsWith('Outbound: Sending CHANNEL_REQUEST'),
      () => blockEventLoop(Math.max(0, began + timeoutMs + 200 - performance.now())),
      { timeoutMs },
    );
    expect(outcome).toMatchObject({ hit: true, ran: true, atSettle: [], survivors: [] });
    expect(outcome.error.code).toBe('VLAB_ERR_OP_TIMEOUT');
  });

  it('on timeout ends the remote process group and rejects with VLAB_ERR_OP_TIMEOUT', async () => {
    // The known point: the wrapper's pid line arrives (the first stderr data). The hook holds the
    // event loop there until both children run and the deadline passed, so the timer fires
    // then, whatever the load. 3 s is only how long the program may take to start.
    const sleep = `sleep 301.${tag()}`;
    const timeoutMs = 3000;
    const began = performance.now();
    let execSent = false;
    let held = false;
    let running = false;
    listen = (message) => {
      if (message.startsWith('Outbound: Sending CHANNEL_REQUEST') && message.includes(sleep)) {
        execSent = true;
      } else if (execSent && !held && message.startsWith('Inbound: CHANNEL_EXTENDED_DATA')) {
        held = true;
        running = blockEventLoopUntil(
          () => remoteProcesses(lab.sshd.user, sleep).length === 2,
          10_000,
        );
        blockEventLoop(Math.max(0, began + timeoutMs + 100 - performance.now()));
      }
    };
    try {
      const error = await failure(
        client.exec(['sh', '-c', `${sleep} & ${sleep} & wait`], { timeoutMs }),
      );
      expect(running).toBe(true);
      expect(error.code).toBe('VLAB_ERR_OP_TIMEOUT');
      expect(error.message).toMatch(/within 3000 ms/);
      expect(remoteProcesses(lab.sshd.user, sleep)).toEqual([]);
    } finally {
      listen = undefined;
    }
  });

  it('kills a group whose members ignore SIGTERM (SIGKILL after the grace time)', async () => {
    const sleep = `sleep 302.${tag()}`;
    const stop = new AbortController();
    const pending = failure(
      client.exec(['sh', '-c', `trap '' TERM; ${sleep} & ${sleep} & wait`], {
        signal: stop.signal,
        killGraceMs: 300,
      }),
    );
    // The known point: both children run, SIGTERM ignored (inherited from the trap).
    expect(await eventually(() => remoteProcesses(lab.sshd.user, sleep).length === 2, 10_000)).toBe(
      true,
    );
    stop.abort(new Error('stop'));
    expect((await pending).code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(remoteProcesses(lab.sshd.user, sleep)).toEqual([]);
  });

  it('fails with VLAB_ERR_OUTPUT_LIMIT past the output cap and ends the program', async () => {
    const word = tag();
    const error = await failure(client.exec(['yes', word], { maxOutputBytes: 100_000 }));
    expect(error.code).toBe('VLAB_ERR_OUTPUT_LIMIT');
    expect(error.message).toMatch(/more than 100000 bytes to stdout/);
    expect(remoteProcesses(lab.sshd.user, `yes ${word}`)).toEqual([]);
  });

  /**
   * Ways a consumer whose own side failed (a full local disk) stops reading a spawned program's
   * stdout for good, after its first chunk. ssh2 then keeps what arrives buffered, opens no more
   * window, and reports the channel's close only once stdout was read to its end.
   */
  const ABANDONED: readonly (readonly [string, (stdout: Readable) => Promise<void>])[] = [
    [
      'pauses it',
      (stdout) =>
        new Promise<void>((resolve) => {
          stdout.once('data', () => {
            stdout.pause();
            resolve();
          });
        }),
    ],
    [
      // Its `readable` listener stays: resume() alone would not make the stream flow.
      'stops pulling from its async iterator',
      async (stdout) => {
        await stdout[Symbol.asyncIterator]().next();
      },
    ],
  ];

  it.each(ABANDONED)(
    'kill() settles and ends the program when the reader %s',
    async (_, abandon) => {
      const word = tag();
      const proc = await client.spawn(['yes', word]);
      proc.stdin.end();
      await abandon(proc.stdout);
      // The known point: the program runs, and output nobody will read waits in ssh2's buffer.
      expect(
        await eventually(() => remoteProcesses(lab.sshd.user, `yes ${word}`).length === 1, 10_000),
      ).toBe(true);
      expect(await eventually(() => proc.stdout.readableLength > 0, 10_000)).toBe(true);
      // No bound but the test's timeout: kill() settles, and `exit` with it.
      await proc.kill();
      expect(await proc.exit).toEqual({ code: 143, signal: 'TERM' });
      // Not merely given up on: the rest of stdout was read to its end, so the channel closes.
      await finished(proc.stdout, { writable: false });
      expect(remoteProcesses(lab.sshd.user, `yes ${word}`)).toEqual([]);
    },
  );

  it('reconnects after a dropped connection', async () => {
    await client.exec(['true']);
    await lab.sshd.dropConnections();
    await eventually(() => lab.pool.stats(lab.target).connections === 0, 2000);
    expect((await client.exec(['echo', 'again'])).stdout.toString()).toBe('again\n');
  });

  it('never re-runs a command whose connection dropped while it ran', async () => {
    const log = `${lab.sshd.scratchDir}/runs`;
    const sleep = `sleep 303.${tag()}`;
    let requests = 0;
    listen = (message) => {
      if (message.startsWith('Outbound: Sending CHANNEL_REQUEST') && message.includes(sleep)) {
        requests += 1;
      }
    };
    try {
      const pending = failure(client.exec(['sh', '-c', `echo run >>"$1"; ${sleep}`, 'run', log]));
      expect(
        await eventually(() => remoteProcesses(lab.sshd.user, sleep).length === 1, 10_000),
      ).toBe(true);
      await lab.sshd.dropConnections();
      const error = await pending;
      expect(error.code).toBe('VLAB_ERR_CONNECTION_LOST');
      expect(error.message).toMatch(/may or may not have run|dropped while sh/);
      // Any second attempt would have been sent before the call settled: the trace counts them.
      expect(requests).toBe(1);
      expect(readFileSync(log, 'utf8')).toBe('run\n');
    } finally {
      listen = undefined;
      // Without a pty, sshd leaves a dropped session's program running (as on a real network
      // cut); end it here so that the test leaves nothing behind.
      killRemote(liveProcessesOf(lab.sshd.user).filter((line) => line.includes(sleep)));
    }
  });

  it('reuses one connection for sequential execs and turns Nagle off', async () => {
    for (let i = 0; i < 5; i += 1) await client.exec(['true']);
    expect(lab.pool.stats(lab.target).connections).toBe(1);
  });

  it('closes idle connections and refuses work after close()', async () => {
    await using idle = await startLab({
      sshd: { hostKeyTypes: ['ed25519'] },
      pool: { idleTimeoutMs: 200 },
    });
    const c = idle.pool.client(idle.target);
    // The idle timer starts when the call's slot is freed; the call resolves in the same turn of
    // the event loop, so the connection is still there to count.
    await c.exec(['true']);
    expect(idle.pool.stats(idle.target).connections).toBe(1);
    expect(await eventually(() => idle.pool.stats(idle.target).connections === 0, 10_000)).toBe(
      true,
    );
    await c.exec(['true']);
    const seconds = `305.${tag()}`;
    const running = failure(c.exec(['sleep', seconds]));
    expect(
      await eventually(
        () => remoteProcesses(idle.sshd.user, `sleep ${seconds}`).length === 1,
        10_000,
      ),
    ).toBe(true);
    await idle.pool.close();
    expect((await running).code).toBe('VLAB_ERR_SSH_POOL_CLOSED');
    const error = await failure(c.exec(['true']));
    expect(isVlabError(error, 'VLAB_ERR_SSH_POOL_CLOSED')).toBe(true);
    killRemote(remoteProcesses(idle.sshd.user, `sleep ${seconds}`)); // close() does not end commands
  });
});
