import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The root README's first command and its tour, run as written: `bash scripts/demo.sh` starts a
// lab of three computers and a manager; the tour's block runs in bash against it (the demo's
// directory moved to a temporary one); Ctrl-C (SIGINT) takes it all down, nothing left behind.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const DEFAULT_DIR = '/var/lib/vlab-demo';
const run = promisify(execFile);

type Child = ChildProcessByStdio<null, Readable, Readable>;

interface Demo {
  readonly child: Child;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  readonly exited: Promise<number | null>;
}

let dir: string;
let blocks: string[];
let listen: string;

/** The README's shell blocks under "## Quick start": the demo, the tour, the tests. */
async function quickStartBlocks(): Promise<string[]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const section = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Runs the README's first command (its one line) with the demo's settings moved here. */
function startDemo(command: string): Demo {
  let text = '';
  const child = spawn('bash', ['-c', command], {
    cwd: REPO,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      VLAB_DEMO_DIR: dir,
      VLAB_DEMO_LISTEN: listen,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => text, exited };
}

/** Resolves once the demo printed `line`; throws with its output when it exits first. */
async function untilPrinted(demo: Demo, line: RegExp): Promise<void> {
  for (;;) {
    if (line.test(demo.output())) return;
    const next = await Promise.race([
      new Promise<'data'>((resolve) => demo.child.stdout.once('data', () => resolve('data'))),
      demo.exited.then(() => 'exit' as const),
    ]);
    if (next === 'exit' && !line.test(demo.output())) {
      throw new Error(`the demo exited before printing ${line}:\n${demo.output()}`);
    }
  }
}

async function stopDemo(demo: Demo): Promise<number | null> {
  if (demo.child.exitCode === null) demo.child.kill('SIGINT');
  return demo.exited;
}

let first: Demo | undefined;

beforeAll(async () => {
  blocks = await quickStartBlocks();
  dir = await mkdtemp(join(tmpdir(), 'vlab-demo-'));
  listen = `127.0.0.1:${await freePort()}`;
}, 60_000);

afterAll(async () => {
  if (first !== undefined) await stopDemo(first);
  await rm(dir, { recursive: true, force: true });
});

describe('the README quick start', () => {
  it('has the demo command first and the test command last, as CI calls it', () => {
    expect(blocks).toHaveLength(3);
    expect(blocks[0]?.trim()).toBe('bash scripts/demo.sh');
    expect(blocks[2]?.trim()).toBe('bash scripts/test.sh');
  });

  it('starts a lab of three computers and a manager, and prints where everything is', async () => {
    first = startDemo(blocks[0] as string);
    await untilPrinted(first, /^demo: ready$/m);
    const printed = first.output();
    expect(printed).toMatch(/The demo lab runs: c1 \(.+\), c2 \(.+\), c3 \(.+\)\./);
    expect(printed).toContain(`status page   http://${listen}/`);
    expect(printed).toContain(`admin token   ${dir}/data/admin-token   (user demo)`);
    for (const file of ['data/admin-token', 'cli.json', 'demo-key']) {
      expect((await stat(join(dir, file))).mode & 0o777, file).toBe(0o600);
    }
    // The token is in its file, never on the screen.
    const token = (await readFile(join(dir, 'data/admin-token'), 'utf8')).trim();
    expect(printed).not.toContain(token);
    const page = await fetch(`http://${listen}/`);
    expect(page.status).toBe(200);
  }, 1_200_000);

  it('refuses a second demo on the same directory while one runs', async () => {
    const second = startDemo(blocks[0] as string);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/a demo runs already in .* \(process \d+\)/);
  }, 600_000);

  it('runs the tour as written: reserve, change, capture into a new image, reserve it elsewhere', async () => {
    const tour = (blocks[1] as string).replaceAll(DEFAULT_DIR, dir);
    expect(tour).not.toBe(blocks[1]);
    const { stdout, stderr } = await run('bash', ['-e', '-o', 'pipefail', '-c', tour], {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root' },
      timeout: 900_000,
    });
    process.stdout.write(`the tour printed:\n${stdout}${stderr}`);
    const lines = stdout.trim().split('\n');
    // vlab connect: the demo key and the host keys the manager pinned, no prompt.
    expect(stdout).toMatch(
      new RegExp(
        `^ssh -i ${dir}/demo-key -o UserKnownHostsFile=${dir}/known_hosts demo@\\S+$`,
        'm',
      ),
    );
    expect(stdout).toMatch(/^capture of reservation \S+ into my-image started$/m);
    expect(stdout).toMatch(/^my-image revision 1 production$/m);
    // vlab show: the new reservation, ready with my-image; then the file made before the capture.
    expect(stdout).toMatch(/^\S+ +my-image +1 +c\d +ready +demo /m);
    expect(lines.at(-1)).toBe('made in the demo');
    const captured = /^capture on (c\d) ok/m.exec(stdout);
    const reserved = /^\S+ +my-image +1 +(c\d) +ready/m.exec(stdout);
    expect(reserved?.[1]).toBeDefined();
    if (captured !== null) expect(reserved?.[1]).not.toBe(captured[1]);
  }, 1_200_000);

  it('stops on Ctrl-C, taking the lab down with nothing left behind', async () => {
    const demo = first as Demo;
    expect(await stopDemo(demo)).toBe(0);
    expect(demo.output()).toContain('demo: lab down, nothing left behind');
    await expect(stat(join(dir, 'demo.pid'))).rejects.toThrow();
  }, 600_000);

  it('starts again from the same place (idempotent)', async () => {
    first = startDemo(blocks[0] as string);
    await untilPrinted(first, /^demo: ready$/m);
    const { stdout } = await run(join(dir, 'bin/vlab'), ['images'], {
      env: { PATH: process.env['PATH'] ?? '', VLAB_CLI_CONFIG: join(dir, 'cli.json') },
    });
    expect(stdout).toMatch(/^debian-bookworm +linux/m);
    expect(stdout).not.toContain('my-image');
    expect(await stopDemo(first)).toBe(0);
    expect(first.output()).toContain('demo: lab down, nothing left behind');
    first = undefined;
  }, 1_200_000);
});
