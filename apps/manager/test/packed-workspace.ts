import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Workspace packages as a lab admin gets them: built, packed with `pnpm pack` (which rewrites the
// `workspace:` ranges to real versions) and installed from the tarballs with npm. Every command
// runs from an argv (no shell) and fails loudly with the command and the tail of its output.

const here = dirname(fileURLToPath(import.meta.url));
/** The workspace root. */
export const WORKSPACE = resolve(here, '../../..');

/** A workspace package, from its package.json. */
export interface WorkspacePackage {
  /** `@vlab/core`. */
  readonly name: string;
  /** Its version in the workspace. */
  readonly version: string;
  /** Its directory (absolute). */
  readonly dir: string;
  /** The file `pnpm pack` writes: `vlab-core-1.0.0.tgz`. */
  readonly tarball: string;
}

/** Reads the package.json of the package in `relativeDir` (from the workspace root). */
export async function readWorkspacePackage(relativeDir: string): Promise<WorkspacePackage> {
  const dir = join(WORKSPACE, relativeDir);
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    name?: unknown;
    version?: unknown;
  };
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string')
    throw new Error(`${relativeDir}/package.json has no name or version`);
  const base = manifest.name.replace(/^@/, '').replace('/', '-');
  return {
    name: manifest.name,
    version: manifest.version,
    dir,
    tarball: `${base}-${manifest.version}.tgz`,
  };
}

/** What a finished command did. */
export interface RunResult {
  /** The command line, for messages. */
  readonly command: string;
  /** Its exit code; `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, if one did. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** How long it ran, in ms. */
  readonly ms: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** The working directory. */
  readonly cwd: string;
  /** Killed (its whole process group) after this many ms. */
  readonly timeoutMs: number;
  /** Resolve with a non-zero exit too (default: throw). */
  readonly allowFailure?: boolean;
  /** The environment. Default: {@link adminEnv}. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The environment of an admin's shell: this process's, without what npx, pnpm and vitest add
 * (`npm_*`, `VITEST*`, `NODE_OPTIONS`, `NODE_ENV`, colours).
 */
export function adminEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$|FORCE_COLOR$)/i.test(key)) continue;
    env[key] = value;
  }
  env['NO_COLOR'] = '1';
  return env;
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Why `result` failed, with the tails of its output. */
export function failure(result: RunResult, why: string): Error {
  return new Error(
    `${why}: \`${result.command}\` ended with ${result.signal ?? `exit code ${result.code}`} after ${Math.round(result.ms / 1000)} s\n` +
      `--- stderr (tail) ---\n${tail(result.stderr, 40)}\n--- stdout (tail) ---\n${tail(result.stdout, 40)}`,
  );
}

/**
 * Runs `command` with `args` (no shell) in its own process group; rejects, naming the command and
 * the tails of its output, when it cannot start, times out or (unless `allowFailure`) exits
 * non-zero.
 */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const line = [command, ...args].join(' ');
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? adminEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`\`${line}\` (in ${options.cwd}) could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        command: line,
        code,
        signal,
        stdout,
        stderr,
        ms: performance.now() - started,
      };
      if (timedOut)
        reject(failure(result, `timed out after ${options.timeoutMs} ms (in ${options.cwd})`));
      else if (code !== 0 && options.allowFailure !== true)
        reject(failure(result, `failed (in ${options.cwd})`));
      else resolvePromise(result);
    });
  });
}

/** Builds the packages with pnpm, in dependency order. */
export function buildPackages(
  packages: readonly WorkspacePackage[],
  timeoutMs: number,
): Promise<RunResult> {
  return run(
    'pnpm',
    [...packages.flatMap((p) => ['--filter', p.name]), '--workspace-concurrency=2', 'run', 'build'],
    { cwd: WORKSPACE, timeoutMs },
  );
}

/**
 * Packs each package with `pnpm pack` into `destination`; returns the tarballs' paths (in the
 * order of `packages`). Throws when a tarball is missing or its package.json still holds a
 * `workspace:` range.
 */
export async function packPackages(
  packages: readonly WorkspacePackage[],
  destination: string,
  timeoutMs: number,
): Promise<string[]> {
  const tarballs: string[] = [];
  for (const p of packages) {
    await run('pnpm', ['pack', '--pack-destination', destination], { cwd: p.dir, timeoutMs });
    const path = join(destination, p.tarball);
    const present = await readdir(destination);
    if (!present.includes(p.tarball))
      throw new Error(`pnpm pack in ${p.dir} did not write ${path} (found: ${present.join(', ')})`);
    const manifest = await run('tar', ['-xOf', path, 'package/package.json'], {
      cwd: destination,
      timeoutMs,
    });
    if (manifest.stdout.includes('"workspace:'))
      throw new Error(
        `${path}: its package.json still holds a workspace: range:\n${manifest.stdout}`,
      );
    tarballs.push(path);
  }
  return tarballs;
}
