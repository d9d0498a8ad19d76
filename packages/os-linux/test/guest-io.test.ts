import {
  type Communicator,
  coreError,
  createLogger,
  createOsContext,
  isVlabError,
  type LogRecord,
  type OsContext,
  type PutOptions,
  type RunOptions,
  type RunResult,
  type TransferOptions,
  type TransferSource,
} from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import { Guest } from '../src/guest.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';
import { BOOT_TIME, USER_PROCESS, UTMP_PATH, UTMP_RECORD_BYTES, WTMP_PATH } from '../src/utmp.js';

interface Put {
  readonly path: string;
  readonly content: Buffer;
  readonly options: PutOptions;
}

/**
 * A communicator over an in-memory file tree that records every command and every put, and
 * answers the module's read script, `mkdir` and the pid check; anything else exits 0.
 */
class FakeCommunicator implements Communicator {
  readonly computer = 'c1';
  readonly shell = 'posix' as const;
  readonly files = new Map<string, Buffer>();
  readonly commands: { argv: readonly string[]; options: RunOptions }[] = [];
  readonly puts: Put[] = [];
  readonly gets: string[] = [];
  /** pid → start, epoch seconds, of the guest's processes. */
  processes = new Map<string, number>();

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.commands.push({ argv, options });
    const ok = (stdout = ''): RunResult => ({
      code: 0,
      stdout: Buffer.from(stdout),
      stderr: Buffer.alloc(0),
    });
    if (argv[0] === 'sh' && argv[3] === 'read-file') {
      const file = this.files.get(argv[4] ?? '');
      return file === undefined
        ? { code: 3, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }
        : { code: 0, stdout: file, stderr: Buffer.alloc(0) };
    }
    if (argv[0] === 'sh' && argv[3] === 'process-starts')
      return ok(
        argv
          .slice(4)
          .filter((p) => this.processes.has(p))
          .map((p) => `${p} ${this.processes.get(p)}\n`)
          .join(''),
      );
    return ok();
  }

  async runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    return this.run(argv, options);
  }

  async put(path: string, content: TransferSource, options: PutOptions = {}): Promise<void> {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(String(content));
    this.puts.push({ path, content: bytes, options });
    this.files.set(path, bytes);
  }

  async get(path: string, _options?: TransferOptions): Promise<Buffer> {
    this.gets.push(path);
    const file = this.files.get(path);
    if (file === undefined)
      throw coreError('VLAB_ERR_COMMAND_FAILED', `${path} does not exist`, { computer: 'c1' });
    return file;
  }

  // biome-ignore lint/correctness/useYield: never streamed in these tests
  async *getStream(): AsyncIterable<Uint8Array> {
    throw new Error('not used');
  }

  async waitUntilReachable(): Promise<void> {}

  async trustHostKeys(): Promise<void> {}
}

function contextOf(communicator: Communicator, records: LogRecord[] = []): OsContext {
  return createOsContext({
    log: createLogger((r) => records.push(r)),
    deadline: Date.now() + 30_000,
    phase: 'test',
    computer: {
      name: 'c1',
      hostname: 'c1',
      addresses: { management: '192.0.2.10' },
      credentials: {},
      attributes: {},
    },
    communicator,
    power: { status: async () => 'on' as const },
  });
}

