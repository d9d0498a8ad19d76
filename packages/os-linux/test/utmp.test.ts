import { describe, expect, it } from 'vitest';
import {
  openInLog,
  parseUtmp,
  USER_PROCESS,
  UTMP_RECORD_BYTES,
  type UtmpRecord,
  userSessions,
} from '../src/utmp.js';

const DEAD_PROCESS = 8;
const BOOT_TIME = 2;
const LOGIN_PROCESS = 6;

interface Fields {
  readonly type: number;
  readonly pid?: number;
  readonly line?: string;
  readonly id?: string;
  readonly user?: string;
  readonly host?: string;
  readonly sec: number;
  readonly usec?: number;
}

/** One record as glibc x86_64 writes it (384 bytes), with junk where the module must not look. */
function record(fields: Fields): Buffer {
  const buffer = Buffer.alloc(UTMP_RECORD_BYTES);
  buffer.writeInt16LE(fields.type, 0);
  buffer.writeInt32LE(fields.pid ?? 0, 4);
  buffer.write(fields.line ?? '', 8, 32, 'utf8');
  buffer.write(fields.id ?? '', 40, 4, 'utf8');
  buffer.write(fields.user ?? '', 44, 32, 'utf8');
  buffer.write(fields.host ?? '', 76, 256, 'utf8');
  buffer.writeInt16LE(0x1234, 332); // ut_exit
  buffer.writeInt32LE(4242, 336); // ut_session
  buffer.writeInt32LE(fields.sec, 340);
  buffer.writeInt32LE(fields.usec ?? 0, 344);
  buffer.writeInt32LE(0x0a000001, 348); // ut_addr_v6
  return buffer;
}

// 2025-01-02T03:04:05Z
const T = Date.UTC(2025, 0, 2, 3, 4, 5) / 1000;

describe('parseUtmp', () => {
  it('reads every whole record and its fields', () => {
    const data = Buffer.concat([
      record({ type: BOOT_TIME, line: '~', user: 'reboot', host: '6.1.0-28-amd64', sec: T - 100 }),
      record({
        type: LOGIN_PROCESS,
        pid: 300,
        line: 'tty1',
        id: 'tty1',
        user: 'LOGIN',
        sec: T - 90,
      }),
      record({
        type: USER_PROCESS,
        pid: 1234,
        line: 'pts/0',
        id: 'ts/0',
        user: 'alice',
        host: '10.0.0.5',
        sec: T,
        usec: 654_321,
      }),
    ]);
    const records = parseUtmp(data);
    expect(records).toHaveLength(3);
    expect(records[2]).toEqual<UtmpRecord>({
      type: USER_PROCESS,
      pid: 1234,
      line: 'pts/0',
      user: 'alice',
      host: '10.0.0.5',
      time: T * 1000 + 654.321,
    });
    expect(records.map((r) => r.type)).toEqual([BOOT_TIME, LOGIN_PROCESS, USER_PROCESS]);
  });

  it('reads fields that fill their whole width without a NUL', () => {
    const login = 'a'.repeat(32);
    const host = `${'h'.repeat(255)}x`;
    const [only] = parseUtmp(record({ type: USER_PROCESS, pid: 7, user: login, host, sec: T }));
    expect(only?.user).toBe(login);
    expect(only?.host).toBe(host);
    expect(only?.line).toBe('');
  });

  it('ignores trailing bytes that do not make a whole record', () => {
    const whole = record({ type: USER_PROCESS, pid: 9, user: 'bob', sec: T });
    const partial = record({ type: USER_PROCESS, pid: 10, user: 'carol', sec: T }).subarray(0, 200);
    expect(parseUtmp(Buffer.concat([whole, partial])).map((r) => r.user)).toEqual(['bob']);
    expect(parseUtmp(partial)).toEqual([]);
    expect(parseUtmp(Buffer.alloc(0))).toEqual([]);
  });

  it('reads a record at any offset of a larger buffer (a Uint8Array view)', () => {
    const backing = Buffer.concat([
      Buffer.alloc(16),
      record({ type: USER_PROCESS, pid: 3, user: 'dan', sec: T }),
    ]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 16, UTMP_RECORD_BYTES);
    expect(parseUtmp(view).map((r) => r.user)).toEqual(['dan']);
  });
});

