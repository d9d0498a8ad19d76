import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROGRESS_SAMPLE_MS } from '../src/engine/progress-recorder.js';
import { createHttpApi } from '../src/http/http-api.js';
import { type MemoryLabManager, startMemoryLabManager } from './memory-lab-manager.js';
import { poll } from './poll.js';

// `vlab` as a person uses it: typed into a shell in tmux (send-keys), read off the screen
// (capture-pane). A terminal is what makes `vlab watch` draw its progress bar in place.

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const TSX = pathToFileURL(
  createRequire(fileURLToPath(new URL('../package.json', import.meta.url))).resolve('tsx'),
).href;

/** How the test holds a load at a known point: the provisioner below calls it. */
const GATE = Symbol.for('vlab.test.vlab-cli-tmux.gate');
type Gate = (point: string, detail: { computer: string }) => Promise<void>;

/** How much the load's `fetch` phase "copies". */
const FETCH_BYTES = 64 * 1024 * 1024;

/**
 * The memory provisioner, whose load first copies an image in phase `load/fetch`, as a real one
 * would: 0 bytes, then half once a progress sample may be stored again (the manager stores at most
 * one a second per phase), then it waits at the test's gate (`held`), then the rest. The two
 * samples apart in time give the bar a rate and an ETA; the gate keeps it on the screen until the
 * test has read it. Outside this test (no gate) it does not wait.
 */
const GATED_PROVISIONER = `import { sleep } from '@vlab/core';
import { memoryProvisioner } from '@vlab/fixture-modules';

const gate = (point, detail) => {
  const hook = globalThis[Symbol.for(${JSON.stringify(GATE.description)})];
  return hook === undefined ? Promise.resolve() : hook(point, detail);
};
const aborted = (signal) =>
  new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

export default {
  ...memoryProvisioner,
  async create(config, deps) {
    const provisioner = await memoryProvisioner.create(config, deps);
    const load = provisioner.load;
    provisioner.load = async (ctx, args) => {
      const fetching = ctx.child({ phase: 'fetch' });
      const total = ${FETCH_BYTES};
      fetching.progress.report({ done: 0, total });
      const first = Date.now();
      while (Date.now() < first + ${PROGRESS_SAMPLE_MS}) {
        await sleep(first + ${PROGRESS_SAMPLE_MS} - Date.now() + 1, ctx.signal, ctx.computer.name);
      }
      fetching.progress.report({ done: total / 2, total });
      await Promise.race([gate('held', { computer: ctx.computer.name }), aborted(ctx.signal)]);
      fetching.progress.report({ done: total, total });
      return load.call(provisioner, ctx, args);
    };
    return provisioner;
  },
};
`;

/** A private tmux server: its own socket, no configuration file, a clean environment. */
const SOCKET = `vlab-cli-tmux-${process.pid}-${randomUUID().slice(0, 8)}`;
let tmuxEnv: NodeJS.ProcessEnv = {};

function tmux(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { env: tmuxEnv }, (e, out, err) =>
      e === null ? resolve(out) : reject(new Error(`tmux ${args.join(' ')}: ${err || e.message}`)),
    );
  });
}

/** Fails, naming the Debian package, when tmux is not installed. */
function requireTmux(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-V'], (error) => {
      if (error === null) return resolve();
      reject(
        new Error(
          `this test needs tmux (${error.message}): install the Debian package tmux ` +
            '(apt-get install tmux; scripts/test.sh installs it with the other SYSTEM_PACKAGES)',
        ),
      );
    });
  });
}

/** Types `text` into the window as a person would: at the shell's prompt, then Enter. */
async function type(window: string, text: string): Promise<void> {
  await untilScreen(window, PROMPT);
  await tmux('send-keys', '-t', window, '-l', text);
  await tmux('send-keys', '-t', window, 'Enter');
}

/** What the window shows now (wrapped lines joined, trailing blanks dropped). */
async function screen(window: string): Promise<string> {
  return (await tmux('capture-pane', '-p', '-J', '-t', window)).replace(/\s+$/, '');
}

/** Reads the window's screen until `pattern` is on it; returns the match. */
function untilScreen(window: string, pattern: RegExp): Promise<RegExpExecArray> {
  return poll(
    async () => pattern.exec(await screen(window)) ?? undefined,
    async () => `window ${window} never showed ${pattern}; it shows:\n${await screen(window)}`,
    { boundMs: 60_000, pauseMs: 100 },
  );
}

/** The shell (sh, not a login shell: /etc/profile would set another PATH) waits for a command. */
const SHELL = '/bin/sh';
/** Its prompt (PS1) on the last line of the screen, nothing typed after it yet. */
const PROMPT = /^\$$(?![\s\S])/m;

let fixture: MemoryLabManager | undefined;
let api: FastifyInstance | undefined;
let scratch = '';
let tmuxStarted = false;
/** The private server's socket file, once it runs. */
let socketPath = '';
let release: () => void = () => {};
let held: Promise<string>;