describe('Guest.writeFile', () => {
  it('writes through put (no shell), after creating the directory as an argument vector', async () => {
    const fake = new FakeCommunicator();
    const ctx = contextOf(fake);
    const guest = new Guest(ctx, true);
    expect(await guest.writeFile('/etc/vlab/x.conf', 'hello\n', { mode: 0o600 })).toBe(true);
    expect(fake.commands.map((c) => c.argv)).toEqual([
      ['sh', '-c', expect.any(String), 'read-file', '/etc/vlab/x.conf'],
      ['mkdir', '-p', '--', '/etc/vlab'],
    ]);
    expect(fake.commands.every((c) => c.options.sudo === true)).toBe(true);
    expect(fake.puts).toHaveLength(1);
    const [put] = fake.puts;
    expect(put?.path).toBe('/etc/vlab/x.conf');
    expect(put?.content.toString()).toBe('hello\n');
    expect(put?.options).toMatchObject({ sudo: true, mode: 0o600, signal: ctx.signal });
    expect(put?.options.idleTimeoutMs).toBeGreaterThan(0);
    expect(put?.options.idleTimeoutMs).toBeLessThanOrEqual(60_000);
    expect(put?.options).not.toHaveProperty('owner');
  });

  it('passes owner and group, and the default mode 0644', async () => {
    const fake = new FakeCommunicator();
    const guest = new Guest(contextOf(fake), false);
    await guest.writeFile('/home/alice/.profile', Buffer.from('x'), {
      owner: 'alice',
      group: 'alice',
    });
    expect(fake.puts[0]?.options).toMatchObject({
      sudo: false,
      mode: 0o644,
      owner: 'alice',
      group: 'alice',
    });
  });

  it('writes nothing and returns false when the file already holds the content', async () => {
    const fake = new FakeCommunicator();
    fake.files.set('/etc/hostname', Buffer.from('c1\n'));
    const guest = new Guest(contextOf(fake), false);
    expect(await guest.writeFile('/etc/hostname', 'c1\n')).toBe(false);
    expect(fake.puts).toEqual([]);
    expect(fake.commands).toHaveLength(1); // the read only
    expect(await guest.writeFile('/etc/hostname', 'c2\n')).toBe(true);
    expect(fake.files.get('/etc/hostname')?.toString()).toBe('c2\n');
  });
});

/** A utmp record as glibc x86_64 writes it. */
function utmp(type: number, pid: number, user: string, host: string, sec: number): Buffer {
  const record = Buffer.alloc(UTMP_RECORD_BYTES);
  record.writeInt16LE(type, 0);
  record.writeInt32LE(pid, 4);
  record.write('pts/0', 8);
  record.write(user, 44, 32);
  record.write(host, 76, 256);
  record.writeInt32LE(sec, 340);
  return record;
}

