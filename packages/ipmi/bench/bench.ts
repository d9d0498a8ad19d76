/**
 * `pnpm bench` for @vlab/ipmi: the native client against one `ipmitool -I lanplus` process per
 * command, both measured in the same run against the same BMCs on loopback. Not a test: a missed
 * target is reported, never failed. Writes bench/results/latest.json.
 *
 *   1. One OpenIPMI ipmi_sim (cipher suite 3, all it speaks): N power-status calls, sequential —
 *      native (first call sets the session up) vs a fresh ipmitool process each time; then N
 *      `mc info` (Get Device ID, which ipmi_sim answers without forking its power hook) each way.
 *   2. Many BMCs (VLAB_BENCH_BMCS, default 50), power status of all (sessions set up, then
 *      established), `mc info` of all, a power cycle of all — native (concurrent, one socket,
 *      sessions reused) vs ipmitool processes run 8 at a time — twice:
 *      a. against ipmi_sim processes (suite 3). ipmi_sim forks its chassis_control hook for every
 *         power query, which both sides pay, so this bounds the ratio by the simulator;
 *      b. against the package's own BMC core (bench/bmc-server.ts, a separate process; suite 17),
 *         which answers power from memory, so the figure shows the client's fan-out.
 *      Native figures are the median of VLAB_BENCH_REPEAT runs (default 5; a fresh client, so new
 *      sessions, for each "set up" run); ipmitool status the median of 3.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type IpmiSim, startIpmiSim } from '@vlab/test-peers';
import { IpmiClient } from '../src/index.js';

const CALLS = Number(process.env['VLAB_BENCH_CALLS'] ?? 100);
const BMCS = Number(process.env['VLAB_BENCH_BMCS'] ?? 50);
const REPEAT = Number(process.env['VLAB_BENCH_REPEAT'] ?? 5);
const IPMITOOL_REPEAT = 3;
const IPMITOOL_PARALLEL = 8;
const USER = { name: 'bench', password: 'bench-Passw0rd' };
const TARGETS = { statusIncludingSessionSetup: 10, statusSessionsEstablished: 50 };
/** Every socket of the bench stays on loopback. */
const CLIENT_OPTIONS = { bindAddress: '127.0.0.1' };

