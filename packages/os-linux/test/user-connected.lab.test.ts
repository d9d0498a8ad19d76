import type { UserConnectedResult } from '@vlab/core';
import type { LabClient } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInLog, parseUtmp, USER_PROCESS, UTMP_PATH, WTMP_PATH } from '../src/utmp.js';
import {
  clientsOf,
  type OsLab,
  openPtySession,
  pollUntil,
  startOsLab,
  userKeyPair,
} from './lab.fixture.js';

// userConnected on a real guest: sessions as sshd records them in /run/utmp, for a user logged in
// from a client namespace with a pty, as a user at a terminal would.
describe.each(['bookworm', 'trixie'] as const)(
  'userConnected on a Debian %s lab computer',
  (suite) => {
    let t: OsLab;
    let key: Awaited<ReturnType<typeof userKeyPair>>;
    let client1: LabClient;
    let ip: string;

    const connected = (users: readonly string[]): Promise<UserConnectedResult> => {
      const ask = t.os.userConnected;
      if (ask === undefined) throw new Error('os-linux has no userConnected');
      return ask(t.ctx('userConnected'), { users });
    };

    beforeAll(async () => {
      t = await startOsLab(suite);
      key = await userKeyPair('alice@vlab-test');
      [client1] = clientsOf(t);
      ip = t.harness.labComputer.ip;
      await t.harness.reset();
      await t.os.postLoad(t.ctx('postLoad'));
      await t.os.reserve(t.ctx('reserve'), {
        users: [
          { login: 'alice', sshKeys: [key.publicKey], admin: false, allowFrom: [client1.ip] },
          { login: 'bob', sshKeys: [key.publicKey], admin: false, allowFrom: [client1.ip] },
        ],
      });
    });
    afterAll(async () => {
      await key?.[Symbol.asyncDispose]();
      await t?.close();
    });

    it('reports a login from a client while it lasts, with its time and address', async () => {
      expect(await connected(['alice', 'bob'])).toEqual({ sessions: [] });
      const before = Date.now();
      const session = await openPtySession(client1, ip, 'alice', key.path);
      const after = Date.now();
      try {
        // sshd wrote the record before the shell printed its pid: no wait needed.
        const { sessions } = await connected(['alice', 'bob']);
        expect(sessions).toEqual([{ login: 'alice', since: expect.any(String), from: client1.ip }]);
        const since = Date.parse(sessions[0]?.since ?? '');
        expect(since).toBeGreaterThanOrEqual(before - 2000);
        expect(since).toBeLessThanOrEqual(after + 2000);
        expect(await connected(['bob'])).toEqual({ sessions: [] });
      } finally {
        await session.close();
      }
      // sshd records the logout once it notices the client is gone.
      const gone = await pollUntil(
        () => connected(['alice']),
        (r) => r.sessions.length === 0,
      );
      expect(gone).toEqual({ sessions: [] });
    });

    it('does not report a record whose session process is gone (an sshd killed before its logout)', async () => {
      const session = await openPtySession(client1, ip, 'bob', key.path);
      try {
        expect((await connected(['bob'])).sessions).toHaveLength(1);
        // SIGKILL to the session's privileged sshd, which would write the logout: the session
        // ends (its unprivileged half and the shell go with it) but its utmp record stays.
        const killed = await t.guest(['pkill', '-KILL', '-f', '^sshd(-session)?: bob \\[priv\\]']);
        expect(killed.code).toBe(0);
        const gone = await pollUntil(
          () => connected(['bob']),
          (r) => r.sessions.length === 0,
        );
        expect(gone).toEqual({ sessions: [] });
        // The record is still there, as a session the OS thinks is open (bookworm: utmp; trixie,
        // which keeps no utmp: the wtmp log, whose logins sshd never closes there anyway).
        const source = suite === 'bookworm' ? UTMP_PATH : WTMP_PATH;
        const raw = parseUtmp(await t.ctx('read').communicator.get(source));
        const records = suite === 'bookworm' ? raw : openInLog(raw);
        const stale = records.filter((r) => r.type === USER_PROCESS && r.user === 'bob');
        expect(stale).toHaveLength(1);
        const pid = String(stale[0]?.pid);
        expect((await t.guest(['test', '-e', `/proc/${pid}`])).code).not.toBe(0);
      } finally {
        await session.close();
      }
    });

    it('refuses hostile logins', async () => {
      const ask = t.os.userConnected;
      await expect(
        ask?.(t.ctx('userConnected'), { users: ['alice', 'x; reboot'] }),
      ).rejects.toMatchObject({
        code: 'VLAB_ERR_CONFIG_INVALID',
      });
    });
  },
);
