import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InstallDir, makeRealModulesInstallDir } from './install-dir.js';

// `vlab serve` runs the README's configuration (its addresses moved to loopback, its paths into a
// temporary directory) with the real modules; `vlab` talks to it as a user would.

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const README = fileURLToPath(new URL('../README.md', import.meta.url));

let install: InstallDir;
let config = '';

beforeAll(async () => {
  install = await makeRealModulesInstallDir();
  const readme = await readFile(README, 'utf8');
  const yaml = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  config = await install.write(
    'vlab.yaml',
    yaml
      .replaceAll('/var/lib/vlab', join(install.dir, 'var'))
      .replaceAll('10.0.0.', '127.0.1.')
      .replaceAll('10.0.1.', '127.0.2.'),
  );
});

afterAll(async () => {
  await install?.remove();
});

type Child = ChildProcessByStdio<null, Readable, Readable>;

function start(args: readonly string[]): Child {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', VLAB_BMC_PASSWORD: 'not-used-here' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Reads the child's stdout until a line matches `pattern` (or it exits: then throws with its stderr). */
function untilLine(
  child: Child,
  pattern: RegExp,
): Promise<{ match: RegExpExecArray; stdout: string }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const onData = (chunk: Buffer) => {
      stdout += chunk;
      const match = pattern.exec(stdout);
      if (match !== null) {
        child.stdout.off('data', onData);
        resolve({ match, stdout });
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`vlab serve exited ${code}: ${stdout}\n${stderr.slice(-2000)}`)),
    );
  });
}

function run(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

function stop(child: Child): Promise<{ code: number | null; rest: string }> {
  return new Promise((resolve) => {
    let rest = '';
    child.stdout.on('data', (chunk: Buffer) => {
      rest += chunk;
    });
    child.on('close', (code) => resolve({ code, rest }));
    child.kill('SIGINT');
  });
}

describe('vlab serve', () => {
  it('starts the manager and its API, prints the first admin token once, and stops on Ctrl-C', async () => {
    const first = start(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    const up = await untilLine(first, /listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
    const token = /shown this once:\n {2}(vlab_\S+)\n/.exec(up.stdout)?.[1] ?? '';
    expect(token).not.toBe('');
    const file = /It is also in (\S+) \(mode 0600\)/.exec(up.stdout)?.[1] ?? '';
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
    const env = { VLAB_SERVER: up.match[1] ?? '', VLAB_TOKEN: token };
    const computers = await run(['computers'], env);
    expect(computers.code).toBe(0);
    expect(computers.stdout).toMatch(/^c1 +available .*\nc2 +available/m);
    expect((await run(['me'], env)).stdout).toBe('admin (admin)\n');
    const stopped = await stop(first);
    expect(stopped).toEqual({ code: 0, rest: 'stopping\n' });

    // The second start issues no token: the first still works.
    const second = start(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    const again = await untilLine(second, /listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
    expect(again.stdout).not.toContain('token');
    const me = await run(['me'], { VLAB_SERVER: again.match[1] ?? '', VLAB_TOKEN: token });
    expect(me.stdout).toBe('admin (admin)\n');
    expect((await stop(second)).code).toBe(0);
  }, 180_000);
});