function ipmitool(port: number, args: readonly string[], suite: 3 | 17 = 3): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'ipmitool',
      [
        '-I',
        'lanplus',
        '-C',
        String(suite),
        '-H',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        USER.name,
        '-E',
        ...args,
      ],
      { env: { ...process.env, IPMI_PASSWORD: USER.password }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`ipmitool ${args.join(' ')}: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

async function inParallel<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await task(items[i] as T);
    }),
  );
}

async function timed(what: string, work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  console.log(`${what}: ${ms.toFixed(0)} ms`);
  return ms;
}

function ratio(slow: number, fast: number): number {
  return Math.round((slow / fast) * 10) / 10;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `once` (which times itself) `times` times; the median and every run. */
async function sampled(
  what: string,
  times: number,
  once: () => Promise<number>,
): Promise<{ median: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < times; i += 1) runs.push(await once());
  const result = { median: median(runs), runs };
  console.log(
    `${what}: median ${result.median.toFixed(1)} ms of ${times} (${runs.map((r) => r.toFixed(1)).join(', ')})`,
  );
  return result;
}

async function measure(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The package's own BMC core, `count` instances in a child process (bench/bmc-server.ts). */
async function startOwnBmcs(
  count: number,
): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), 'bmc-server.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, String(count)], {
    cwd: dirname(dirname(entry)), // where tsx resolves
    env: { ...process.env, VLAB_BENCH_BMC_USER: JSON.stringify(USER) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`bmc-server exited with ${code}`)));
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        out += chunk;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line !== undefined) resolve(JSON.parse(line).ports as number[]);
      });
    });
    return { ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Many BMCs at once: status with session set-up and with sessions established, `mc info`, a
 * power cycle — native (one client, one socket, concurrent) vs ipmitool processes 8 at a time.
 */
async function fanOut(
  label: string,
  bmc: string,
  ports: readonly number[],
  suite: 3 | 17,
  settleAfterCycleMs: number,
) {
  const targets = ports.map((port) => ({
    host: '127.0.0.1',
    port,
    username: USER.name,
    password: USER.password,
    cipherSuites: [suite] as const,
  }));
  const n = targets.length;
  console.log(`--- ${label}: ${n} BMCs, cipher suite ${suite}`);
  // A fresh client each run, so each run sets the sessions up (closing them is not timed).
  const statusCold = await sampled(
    `${label}: native, status of ${n} BMCs, concurrent, sessions set up`,
    REPEAT,
    async () => {
      await using client = new IpmiClient(CLIENT_OPTIONS);
      const bmcs = targets.map((t) => client.bmc(t));
      // `return await`: the client is disposed when the block ends, so the calls must finish first.
      return await measure(() => Promise.all(bmcs.map((b) => b.powerStatus())));
    },
  );
  let statusWarm: { median: number; runs: number[] };
  let mcInfo: { median: number; runs: number[] };
  let cycle: number;
  {
    await using client = new IpmiClient(CLIENT_OPTIONS);
    const bmcs = targets.map((t) => client.bmc(t));
    await Promise.all(bmcs.map((b) => b.powerStatus()));
    statusWarm = await sampled(
      `${label}: native, status of ${n} BMCs, concurrent, sessions established`,
      REPEAT,
      () => measure(() => Promise.all(bmcs.map((b) => b.powerStatus()))),
    );
    mcInfo = await sampled(
      `${label}: native, mc info of ${n} BMCs, concurrent, sessions established`,
      REPEAT,
      () => measure(() => Promise.all(bmcs.map((b) => b.deviceId()))),
    );
    cycle = await timed(
      `${label}: native, power cycle of ${n} BMCs, concurrent, sessions established`,
      async () => {
        await Promise.all(bmcs.map((b) => b.power('cycle')));
      },
    );
    if (client.socketCount !== 1) throw new Error(`expected one socket, saw ${client.socketCount}`);
  }
  if (settleAfterCycleMs > 0)
    await new Promise((resolve) => setTimeout(resolve, settleAfterCycleMs));
  const toolStatus = await sampled(
    `${label}: ipmitool, status of ${n} BMCs, ${IPMITOOL_PARALLEL} at a time`,
    IPMITOOL_REPEAT,
    () =>
      measure(() =>
        inParallel(ports, IPMITOOL_PARALLEL, async (port) => {
          await ipmitool(port, ['chassis', 'power', 'status'], suite);
        }),
      ),
  );
  const toolMcInfo = await timed(
    `${label}: ipmitool, mc info of ${n} BMCs, ${IPMITOOL_PARALLEL} at a time`,
    () =>
      inParallel(ports, IPMITOOL_PARALLEL, async (port) => {
        await ipmitool(port, ['mc', 'info'], suite);
      }),
  );
  const toolCycle = await timed(
    `${label}: ipmitool, power cycle of ${n} BMCs, ${IPMITOOL_PARALLEL} at a time`,
    () =>
      inParallel(ports, IPMITOOL_PARALLEL, async (port) => {
        await ipmitool(port, ['chassis', 'power', 'cycle'], suite);
      }),
  );
  const ratios = {
    statusIncludingSessionSetup: ratio(toolStatus.median, statusCold.median),
    statusSessionsEstablished: ratio(toolStatus.median, statusWarm.median),
    mcInfoSessionsEstablished: ratio(toolMcInfo, mcInfo.median),
    powerCycleSessionsEstablished: ratio(toolCycle, cycle),
  };
  return {
    bmc,
    cipherSuite: suite,
    bmcs: n,
    ipmitoolParallel: IPMITOOL_PARALLEL,
    ms: {
      nativeStatusWithSessionSetup: statusCold.median,
      nativeStatusSessionsEstablished: statusWarm.median,
      nativeMcInfoSessionsEstablished: mcInfo.median,
      nativePowerCycle: cycle,
      ipmitoolStatus: toolStatus.median,
      ipmitoolMcInfo: toolMcInfo,
      ipmitoolPowerCycle: toolCycle,
    },
    runs: {
      nativeStatusWithSessionSetup: statusCold.runs,
      nativeStatusSessionsEstablished: statusWarm.runs,
      nativeMcInfoSessionsEstablished: mcInfo.runs,
      ipmitoolStatus: toolStatus.runs,
    },
    ratio: ratios,
    targets: TARGETS,
    targetsMet: {
      statusIncludingSessionSetup:
        ratios.statusIncludingSessionSetup >= TARGETS.statusIncludingSessionSetup,
      statusSessionsEstablished:
        ratios.statusSessionsEstablished >= TARGETS.statusSessionsEstablished,
    },
  };
}

async function main(): Promise<void> {
  const ipmitoolVersion = await new Promise<string>((resolve) =>
    execFile('ipmitool', ['-V'], (_e, out) => resolve(out.trim())),
  );
  const sims: IpmiSim[] = [];
  try {
    // --- 1. One BMC, N sequential power-status calls -----------------------------------------
    console.log(`starting 1 ipmi_sim; ${CALLS} sequential power-status calls each way`);
    const one = await startIpmiSim({ users: [USER] });
    sims.push(one);
    const target = {
      host: '127.0.0.1',
      port: one.port,
      username: USER.name,
      password: USER.password,
      cipherSuites: [3] as const,
    };

    let native1: number;
    let nativeEstablished1: number;
    {
      await using client = new IpmiClient(CLIENT_OPTIONS);
      const bmc = client.bmc(target);
      native1 = await timed(`native, ${CALLS} calls (first sets the session up)`, async () => {
        for (let i = 0; i < CALLS; i += 1) await bmc.powerStatus();
      });
      nativeEstablished1 = await timed(
        `native, ${CALLS} more calls (session established)`,
        async () => {
          for (let i = 0; i < CALLS; i += 1) await bmc.powerStatus();
        },
      );
    }
    const ipmitool1 = await timed(`ipmitool, ${CALLS} processes, sequential`, async () => {
      for (let i = 0; i < CALLS; i += 1) await ipmitool(one.port, ['chassis', 'power', 'status']);
    });
    // Get Device ID is answered from ipmi_sim's memory (no power hook to fork), so it shows what
    // the client itself costs: session reuse against a process, handshake and exit per call.
    let nativeMcInfo: number;
    {
      await using client = new IpmiClient(CLIENT_OPTIONS);
      const bmc = client.bmc(target);
      await bmc.deviceId();
      nativeMcInfo = await timed(
        `native, ${CALLS} mc info (Get Device ID), session established`,
        async () => {
          for (let i = 0; i < CALLS; i += 1) await bmc.deviceId();
        },
      );
    }
    const ipmitoolMcInfo = await timed(
      `ipmitool, ${CALLS} mc info processes, sequential`,
      async () => {
        for (let i = 0; i < CALLS; i += 1) await ipmitool(one.port, ['mc', 'info']);
      },
    );

    // --- 2a. Many ipmi_sim BMCs --------------------------------------------------------------
    console.log(`starting ${BMCS} ipmi_sim BMCs`);
    const many: IpmiSim[] = [];
    await inParallel(
      Array.from({ length: BMCS }, (_, i) => i),
      4,
      async () => {
        const sim = await startIpmiSim({ users: [USER], power: 'on' });
        sims.push(sim);
        many.push(sim);
      },
    );
    const manyBmcs = await fanOut(
      'ipmi_sim',
      'OpenIPMI ipmi_sim 2.0.33 processes, chassis_control hook (a /bin/sh script per power query)',
      many.map((sim) => sim.port),
      3,
      2000, // let ipmi_sim's cycles (off, then on ~1 s later) finish before ipmitool's turn
    );
    await Promise.all(many.map((sim) => sim.stop()));

    // --- 2b. Many of the package's own BMC cores ------------------------------------------------
    console.log(`starting ${BMCS} of the package's own BMC cores (one child process)`);
    const own = await startOwnBmcs(BMCS);
    let manyOwnBmcs: Awaited<ReturnType<typeof fanOut>>;
    try {
      manyOwnBmcs = await fanOut(
        'own BMC core',
        "the package's BMC core (src/protocol/bmc.ts) over UDP, one child process (bench/bmc-server.ts); power from memory",
        own.ports,
        17,
        0,
      );
    } finally {
      await own.stop();
    }

    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        ipmitool: ipmitoolVersion,
        bmc: 'OpenIPMI ipmi_sim 2.0.33 on 127.0.0.1, chassis_control hook (a /bin/sh script per power query)',
        cipherSuite: 3,
      },
      note: `one run on a shared 2-core VM, so figures vary; many-BMC native figures are medians of ${REPEAT} runs, ipmitool status the median of ${IPMITOOL_REPEAT}. ipmi_sim answers every Get Chassis Status by forking its chassis_control hook (/bin/sh), which bounds power status and cycle on both sides; Get Device ID is answered from memory and shows the cost of the client itself, as does manyOwnBmcs (the package's BMC core, power from memory, suite 17).`,
      singleBmc: {
        calls: CALLS,
        ms: {
          nativeWithSessionSetup: native1,
          nativeSessionEstablished: nativeEstablished1,
          ipmitoolProcesses: ipmitool1,
        },
        msPerCall: {
          nativePowerStatus: nativeEstablished1 / CALLS,
          ipmitoolPowerStatus: ipmitool1 / CALLS,
          nativeMcInfo: nativeMcInfo / CALLS,
          ipmitoolMcInfo: ipmitoolMcInfo / CALLS,
        },
        ratio: {
          powerStatusIncludingSessionSetup: ratio(ipmitool1, native1),
          powerStatusSessionEstablished: ratio(ipmitool1, nativeEstablished1),
          mcInfoSessionEstablished: ratio(ipmitoolMcInfo, nativeMcInfo),
        },
      },
      manyBmcs,
      manyOwnBmcs,
    };
    console.log(
      '\n| BMCs | status, set-up incl. | status, sessions kept | mc info | power cycle |',
    );
    for (const [name, run] of [
      ['ipmi_sim', manyBmcs],
      ['own BMC core', manyOwnBmcs],
    ] as const) {
      const cell = (ms: number, tool: number, r: number, target?: number) =>
        `${ms.toFixed(1)} vs ${tool.toFixed(0)} ms = ${r}×${target === undefined ? '' : r >= target ? ` (≥ ${target}: met)` : ` (< ${target}: missed)`}`;
      console.log(
        `| ${run.bmcs} ${name} | ${cell(run.ms.nativeStatusWithSessionSetup, run.ms.ipmitoolStatus, run.ratio.statusIncludingSessionSetup, TARGETS.statusIncludingSessionSetup)} | ${cell(run.ms.nativeStatusSessionsEstablished, run.ms.ipmitoolStatus, run.ratio.statusSessionsEstablished, TARGETS.statusSessionsEstablished)} | ${cell(run.ms.nativeMcInfoSessionsEstablished, run.ms.ipmitoolMcInfo, run.ratio.mcInfoSessionsEstablished)} | ${cell(run.ms.nativePowerCycle, run.ms.ipmitoolPowerCycle, run.ratio.powerCycleSessionsEstablished)} |`,
      );
    }
    console.log(JSON.stringify(result, null, 2));
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`written to ${out}`);
  } finally {
    await Promise.all(sims.map((sim) => sim.stop()));
  }
}

await main();
