import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlabError, type LogRecord } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from '../../src/database/embedded-postgres.js';
import { memoryLogger, query } from './lab-postgres.js';

const MANAGER_DIR = join(import.meta.dirname, '..', '..');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'start-postgres.ts');

let dataDir: string;
let running: EmbeddedPostgres | undefined;
const { log, records } = memoryLogger();

async function start(options: { port?: number } = {}): Promise<EmbeddedPostgres> {
  running = await startEmbeddedPostgres({ dataDir, log, ...options });
  return running;
}

async function stop(): Promise<void> {
  await running?.stop();
  running = undefined;
}

async function postmasterPid(): Promise<number> {
  const text = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
  return Number.parseInt(text.split('\n')[0] ?? '', 10);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function messages(from: number): string[] {
  return records.slice(from).map((record: LogRecord) => record.message);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vlab-manager-embedded-'));
});

afterAll(async () => {
  await stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('startEmbeddedPostgres', () => {
  it('initialises the cluster at the first start, on loopback only, with a 0600 password file', async () => {
    const started = Date.now();
    const server = await start();
    const firstStartMs = Date.now() - started;
    expect(messages(0)).toContain('created the PostgreSQL cluster');
    await stat(join(dataDir, 'postgres', 'PG_VERSION'));

    const passwordFile = await stat(join(dataDir, 'postgres.password'));
    expect(passwordFile.mode & 0o777).toBe(0o600);

    const url = new URL(server.url.reveal());
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.username).toBe('vlab');
    expect(url.pathname).toBe('/vlab');
    expect(Number(url.port)).toBe(server.port);
    expect(String(server.url)).toBe('[redacted]');

    const [settings] = await query<{ listen: string; sockets: string }>(
      server.url,
      "SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets",
    );
    expect(settings).toEqual({ listen: '127.0.0.1', sockets: '' });

    await query(server.url, 'CREATE TABLE survivors (name text)');
    await query(server.url, "INSERT INTO survivors VALUES ('first start')");
    await stop();
    expect(records.some((record) => record.message === 'PostgreSQL stopped')).toBe(true);
    console.info(`first start (initdb included): ${firstStartMs} ms`);
  });

  it('reuses the cluster and its password at the next start; the data survives', async () => {
    const password = (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim();
    const from = records.length;
    const started = Date.now();
    const server = await start();
    const restartMs = Date.now() - started;
    expect(messages(from)).not.toContain('created the PostgreSQL cluster');
    expect(decodeURIComponent(new URL(server.url.reveal()).password)).toBe(password);
    expect(await query(server.url, 'SELECT name FROM survivors')).toEqual([
      { name: 'first start' },
    ]);
    console.info(`restart of an existing cluster: ${restartMs} ms`);
  });

  it('refuses to start a second server on a cluster whose manager still runs', async () => {
    const first = running;
    if (first === undefined) throw new Error('the previous test left no server running');
    const error = await startEmbeddedPostgres({ dataDir, log }).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_DATABASE_START_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/already runs .* started by the manager process/);
    expect((error as Error).message).toMatch(/What to do: Two managers cannot share/);
    // The running server was left alone.
    expect(await query(first.url, 'SELECT count(*)::int AS n FROM survivors')).toEqual([{ n: 1 }]);
    await stop();
  });

  it('starts again after its server was SIGKILLed (stale postmaster.pid)', async () => {
    const server = await start();
    const pid = await postmasterPid();
    process.kill(pid, 'SIGKILL');
    const exit = await server.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(records.some((record) => record.message === 'PostgreSQL exited unexpectedly')).toBe(
      true,
    );
    running = undefined;

    const again = await start();
    expect(await postmasterPid()).not.toBe(pid);
    expect(await query(again.url, 'SELECT name FROM survivors')).toEqual([{ name: 'first start' }]);
    await stop();
  });

  it('stops a server orphaned by a SIGKILLed manager with pg_ctl, then starts its own', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir], {
      cwd: MANAGER_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const childExit = new Promise((resolve) => child.once('exit', resolve));
    await until(() => output.includes('ready ') || child.exitCode !== null, 60_000);
    expect(output).toMatch(/^ready \d+/);
    const orphan = await postmasterPid();

    child.kill('SIGKILL');
    await childExit;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alive(orphan)).toBe(true);

    const from = records.length;
    const server = await start();
    expect(messages(from)).toContain(
      'stopping a PostgreSQL server left running by a manager that is gone',
    );
    await until(() => !alive(orphan), 10_000);
    expect(await postmasterPid()).not.toBe(orphan);
    expect(await query(server.url, 'SELECT name FROM survivors')).toEqual([
      { name: 'first start' },
    ]);
    await stop();
  });

  it('says that a given port is taken, with PostgreSQL’s own words', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await startEmbeddedPostgres({ dataDir, log, port }).catch(
        (caught: unknown) => caught,
      );
      expect(isVlabError(error, 'VLAB_ERR_DATABASE_START_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/exited during start-up/);
      expect((error as Error).message).toMatch(/Address already in use/);
      expect((error as Error).message).toMatch(new RegExp(`Port ${port} on 127.0.0.1 is taken`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses an existing cluster whose password file is gone, and writes none', async () => {
    const passwordPath = join(dataDir, 'postgres.password');
    await rename(passwordPath, `${passwordPath}.away`);
    try {
      const error = await startEmbeddedPostgres({ dataDir, log }).catch(
        (caught: unknown) => caught,
      );
      expect(isVlabError(error, 'VLAB_ERR_SECRET_UNRESOLVED')).toBe(true);
      expect((error as Error).message).toMatch(/Restore .*postgres\.password/);
      await expect(stat(passwordPath)).rejects.toThrow(/ENOENT/);
    } finally {
      await rename(`${passwordPath}.away`, passwordPath);
    }
  });

  it('creates a data directory whose parents are missing, private but reachable by the server', async () => {
    const nested = join(dataDir, 'nested', 'deeper', 'data');
    const server = await startEmbeddedPostgres({ dataDir: nested, log });
    try {
      expect((await stat(nested)).mode & 0o007).toBe(0);
      expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });

  it('never logs the password', async () => {
    const password = (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim();
    expect(records.length).toBeGreaterThan(20);
    expect(records.some((record) => record.message === 'postgres log line')).toBe(true);
    for (const record of records) {
      const text = JSON.stringify(record);
      expect(text).not.toContain(password);
      expect(text).not.toContain(encodeURIComponent(password));
    }
    for (const record of records)
      expect(record.level === 'debug' || record.message !== 'postgres log line').toBe(true);
  });
});