describe('userSessions', () => {
  const file = Buffer.concat([
    record({ type: BOOT_TIME, user: 'reboot', sec: T - 500 }),
    // Newest first in the file: slots are reused, so file order is not time order.
    record({
      type: USER_PROCESS,
      pid: 30,
      line: 'pts/2',
      user: 'alice',
      host: '10.0.0.7',
      sec: T + 20,
    }),
    record({
      type: USER_PROCESS,
      pid: 10,
      line: 'pts/0',
      user: 'alice',
      host: '10.0.0.5',
      sec: T,
      usec: 500_000,
    }),
    // A session that ended: sshd rewrote its slot as DEAD_PROCESS, user kept.
    record({
      type: DEAD_PROCESS,
      pid: 11,
      line: 'pts/1',
      user: 'bob',
      host: '10.0.0.6',
      sec: T + 5,
    }),
    // Another user's session, and root's.
    record({
      type: USER_PROCESS,
      pid: 40,
      line: 'pts/3',
      user: 'mallory',
      host: '10.0.0.9',
      sec: T + 1,
    }),
    record({
      type: USER_PROCESS,
      pid: 41,
      line: 'pts/4',
      user: 'root',
      host: '10.0.0.1',
      sec: T + 2,
    }),
    // A local login: no host.
    record({ type: USER_PROCESS, pid: 50, line: 'tty1', user: 'bob', sec: T + 10 }),
  ]);

  it('keeps the open sessions of the asked logins, oldest first, with since and from', () => {
    expect(userSessions(parseUtmp(file), ['alice', 'bob'])).toEqual([
      { login: 'alice', since: '2025-01-02T03:04:05.500Z', from: '10.0.0.5', pid: 10 },
      { login: 'bob', since: '2025-01-02T03:04:15.000Z', pid: 50 },
      { login: 'alice', since: '2025-01-02T03:04:25.000Z', from: '10.0.0.7', pid: 30 },
    ]);
  });

  it('reports nobody for logins without an open session, or none asked', () => {
    expect(userSessions(parseUtmp(file), ['carol'])).toEqual([]);
    expect(userSessions(parseUtmp(file), [])).toEqual([]);
    // A dead record of an asked login is not a session.
    const dead = record({ type: DEAD_PROCESS, pid: 11, user: 'bob', host: '10.0.0.6', sec: T });
    expect(userSessions(parseUtmp(dead), ['bob'])).toEqual([]);
  });

  it('compares logins whole', () => {
    const records = parseUtmp(record({ type: USER_PROCESS, pid: 1, user: 'alice2', sec: T }));
    expect(userSessions(records, ['alice'])).toEqual([]);
  });

  it('keeps the file order for sessions of the same time', () => {
    const same = Buffer.concat([
      record({ type: USER_PROCESS, pid: 2, line: 'pts/1', user: 'bob', sec: T }),
      record({ type: USER_PROCESS, pid: 1, line: 'pts/0', user: 'alice', sec: T }),
    ]);
    expect(userSessions(parseUtmp(same), ['alice', 'bob']).map((s) => s.login)).toEqual([
      'bob',
      'alice',
    ]);
  });
});

describe('openInLog', () => {
  const login = (pid: number, line: string, user: string, sec: number) =>
    record({ type: USER_PROCESS, pid, line, user, sec });
  const logout = (pid: number, line: string, sec: number) =>
    record({ type: DEAD_PROCESS, pid, line, sec });

  it('keeps the logins that no logout, reuse of the line, boot or shutdown closed, in log order', () => {
    const log = Buffer.concat([
      login(1, 'pts/0', 'alice', T - 900),
      record({ type: BOOT_TIME, line: '~', user: 'reboot', sec: T - 800 }),
      login(2, 'pts/0', 'alice', T - 700),
      logout(2, 'pts/0', T - 600),
      login(3, 'pts/1', 'alice', T - 500),
      login(4, 'pts/2', 'bob', T - 400),
      login(5, 'pts/1', 'carol', T - 300),
      login(6, 'pts/3', 'dan', T - 200),
      login(7, 'pts/2', 'bob', T - 100),
    ]);
    expect(openInLog(parseUtmp(log)).map((r) => [r.pid, r.user])).toEqual([
      [5, 'carol'],
      [6, 'dan'],
      [7, 'bob'],
    ]);
  });

  it('closes everything at a shutdown record', () => {
    const log = Buffer.concat([
      login(1, 'pts/0', 'alice', T - 900),
      record({ type: 1, line: '~', user: 'shutdown', sec: T - 800 }),
    ]);
    expect(openInLog(parseUtmp(log))).toEqual([]);
    // Another run-level change closes nothing.
    const runLevel = Buffer.concat([
      login(1, 'pts/0', 'alice', T - 900),
      record({ type: 1, line: '~', user: 'runlevel', sec: T - 800 }),
    ]);
    expect(openInLog(parseUtmp(runLevel)).map((r) => r.pid)).toEqual([1]);
  });
});