describe('userConnected', () => {
  const os = createLinuxOsModule(linuxOsConfig());
  const since = Date.UTC(2025, 5, 1, 12, 0, 0) / 1000;

  it('reports the live sessions of the asked users from /run/utmp, and changes nothing', async () => {
    const fake = new FakeCommunicator();
    fake.files.set(
      UTMP_PATH,
      Buffer.concat([
        utmp(USER_PROCESS, 200, 'alice', '192.0.2.7', since + 60),
        utmp(USER_PROCESS, 100, 'alice', '192.0.2.8', since),
        utmp(USER_PROCESS, 300, 'bob', '', since + 30),
        utmp(USER_PROCESS, 400, 'carol', '192.0.2.9', since),
        // Stale: its process is gone (an sshd killed before it wrote the logout) …
        utmp(USER_PROCESS, 500, 'bob', '192.0.2.10', since + 10),
        // … or its pid now belongs to a process that started later.
        utmp(USER_PROCESS, 700, 'alice', '192.0.2.12', since + 20),
        utmp(8, 600, 'alice', '192.0.2.11', since),
      ]),
    );
    // The sessions' processes started a little before their records (sshd forks, then records).
    fake.processes = new Map([
      ['100', since - 1],
      ['200', since + 59],
      ['300', since + 30],
      ['400', since],
      ['700', since + 20 + 3600],
    ]);
    fake.files.set(WTMP_PATH, utmp(USER_PROCESS, 100, 'dave', '192.0.2.13', since));
    const records: LogRecord[] = [];
    const result = await os.userConnected?.(contextOf(fake, records), { users: ['alice', 'bob'] });
    expect(result).toEqual({
      sessions: [
        { login: 'alice', since: '2025-06-01T12:00:00.000Z', from: '192.0.2.8' },
        { login: 'bob', since: '2025-06-01T12:00:30.000Z' },
        { login: 'alice', since: '2025-06-01T12:01:00.000Z', from: '192.0.2.7' },
      ],
    });
    expect(fake.gets).toEqual([UTMP_PATH]);
    expect(fake.puts).toEqual([]);
    const check = fake.commands.find((c) => c.argv[3] === 'process-starts');
    expect(check?.argv.slice(4).sort()).toEqual(['100', '200', '300', '500', '700']);
    expect(fake.commands).toHaveLength(1);
    expect(records.map((r) => r.message)).toContain(
      'ignored session records whose process is gone',
    );
  });

  it('reads the logins no logout closed in /var/log/wtmp where there is no utmp', async () => {
    const fake = new FakeCommunicator();
    const dead = (pid: number, line: string, sec: number) => {
      const record = utmp(8, pid, '', '', sec);
      record.write(line.padEnd(32, '\0'), 8, 32);
      return record;
    };
    const onLine = (record: Buffer, line: string) => {
      record.write(line.padEnd(32, '\0'), 8, 32);
      return record;
    };
    fake.files.set(
      WTMP_PATH,
      Buffer.concat([
        // Before the last boot: over, whatever the pid says.
        onLine(utmp(USER_PROCESS, 90, 'alice', '192.0.2.1', since - 900), 'pts/0'),
        utmp(BOOT_TIME, 0, 'reboot', '', since - 600),
        // Logged in and out.
        onLine(utmp(USER_PROCESS, 100, 'alice', '192.0.2.2', since - 300), 'pts/0'),
        dead(100, 'pts/0', since - 200),
        // Logged in; its terminal was later reused by another login (no logout in the log).
        onLine(utmp(USER_PROCESS, 110, 'alice', '192.0.2.3', since - 100), 'pts/1'),
        onLine(utmp(USER_PROCESS, 120, 'bob', '192.0.2.4', since), 'pts/1'),
        onLine(utmp(USER_PROCESS, 130, 'alice', '192.0.2.5', since + 10), 'pts/2'),
      ]),
    );
    fake.processes = new Map([
      ['90', since - 700],
      ['100', since - 300],
      ['110', since - 100],
      ['120', since],
      ['130', since + 10],
    ]);
    const result = await os.userConnected?.(contextOf(fake), { users: ['alice', 'bob'] });
    expect(result).toEqual({
      sessions: [
        { login: 'bob', since: '2025-06-01T12:00:00.000Z', from: '192.0.2.4' },
        { login: 'alice', since: '2025-06-01T12:00:10.000Z', from: '192.0.2.5' },
      ],
    });
    expect(fake.gets).toEqual([UTMP_PATH, WTMP_PATH]);
  });

  it('reports no session without a command when nobody asked is connected', async () => {
    const fake = new FakeCommunicator();
    fake.files.set(UTMP_PATH, utmp(USER_PROCESS, 400, 'carol', '192.0.2.9', since));
    expect(await os.userConnected?.(contextOf(fake), { users: ['alice'] })).toEqual({
      sessions: [],
    });
    expect(fake.commands).toEqual([]);
  });

  it('refuses hostile logins before touching the machine', async () => {
    for (const login of ['alice; reboot', '../etc', '', 'A', '-rf', 'root', 'a'.repeat(33)]) {
      const fake = new FakeCommunicator();
      const error = await os.userConnected?.(contextOf(fake), { users: ['alice', login] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), login).toBe(true);
      expect(fake.gets).toEqual([]);
      expect(fake.commands).toEqual([]);
    }
  });

  it('says so when the machine keeps neither utmp nor wtmp', async () => {
    const error = await os
      .userConnected?.(contextOf(new FakeCommunicator()), { users: ['alice'] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isVlabError(error, 'VLAB_ERR_CAPABILITY_MISSING')).toBe(true);
  });
});
