import { spawn } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi } from '../src/http/http-api.js';
import { type MemoryLabManager, startMemoryLabManager } from './memory-lab-manager.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

let fixture: MemoryLabManager;
let api: FastifyInstance;
let server = '';
const token: Record<string, string> = {};

beforeAll(async () => {
  fixture = await startMemoryLabManager('vlab-cli');
  for (const login of ['alice', 'bob']) {
    token[login] = (await fixture.manager.apiTokens.issue(login, 'cli')).token.reveal();
  }
  api = await createHttpApi(fixture.manager);
  server = await api.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await fixture?.cleanup();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `vlab` (its source, through tsx) with `args`; the server and token from the environment. */
function vlab(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: fixture.manager.config.dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const as = (login: string) => ({ VLAB_SERVER: server, VLAB_TOKEN: token[login] ?? '' });

describe('vlab', () => {
  let id = '';

  it('lists the computers and images', async () => {
    const computers = await vlab(['computers'], as('bob'));
    expect(computers.code, computers.stderr).toBe(0);
    expect(computers.stdout).toMatch(/^NAME +STATE +POWER +LOADED +NOTE\nc1 +available/);
    const images = await vlab(['--json', 'images'], as('bob'));
    expect(JSON.parse(images.stdout)[0]).toMatchObject({ name: 'base', osFamily: 'linux' });
  });

  it('reserves a computer, follows it until ready and prints how to connect', async () => {
    const run = await vlab(['reserve', 'base', '--for', '30m'], as('bob'));
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    id = /^reservation ([0-9a-f-]{36}): base for 30m$/.exec(lines[0] ?? '')?.[1] ?? '';
    expect(id).not.toBe('');
    expect(run.stdout).toMatch(/^assign ok in /m);
    expect(run.stdout).toMatch(/^load on c[12] ok in /m);
    expect(run.stdout).toMatch(/^load\S* \[#*-*\] \d+%, \d+ steps of \d+ steps/m);
    expect(lines.at(-2)).toMatch(/^ready: ssh (-p \d+ )?bob@\S+$/);
    const mine = await vlab(['--json', 'reservations'], as('bob'));
    expect(JSON.parse(mine.stdout).map((r: { id: string }) => r.id)).toEqual([id]);
  });

  it('extends and ends a reservation', async () => {
    const extended = await vlab(['extend', id, '--by', '10m'], as('bob'));
    expect(extended.code, extended.stderr).toBe(0);
    expect(extended.stdout).toMatch(new RegExp(`^reservation ${id} ends at `));
    // A watch of a ready reservation follows it from now: its end (and the reclaim), not how
    // it was made ready again.
    const watching = vlab(['watch', id], as('bob'));
    const ended = await vlab(['end', id, '--reason', 'done'], as('bob'));
    expect(ended.code, ended.stderr).toBe(0);
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/ended/);
    expect(watched.stdout).not.toMatch(/^(assign|ready) /m);
  });

  it('exits with a code that says what went wrong, and a message with a hint', async () => {
    const unknown = await vlab(['reserve', 'nope', '--no-wait'], as('bob'));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^vlab: VLAB_ERR_IMAGE_UNKNOWN: /);
    const noToken = await vlab(['computers'], { VLAB_SERVER: server });
    expect(noToken.code).toBe(4);
    const forbidden = await vlab(['maintenance', 'c1', '--reason', 'x'], as('bob'));
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toContain('VLAB_ERR_AUTH_FORBIDDEN');
    const usage = await vlab(['extend', id, '--by', '2x'], as('bob'));
    expect(usage.code).toBe(2);
    expect((await vlab(['frobnicate'], as('bob'))).code).toBe(2);
    // A port nothing listens on: one just taken and given back.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const away = await vlab(['computers'], {
      VLAB_SERVER: `http://127.0.0.1:${closed}`,
      VLAB_TOKEN: 'x',
    });
    expect(away.code).toBe(3);
    expect(away.stderr).toContain(
      `cannot reach the manager at http://127.0.0.1:${closed} (ECONNREFUSED)`,
    );
    const json = await vlab(['--json', 'reserve', 'nope', '--no-wait'], as('bob'));
    expect(JSON.parse(json.stderr).error.code).toBe('VLAB_ERR_IMAGE_UNKNOWN');
  });

  it('keeps each name and id it is given one path segment, whatever it holds', async () => {
    for (const hostile of ['../tokens', "'; rm -rf / #", 'a\nb', 'ünï/cødé', '%2e%2e']) {
      const shown = await vlab(['show', hostile], as('alice'));
      expect(shown.code, `${hostile}: ${shown.stderr}`).toBe(1);
      expect(shown.stderr).toContain('VLAB_ERR_REQUEST_INVALID');
      const revoked = await vlab(['tokens', 'revoke', hostile], as('alice'));
      expect(revoked.code).toBe(1);
    }
    const tokens = await vlab(['--json', 'tokens', 'list'], as('alice'));
    expect(JSON.parse(tokens.stdout)).toHaveLength(2);
  });

  it('reads the server and token from a configuration file readable by its owner only', async () => {
    const file = join(fixture.manager.config.dataDir, 'cli.json');
    await writeFile(file, JSON.stringify({ server, token: token['alice'] }), { mode: 0o644 });
    await chmod(file, 0o644);
    const open = await vlab(['me'], { VLAB_CLI_CONFIG: file });
    expect(open.code).toBe(2);
    expect(open.stderr).toContain(`chmod 600 ${file}`);
    await chmod(file, 0o600);
    const me = await vlab(['me'], { VLAB_CLI_CONFIG: file });
    expect(me.stdout).toBe('alice (admin)\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain(token['alice']);
  });
});
