import { createServer, type Server, type Socket } from 'node:net';
import {
  type Communicator,
  isVlabError,
  type PutOptions,
  type RunOptions,
  type RunResult,
  Secret,
  type TransferSource,
} from '@vlab/core';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingCommunicator } from '../src/recording-communicator.js';

/** What reached the fake machine: each call with the options it got. */
interface Sent {
  readonly call: string;
  readonly argv: readonly string[];
  readonly options: RunOptions | PutOptions | undefined;
}

/** A deferred completion: the test decides when the fake machine finishes a command. */
interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

const ok = (stdout = ''): RunResult => ({
  code: 0,
  stdout: Buffer.from(stdout),
  stderr: Buffer.alloc(0),
});

/** A plain-object inner communicator: records what reaches it; `finish[argv0]` delays a command. */
function fakeMachine(finish: Record<string, Gate> = {}) {
  const sent: Sent[] = [];
  const done: string[] = [];
  const inner: Communicator = {
    computer: 'fake',
    shell: 'posix',
    async run(argv, options) {
      sent.push({ call: 'run', argv, options });
      await finish[argv[0] ?? '']?.wait;
      done.push(argv[0] ?? '');
      return ok(`ran ${argv.join(' ')}`);
    },
    async runChecked(argv, options) {
      sent.push({ call: 'runChecked', argv, options });
      await finish[argv[0] ?? '']?.wait;
      done.push(argv[0] ?? '');
      if (argv[0] === 'false') throw new Error('exit 1');
      return ok(`ran ${argv.join(' ')}`);
    },
    async put(path, _content: TransferSource, options) {
      sent.push({ call: 'put', argv: [path], options });
      done.push(`put ${path}`);
    },
    async get(path) {
      sent.push({ call: 'get', argv: [path], options: undefined });
      return Buffer.from(`content of ${path}`);
    },
    async *getStream(path) {
      sent.push({ call: 'getStream', argv: [path], options: undefined });
      yield Buffer.from('a');
      yield Buffer.from('b');
    },
    async waitUntilReachable() {
      sent.push({ call: 'waitUntilReachable', argv: [], options: undefined });
    },
    async trustHostKeys(keys) {
      sent.push({ call: 'trustHostKeys', argv: keys, options: undefined });
    },
  };
  return { inner, sent, done };
}

