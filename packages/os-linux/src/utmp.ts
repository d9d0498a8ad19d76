import type { UserSession } from '@vlab/core';

/** Where the OS records the open login sessions (glibc's `_PATH_UTMP`). */
export const UTMP_PATH = '/run/utmp';

/**
 * The log of logins and logouts (glibc's `_PATH_WTMP`), in the same record format: the source
 * where there is no utmp (Debian 13's systemd writes none; its sshd still logs logins here, but
 * not logouts).
 */
export const WTMP_PATH = '/var/log/wtmp';

/** The size of one record of glibc's `struct utmp` on x86_64 (and other 64-bit glibc targets). */
export const UTMP_RECORD_BYTES = 384;

/** `ut_type` of a user's login session. */
export const USER_PROCESS = 7;
/** `ut_type` of a session that ended (its line is free again). */
export const DEAD_PROCESS = 8;
/** `ut_type` of the boot record. */
export const BOOT_TIME = 2;
/** `ut_type` of a run-level change; `ut_user` "shutdown" marks a shutdown. */
export const RUN_LVL = 1;

/** One record of a utmp file, the fields the module reads. */
export interface UtmpRecord {
  /** `ut_type`: 7 for an open user session (`USER_PROCESS`), 8 once it ended (`DEAD_PROCESS`). */
  readonly type: number;
  /** `ut_pid`: the session's process (sshd: its privileged half, which records the logout). */
  readonly pid: number;
  /** `ut_line`: the terminal, without `/dev/` (`pts/0`). */
  readonly line: string;
  /** `ut_user`: the login. */
  readonly user: string;
  /** `ut_host`: where the user came from (an address for sshd); empty when local. */
  readonly host: string;
  /** `ut_tv`: when the record was written, in epoch milliseconds (microseconds kept as a fraction). */
  readonly time: number;
}

// glibc x86_64 layout (`struct utmp`, <bits/utmp.h>), 384 bytes, little-endian:
//   ut_type int16 + 2 bytes of padding @0, ut_pid int32 @4, ut_line char[32] @8,
//   ut_id char[4] @40, ut_user char[32] @44, ut_host char[256] @76, ut_exit @332,
//   ut_session int32 @336, ut_tv { int32 sec @340, int32 usec @344 }, ut_addr_v6 int32[4] @348.
const OFFSET = { type: 0, pid: 4, line: 8, user: 44, host: 76, sec: 340, usec: 344 } as const;
const SIZE = { line: 32, user: 32, host: 256 } as const;

/** A fixed-size C string field: up to the first NUL, or the whole field when it has none. */
function cString(record: Buffer, offset: number, size: number): string {
  const field = record.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? size : end).toString('utf8');
}

/**
 * The records of a utmp file (glibc x86_64 layout, {@link UTMP_RECORD_BYTES} each). Trailing bytes
 * that do not make a whole record (a record being written) are ignored. Pure: no I/O.
 */
export function parseUtmp(data: Uint8Array): UtmpRecord[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const records: UtmpRecord[] = [];
  for (let at = 0; at + UTMP_RECORD_BYTES <= bytes.length; at += UTMP_RECORD_BYTES) {
    const record = bytes.subarray(at, at + UTMP_RECORD_BYTES);
    records.push({
      // ut_type is a short followed by padding: the low 16 bits are the type.
      type: record.readInt16LE(OFFSET.type),
      pid: record.readInt32LE(OFFSET.pid),
      line: cString(record, OFFSET.line, SIZE.line),
      user: cString(record, OFFSET.user, SIZE.user),
      host: cString(record, OFFSET.host, SIZE.host),
      time: record.readInt32LE(OFFSET.sec) * 1000 + record.readInt32LE(OFFSET.usec) / 1000,
    });
  }
  return records;
}

/** A session with the record it came from (its pid, for the liveness check). */
export interface RecordedSession extends UserSession {
  readonly pid: number;
}

/**
 * The open sessions (`USER_PROCESS` records) of `logins` among `records`, oldest first (records of
 * the same time keep their order in the file): `since` is the record's time as ISO 8601, `from`
 * its host when it has one. Pure: no I/O.
 */
export function userSessions(
  records: readonly UtmpRecord[],
  logins: readonly string[],
): RecordedSession[] {
  const wanted = new Set(logins);
  return records
    .filter((r) => r.type === USER_PROCESS && wanted.has(r.user))
    .sort((a, b) => a.time - b.time) // stable: equal times keep the file's order
    .map((record) => ({
      login: record.user,
      since: new Date(Math.floor(record.time)).toISOString(),
      ...(record.host === '' ? {} : { from: record.host }),
      pid: record.pid,
    }));
}

/**
 * The login records of a wtmp log still open at its end, replayed in order: a login holds its
 * line until a logout of that line, a later login on it (the terminal was reused, so the earlier
 * session ended), a boot or a shutdown. Pure: no I/O.
 */
export function openInLog(records: readonly UtmpRecord[]): UtmpRecord[] {
  const open = new Map<string, UtmpRecord>();
  for (const record of records) {
    if (record.type === BOOT_TIME || (record.type === RUN_LVL && record.user === 'shutdown'))
      open.clear();
    else if (record.type === USER_PROCESS) {
      open.delete(record.line); // re-inserted last: the map keeps the log's order
      open.set(record.line, record);
    } else if (record.type === DEAD_PROCESS) open.delete(record.line);
  }
  return [...open.values()];
}
