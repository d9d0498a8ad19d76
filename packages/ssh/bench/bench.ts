/**
 * `pnpm bench` for @vlab/ssh: ratios against per-process OpenSSH and ControlMaster, measured in
 * one run against the same sshd (started here, on loopback, logging in as the test account with
 * an empty profile). Not a test: a missed target is reported, never failed. Writes
 * bench/results/latest.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret } from '@vlab/core';
import { run, runChecked, startSshd } from '@vlab/test-peers';
import { MemoryHostKeyStore, SshPool } from '../src/index.js';

const COMMANDS = 100;
/**
 * What OpenSSH runs: the same remote work as the pool's `exec(['true'])` (the shell execs
 * /bin/true; the pool's line adds only a builtin). Plain `ssh host true` would run dash's
 * builtin `true` and skip an exec that costs ~2 ms on a small VM.
 */
const SAME = 'exec true';
const GiB = 1024 * 1024 * 1024;
const CHUNK = 1024 * 1024;

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
}

/** Rounds of each measurement; the fastest counts (the machine is shared and noisy). */
const ROUNDS = 2;

async function timed(what: string, work: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  const ms = Math.min(...times);
  console.log(
    `${what}: ${ms.toFixed(0)} ms (best of ${times.map((t) => t.toFixed(0)).join(', ')})`,
  );
  return ms;
}

async function inParallel(count: number, width: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function* data(): AsyncGenerator<Buffer> {
  const block = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i += 1) block[i] = (i * 131) & 0xff;
  for (let sent = 0; sent < GiB; sent += CHUNK) yield block;
}

async function main(): Promise<void> {
  const sshd = await startSshd({ maxSessions: 10, hostKeyTypes: ['ed25519'] });
  const controlPath = join(sshd.dir, 'cm');
  const pool = new SshPool({
    hostKeys: new MemoryHostKeyStore({ [`[127.0.0.1]:${sshd.port}`]: sshd.hostPublicKeys }),
  });
  try {
    const ssh = (...args: string[]) => runChecked('ssh', [...sshd.sshArgs(), ...args]);
    const client = pool.client({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      auth: { kind: 'key', privateKey: new Secret(sshd.clientKey.privateKey) },
    });
    const version = (await run('ssh', ['-V'])).stderr.trim();

    const perProcess = await timed(`${COMMANDS} x ssh (one process each, sequential)`, async () => {
      for (let i = 0; i < COMMANDS; i += 1) await ssh(SAME);
    });
    const parallelProcesses = await timed(`${COMMANDS} x ssh, 10 at a time`, () =>
      inParallel(COMMANDS, 10, async () => {
        await ssh(SAME);
      }),
    );

    const master = spawn(
      'ssh',
      ['-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-N', ...sshd.sshArgs()],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i += 1) {
      const check = await run('ssh', [
        '-o',
        `ControlPath=${controlPath}`,
        '-O',
        'check',
        ...sshd.sshArgs(),
      ]);
      if (check.code === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const viaMaster = (...args: string[]) =>
      runChecked('ssh', ['-o', `ControlPath=${controlPath}`, ...sshd.sshArgs(), ...args]);
    const controlMaster = await timed(
      `${COMMANDS} x ssh over ControlMaster, sequential`,
      async () => {
        for (let i = 0; i < COMMANDS; i += 1) await viaMaster(SAME);
      },
    );
    master.kill('SIGTERM');
    await exited(master);

    await client.exec(['true']); // connect once: the pool's steady state is what is compared
    const poolSequential = await timed(`${COMMANDS} x pool exec, sequential`, async () => {
      for (let i = 0; i < COMMANDS; i += 1) await client.exec(['true']);
    });
    const poolParallel = await timed(`${COMMANDS} x pool exec, 10 in flight`, () =>
      inParallel(COMMANDS, 10, async () => {
        await client.exec(['true']);
      }),
    );

    const file = `${sshd.scratchDir}/stream.bin`;
    const opensshStream = await timed("1 GiB into ssh host 'cat > f'", async () => {
      const child = spawn('ssh', [...sshd.sshArgs(), `cat > ${file}`], {
        stdio: ['pipe', 'ignore', 'inherit'],
      });
      const done = exited(child);
      for await (const chunk of data()) {
        if (!child.stdin.write(chunk))
          await new Promise((resolve) => child.stdin.once('drain', resolve));
      }
      child.stdin.end();
      if ((await done) !== 0) throw new Error('ssh cat failed');
    });
    const poolStream = await timed('1 GiB streamTo cat > f (exec channel)', async () => {
      await client.streamTo(['sh', '-c', 'cat > "$0"', file], data());
    });
    const sftpStream = await timed('1 GiB writeFile (SFTP, atomic)', async () => {
      await client.writeFile(file, data());
    });

    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        node: process.version,
        openssh: version,
      },
      sshd: { maxSessions: 10, account: sshd.user, host: '127.0.0.1' },
      commands: COMMANDS,
      rounds: ROUNDS,
      note: "each figure is the fastest of `rounds` runs; OpenSSH runs `exec true`, the same remote work as the pool's exec(['true'])",
      ms: {
        perProcessSequential: perProcess,
        perProcess10Parallel: parallelProcesses,
        controlMasterSequential: controlMaster,
        poolSequential,
        pool10InFlight: poolParallel,
        opensshCat1GiB: opensshStream,
        poolStreamTo1GiB: poolStream,
        poolSftpWriteFile1GiB: sftpStream,
      },
      msPerCommand: {
        perProcess: perProcess / COMMANDS,
        controlMaster: controlMaster / COMMANDS,
        poolSequential: poolSequential / COMMANDS,
      },
      ratios: {
        sequentialVsPerProcess: { value: perProcess / poolSequential, target: 20 },
        sequentialVsControlMaster: { value: controlMaster / poolSequential, target: 2 },
        parallelVsParallelProcesses: { value: parallelProcesses / poolParallel, target: 10 },
        streamVsOpensshCat: { value: opensshStream / poolStream, target: 0.9 },
        sftpVsOpensshCat: { value: opensshStream / sftpStream, target: null },
      },
      throughputMBps: {
        opensshCat: GiB / opensshStream / 1000,
        poolStreamTo: GiB / poolStream / 1000,
        poolSftp: GiB / sftpStream / 1000,
      },
    };
    for (const [name, ratio] of Object.entries(result.ratios)) {
      const verdict =
        ratio.target === null
          ? ''
          : ratio.value >= ratio.target
            ? ' (target met)'
            : ' (TARGET MISSED)';
      console.log(
        `${name}: ${ratio.value.toFixed(2)}x${ratio.target === null ? '' : ` vs ${ratio.target}x`}${verdict}`,
      );
    }
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`written to ${out}`);
  } finally {
    await pool.close();
    await sshd.stop();
  }
}

await main();