/** Whether `promise` is still pending after the event loop had a few turns. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 30));
  return !settled;
}

async function* stream(): AsyncIterable<Uint8Array> {
  yield Buffer.from('streamed');
}

describe('RecordingCommunicator', () => {
  it('passes every call on unchanged and records run, runChecked and put with argv and stdin', async () => {
    const { inner, sent } = fakeMachine();
    const rec = new RecordingCommunicator(inner);
    expect(rec.computer).toBe('fake');
    expect(rec.shell).toBe('posix');
    const signal = new AbortController().signal;
    const run = await rec.run(['useradd', '-m', 'alice'], { sudo: true, timeoutMs: 5000, signal });
    expect(run.stdout.toString()).toBe('ran useradd -m alice');
    await rec.runChecked(['chpasswd'], { stdin: 'alice:pw\n' });
    await rec.run(['tee', '/x'], { stdin: new Uint8Array([1, 2, 3]) });
    await rec.run(['dd'], { stdin: stream() });
    await rec.put('/etc/hosts', 'hosts\n', { mode: 0o600, sudo: true });
    await expect(rec.runChecked(['false'])).rejects.toThrow('exit 1');
    expect((await rec.get('/etc/passwd')).toString()).toBe('content of /etc/passwd');
    const chunks: Uint8Array[] = [];
    for await (const chunk of rec.getStream('/disk')) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('ab');
    await rec.waitUntilReachable({ timeoutMs: 1000 });
    await rec.trustHostKeys(['ssh-ed25519 AAAA']);

    // The inner communicator got the same calls with the same options (the same objects).
    expect(sent.map((s) => s.call)).toEqual([
      'run',
      'runChecked',
      'run',
      'run',
      'put',
      'runChecked',
      'get',
      'getStream',
      'waitUntilReachable',
      'trustHostKeys',
    ]);
    expect(sent[0]?.options).toEqual({ sudo: true, timeoutMs: 5000, signal });
    expect(sent[0]?.options?.signal).toBe(signal);
    expect(sent[4]?.options).toEqual({ mode: 0o600, sudo: true });

    // Commands only: run and runChecked (a failing one too), put as `put PATH`; stdin when bytes.
    expect(rec.commands()).toEqual([
      { argv: ['useradd', '-m', 'alice'] },
      { argv: ['chpasswd'], stdin: Buffer.from('alice:pw\n') },
      { argv: ['tee', '/x'], stdin: Buffer.from([1, 2, 3]) },
      { argv: ['dd'] },
      { argv: ['put', '/etc/hosts'], stdin: Buffer.from('hosts\n') },
      { argv: ['false'] },
    ]);
    // A copy of what the module passed, not the caller's array.
    const argv = ['echo', 'a'];
    await rec.run(argv);
    argv[1] = 'changed';
    expect(rec.commands().at(-1)?.argv).toEqual(['echo', 'a']);

    rec.clear();
    expect(rec.commands()).toEqual([]);
    await rec.run(['true']);
    expect(rec.commands()).toEqual([{ argv: ['true'] }]);
  });

  it('stallAfterCommands(2): the 2nd command takes effect with its answer held, the 3rd waits before reaching the machine, resume releases both', async () => {
    const { inner, sent, done } = fakeMachine();
    const rec = new RecordingCommunicator(inner);
    const resume = rec.stallAfterCommands(2);
    await rec.run(['one']);
    const second = rec.put('/two', 'data');
    expect(await pending(second)).toBe(true);
    expect(done).toEqual(['one', 'put /two']); // it reached the machine and finished
    const third = rec.run(['three']);
    const read = rec.get('/file'); // not a command, but the machine does not answer
    expect(await pending(third)).toBe(true);
    expect(await pending(read)).toBe(true);
    expect(sent.map((s) => s.argv[0])).toEqual(['one', '/two']);
    expect(rec.commands().map((c) => c.argv)).toEqual([['one'], ['put', '/two']]);

    await resume();
    await expect(second).resolves.toBeUndefined();
    expect((await third).stdout.toString()).toBe('ran three');
    expect((await read).toString()).toBe('content of /file');
    expect(rec.commands().map((c) => c.argv[0])).toEqual(['one', 'put', 'three']);
    // Resumed: the machine answers again.
    await rec.run(['four']);
    expect(done.at(-1)).toBe('four');
  });

  it('aborting held calls rejects them with the cancel error: the later one never reaches the machine, the last counted one still completes', async () => {
    const slow = gate();
    const { inner, sent, done } = fakeMachine({ 'ssh-keygen': slow });
    const rec = new RecordingCommunicator(inner);
    const resume = rec.stallAfterCommands(1);
    const controller = new AbortController();
    // The count's command: sent without the caller's signal, so an abort cannot cut it short.
    const keygen = rec.run(['ssh-keygen', '-A'], { signal: controller.signal, timeoutMs: 5000 });
    const later = rec.run(['cat', '/etc/ssh/key.pub'], { signal: controller.signal });
    expect(await pending(keygen)).toBe(true);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.options).toEqual({ timeoutMs: 5000 });

    const reason = new Error('cancelled by the conformance kit');
    controller.abort(reason);
    for (const call of [keygen, later]) {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
      expect((error as { cause?: unknown }).cause).toBe(reason);
      expect((error as { computer?: string }).computer).toBe('fake');
    }
    expect(sent).toHaveLength(1); // `later` never reached the machine
    expect(rec.commands().map((c) => c.argv[0])).toEqual(['ssh-keygen']);

    // Resume waits for the command that completed the count to finish on the machine.
    const resumed = resume();
    expect(await pending(resumed)).toBe(true);
    slow.open();
    await resumed;
    expect(done).toEqual(['ssh-keygen']);
    // A call whose signal already fired goes to the inner communicator, which rejects as it does.
    await rec.run(['true'], { signal: controller.signal });
    expect(rec.commands()).toHaveLength(1);
  });

  it('a held call rejects with VLAB_ERR_OP_TIMEOUT when its own deadline passes', async () => {
    const { inner, sent } = fakeMachine();
    const rec = new RecordingCommunicator(inner);
    const resume = rec.stallAfterCommands(0);
    const started = performance.now();
    const error = await rec.run(['hostname'], { timeoutMs: 80 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
    const put = await rec.put('/x', 'y', { idleTimeoutMs: 50 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVlabError(put, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect(sent).toEqual([]);
    expect(rec.commands()).toEqual([]);
    await resume();
  });

  it('release (the harness reset) ends an armed or active stall; clear empties the record', async () => {
    const { inner } = fakeMachine();
    const rec = new RecordingCommunicator(inner);
    rec.stallAfterCommands(1);
    await rec.release();
    await rec.run(['a']);
    await rec.run(['b']); // the armed stall is gone
    rec.stallAfterCommands(0);
    const held = rec.run(['c']);
    expect(await pending(held)).toBe(true);
    await rec.release();
    await held;
    expect(rec.commands().map((c) => c.argv[0])).toEqual(['a', 'b', 'c']);
    rec.clear();
    expect(rec.commands()).toEqual([]);
    expect(() => rec.stallAfterCommands(-1)).toThrow(RangeError);
  });

  describe('matches @vlab/ssh on a machine that stopped answering', () => {
    // A TCP server that accepts and then says nothing: an SSH server that froze.
    let server: Server;
    let port = 0;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      port = typeof address === 'object' && address !== null ? address.port : 0;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('an aborted call rejects with the same error code and reason as the SSH communicator', async () => {
      await using pool = new SshPool({ hostKeys: new MemoryHostKeyStore({}) });
      const ssh = new SshCommunicator(
        pool.client({
          host: '127.0.0.1',
          port,
          user: 'root',
          auth: { kind: 'password', password: new Secret('x', 'test password') },
          computer: 'frozen',
        }),
      );
      const reason = new Error('cancelled by the conformance kit');
      const abortAfter = (ms: number) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(reason), ms);
        return controller.signal;
      };
      const real = await ssh.run(['true'], { signal: abortAfter(50) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const rec = new RecordingCommunicator(ssh);
      rec.stallAfterCommands(0);
      const held = await rec.run(['true'], { signal: abortAfter(50) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(real)).toBe(true);
      expect(isVlabError(held)).toBe(true);
      expect((held as { code: string }).code).toBe((real as { code: string }).code);
      expect((held as { cause?: unknown }).cause).toBe((real as { cause?: unknown }).cause);
      expect((held as { computer?: string }).computer).toBe('frozen');

      // And a deadline: both time out with the same code.
      const realTimeout = await ssh.run(['true'], { timeoutMs: 50 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const heldTimeout = await rec.run(['true'], { timeoutMs: 50 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((heldTimeout as { code: string }).code).toBe((realTimeout as { code: string }).code);
      await rec.release();
    });
  });
});