beforeAll(async () => {
  await requireTmux();
  fixture = await startMemoryLabManager('vlab-cli-tmux', { provisionerSource: GATED_PROVISIONER });
  const token = (await fixture.manager.apiTokens.issue('bob', 'tmux')).token.reveal();
  api = await createHttpApi(fixture.manager);
  const server = await api.listen({ host: '127.0.0.1', port: 0 });

  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  held = new Promise<string>((resolve) => {
    (globalThis as { [GATE]?: Gate })[GATE] = async (point, { computer }) => {
      if (point !== 'held') return;
      resolve(computer);
      await released;
    };
  });

  // The person's home, and `vlab` on their PATH: the CLI's source, run through tsx.
  scratch = await realpath(await mkdtemp(join(tmpdir(), 'vlab-cli-tmux-')));
  const home = join(scratch, 'home');
  const bin = join(scratch, 'bin');
  await mkdir(home, { mode: 0o700 });
  await mkdir(bin);
  await writeFile(
    join(bin, 'vlab'),
    `#!/bin/sh\nexec '${process.execPath}' --import '${TSX}' '${MAIN}' "$@"\n`,
  );
  await chmod(join(bin, 'vlab'), 0o755);
  tmuxEnv = {
    PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
    HOME: home,
    SHELL,
    PS1: '$ ',
    LANG: 'C.UTF-8',
    TERM: 'xterm-256color',
  };
  // biome-ignore format: one tmux command line
  await tmux('new-session', '-d', '-s', 'lab', '-x', '120', '-y', '30', '-c', home,
    '-e', `VLAB_SERVER=${server}`, '-e', `VLAB_TOKEN=${token}`, SHELL);
  tmuxStarted = true;
  socketPath = (await tmux('display-message', '-p', '#{socket_path}')).trim();
}, 300_000);

afterAll(async () => {
  release();
  if (tmuxStarted) await tmux('kill-server').catch(() => {});
  // tmux leaves its socket file behind.
  if (socketPath !== '') await rm(socketPath, { force: true });
  delete (globalThis as { [GATE]?: Gate })[GATE];
  await api?.close();
  await fixture?.cleanup();
  if (scratch !== '') await rm(scratch, { recursive: true, force: true });
});

/** `load/fetch [##########----------] 50%, 32.0 MiB of 64.0 MiB, 31.9 MiB/s, 1.0 s left`. */
const HALF_BAR =
  /^load\/fetch \[#{10}-{10}\] 50%, 32\.0 MiB of 64\.0 MiB, (\d+(?:\.\d)? [KMG]iB)\/s, (\d+(?:\.\d)? s|\d+ min \d+ s) left$/m;

describe('vlab in a terminal (tmux)', () => {
  it('reserves, shows the progress bar while loading, then how to connect; watch shows the same', async () => {
    await type('lab:0', 'vlab reserve base --for 1h');
    const requested = await untilScreen('lab:0', /^reservation ([0-9a-f-]{36}): base for 1h$/m);
    const id = requested[1] ?? '';

    // The load waits at the gate, halfway through its fetch: the bar stays on the screen.
    const bar = await untilScreen('lab:0', HALF_BAR);
    const computer = await held;
    expect(computer).toBe('c1');
    const shown = await screen('lab:0');
    expect(shown).toMatch(/^assign ok in \d/m);
    // The bar is the last line, drawn in place on the terminal: no second copy above it.
    expect(shown.split('\n').at(-1)).toBe(bar[0]);
    expect(shown.match(/^load\/fetch /gm)).toHaveLength(1);

    // A second window, as a person would open one to follow the same reservation.
    await tmux('new-window', '-t', 'lab', '-c', tmuxEnv['HOME'] ?? '/', SHELL);
    await type('lab:1', `vlab watch ${id}`);
    const watched = await untilScreen('lab:1', HALF_BAR);
    const watchedScreen = await screen('lab:1');
    expect(watchedScreen).toMatch(/^assign ok in \d/m);
    expect(watchedScreen.split('\n').at(-1)).toBe(watched[0]);
    // Still held: neither window got further.
    expect(await screen('lab:0')).not.toMatch(/^ready/m);

    release();

    // vlab is done when the prompt is back under its last line.
    const ready = await untilScreen('lab:0', /^ready: (ssh .*\bbob@(\S+))\n\$$(?![\s\S])/m);
    // c1's management address (what the manager gives as the host) or its hostname.
    expect(['192.0.2.10', `${computer}.lab.test`]).toContain(ready[2]);
    const done = await screen('lab:0');
    // The load's last bar stays above its step line; the bar went on after the gate.
    expect(done).toMatch(
      new RegExp(`^load/\\S+ \\[[#-]{20}\\] \\d+%, .+\\nload on ${computer} ok in \\d`, 'm'),
    );
    expect(done).not.toMatch(HALF_BAR);
    expect(done).toMatch(new RegExp(`^ready on ${computer} ok`, 'm'));
    // No bar shows a negative rate (load/deploy goes from bytes to steps in one phase).
    expect(done).not.toMatch(/-[\d.]+ (?:[KMGT]?i?B|steps)\/s/);
    await type('lab:0', 'echo "exit=$?"');
    await untilScreen('lab:0', /^exit=0\n\$$(?![\s\S])/m);

    // vlab watch ends with the ready step, and exits 0.
    await untilScreen('lab:1', new RegExp(`^ready on ${computer} ok.*\\n\\$$(?![\\s\\S])`, 'm'));
    const watchDone = await screen('lab:1');
    expect(watchDone).toMatch(
      new RegExp(`^load/\\S+ \\[[#-]{20}\\] \\d+%, .+\\nload on ${computer} ok in \\d`, 'm'),
    );
    expect(watchDone).not.toMatch(HALF_BAR);
    expect(watchDone).not.toMatch(/-[\d.]+ (?:[KMGT]?i?B|steps)\/s/);
    await type('lab:1', 'echo "exit=$?"');
    await untilScreen('lab:1', /^exit=0\n\$$(?![\s\S])/m);
  });
});
