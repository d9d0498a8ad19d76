/**
 * The README's first command (through `scripts/demo.sh`): a lab of real computers in miniature on
 * this machine — `@vlab/testlab` computers behind ipmi_sim BMCs — and a manager for it on its
 * embedded PostgreSQL, with the HTTP API, the status page and a demo user. Runs until Ctrl-C,
 * then stops the manager and takes the lab down, checking that nothing is left behind.
 *
 * Settings (environment): VLAB_DEMO_DIR (default /var/lib/vlab-demo), VLAB_DEMO_LISTEN (default
 * 127.0.0.1:8080), VLAB_DEMO_COMPUTERS (default 3).
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createLogger, createSecretResolver, type ProgressEvent } from '@vlab/core';
import { type Lab, labLeftovers, preflight, startLab } from '@vlab/testlab';
import { issueFirstAdminToken } from '../../src/http/first-admin-token.js';
import { createHttpApi } from '../../src/http/http-api.js';
import { pinoSink } from '../../src/logging/pino-sink.js';
import { createManager, type Manager } from '../../src/manager.js';
import {
  clearPreviousRun,
  demoFiles,
  ensureUserKey,
  releaseDemoDir,
  takeDemoDir,
  writeClientFiles,
} from './demo-files.js';
import { LAB_IMAGE, labConfigText } from './lab-config.js';
import { seedLabImage } from './seed-image.js';

const DEMO_USER = 'demo';
const VLAB_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const INSTALL_DIR = fileURLToPath(new URL('../..', import.meta.url));

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

const env = process.env;
const files = demoFiles(env['VLAB_DEMO_DIR'] ?? '/var/lib/vlab-demo');
const listen = /^(.*):(\d{1,5})$/.exec(env['VLAB_DEMO_LISTEN'] ?? '127.0.0.1:8080');
const computers = Number(env['VLAB_DEMO_COMPUTERS'] ?? '3');
if (listen === null || !(Number.isSafeInteger(computers) && computers >= 1 && computers <= 8)) {
  throw new Error('VLAB_DEMO_LISTEN is host:port and VLAB_DEMO_COMPUTERS a number from 1 to 8');
}

// Ctrl-C at any point stops what started so far, in reverse order.
const stopping = new AbortController();
const undo: (() => Promise<void>)[] = [];
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (!stopping.signal.aborted) say(`${signal}: stopping`);
    stopping.abort(new Error(`stopped by ${signal}`));
  });
}

async function main(): Promise<void> {
  await takeDemoDir(files);
  undo.push(() => releaseDemoDir(files));
  await preflight();
  await clearPreviousRun(files);
  const publicKey = await ensureUserKey(files);

  say(`starting a lab of ${computers} computers (the first run builds the base image: minutes)`);
  const lab: Lab = await startLab({ computers, clients: 1, log: (line) => say(line) });
  undo.push(async () => {
    const { id, record } = lab;
    await lab.down();
    const left = Object.values(await labLeftovers(id, record.blackhole)).flat();
    say(left.length === 0 ? 'lab down, nothing left behind' : `left behind: ${left.join(', ')}`);
  });
  stopping.signal.throwIfAborted();

  say(`putting ${LAB_IMAGE} revision 1 into the store (importImage)`);
  await seedLabImage(lab, files.storeDir, { progress: printProgress, signal: stopping.signal });

  const bmcEnv: Record<string, string> = {};
  for (const c of lab.computers)
    bmcEnv[`VLAB_DEMO_BMC_PASSWORD_${c.name.toUpperCase()}`] = c.bmc.password;
  await writeFile(
    files.config,
    labConfigText(lab, {
      lab: 'demo',
      dataDir: files.dataDir,
      installDir: INSTALL_DIR,
      database: '{ embedded: {} }',
      storeDir: files.storeDir,
      imageOwner: DEMO_USER,
      newRevisionTest: 'auto',
      bmcPasswordEnv: (computer) => `VLAB_DEMO_BMC_PASSWORD_${computer.toUpperCase()}`,
    }),
  );

  const logFile = createWriteStream(files.log, { flags: 'a', mode: 0o600 });
  undo.push(() => new Promise((resolve) => logFile.end(resolve)));
  const manager: Manager = await createManager({
    configPath: files.config,
    log: createLogger(pinoSink({ output: logFile, env: { ...env, VLAB_LOG_FORMAT: 'json' } })),
    secrets: createSecretResolver({ env: bmcEnv }),
  });
  undo.push(() => manager.close());
  if ((await manager.users.list()).every((u) => u.login !== DEMO_USER)) {
    await manager.users.add({
      login: DEMO_USER,
      role: 'admin',
      displayName: 'Demo user',
      sshKeys: [publicKey],
    });
  }
  const api = await createHttpApi(manager);
  undo.push(() => api.close());
  const url = await api.listen({
    host: (listen?.[1] ?? '').replace(/^\[(.*)\]$/, '$1'),
    port: Number(listen?.[2]),
  });
  const first = await issueFirstAdminToken(manager);
  if (first === undefined) throw new Error('the fresh lab issued no first admin token');
  await writeClientFiles(files, { server: url, token: first.token.reveal(), vlabMain: VLAB_MAIN });

  process.stdout.write(`
The demo lab runs: ${lab.computers.map((c) => `${c.name} (${c.ip})`).join(', ')}.
  status page   ${url}/   (sign in with the admin token)
  admin token   ${first.file}   (user ${first.login})
  manager log   ${files.log}
  demo SSH key  ${files.userKey}

In another terminal:
  . ${files.env}
  vlab computers
  vlab reserve ${LAB_IMAGE}

Ctrl-C here stops the manager and takes the lab down.
`);
  say('ready');
  await new Promise<void>((resolve) => {
    if (stopping.signal.aborted) resolve();
    stopping.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** One line per second at most: the phase, bytes, rate and time left. */
let lastProgress = 0;
function printProgress(event: ProgressEvent): void {
  const now = Date.now();
  const last = event.total !== undefined && event.done >= event.total;
  if (now - lastProgress < 1000 && !last) return;
  lastProgress = now;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const parts = [
    event.total === undefined ? mib(event.done) : `${mib(event.done)} of ${mib(event.total)}`,
  ];
  if (event.ratePerSecond !== undefined) parts.push(`${mib(event.ratePerSecond)}/s`);
  if (event.etaSeconds !== undefined) parts.push(`${Math.round(event.etaSeconds)} s left`);
  say(`${event.phase}: ${parts.join(', ')}`);
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  if (!stopping.signal.aborted) process.stderr.write(`demo: failed: ${(error as Error).message}\n`);
} finally {
  for (const step of undo.reverse()) {
    await step().catch((error: unknown) =>
      process.stderr.write(`demo: a clean-up step failed: ${(error as Error).message}\n`),
    );
  }
}
process.exit(failed && !stopping.signal.aborted ? 1 : 0);
