/**
 * `pnpm bench` for @vlab/ipmi: the native client against one `ipmitool -I lanplus` process per
 * command, measured in one run against the same OpenIPMI ipmi_sim BMCs on loopback (cipher
 * suite 3, which is all ipmi_sim speaks). Not a test: a missed target is reported, never failed.
 * Writes bench/results/latest.json.
 *
 *   1. One BMC: N power-status calls, sequential — native (first call sets the session up) vs a
 *      fresh ipmitool process each time; then N `mc info` (Get Device ID, which ipmi_sim answers
 *      without forking its power hook) each way.
 *   2. Many BMCs (VLAB_BENCH_BMCS, default 50): power status of all, then a power cycle of all —
 *      native (concurrent, one socket, sessions reused) vs ipmitool processes run 8 at a time.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type IpmiSim, startIpmiSim } from '@vlab/test-peers';
import { IpmiClient } from '../src/index.js';

const CALLS = Number(process.env['VLAB_BENCH_CALLS'] ?? 100);
const BMCS = Number(process.env['VLAB_BENCH_BMCS'] ?? 50);
const IPMITOOL_PARALLEL = 8;
const USER = { name: 'bench', password: 'bench-Passw0rd' };

function ipmitool(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'ipmitool',
      [
        '-I',
        'lanplus',
        '-C',
        '3',
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
      await using client = new IpmiClient();
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
      await using client = new IpmiClient();
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

    // --- 2. Many BMCs -------------------------------------------------------------------------
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
    const targets = many.map((sim) => ({ ...target, port: sim.port }));

    let nativeStatusCold: number;
    let nativeStatusWarm: number;
    let nativeMcInfoMany: number;
    let nativeCycle: number;
    {
      await using client = new IpmiClient();
      const bmcs = targets.map((t) => client.bmc(t));
      nativeStatusCold = await timed(
        `native, status of ${BMCS} BMCs, concurrent, sessions set up`,
        async () => {
          await Promise.all(bmcs.map((bmc) => bmc.powerStatus()));
        },
      );
      nativeStatusWarm = await timed(
        `native, status of ${BMCS} BMCs, concurrent, sessions established`,
        async () => {
          await Promise.all(bmcs.map((bmc) => bmc.powerStatus()));
        },
      );
      nativeMcInfoMany = await timed(
        `native, mc info of ${BMCS} BMCs, concurrent, sessions established`,
        async () => {
          await Promise.all(bmcs.map((bmc) => bmc.deviceId()));
        },
      );
      nativeCycle = await timed(
        `native, power cycle of ${BMCS} BMCs, concurrent, sessions established`,
        async () => {
          await Promise.all(bmcs.map((bmc) => bmc.power('cycle')));
        },
      );
      if (client.socketCount !== 1)
        throw new Error(`expected one socket, saw ${client.socketCount}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)); // let the cycles finish
    const ipmitoolStatus = await timed(
      `ipmitool, status of ${BMCS} BMCs, ${IPMITOOL_PARALLEL} at a time`,
      async () => {
        await inParallel(many, IPMITOOL_PARALLEL, async (sim) => {
          await ipmitool(sim.port, ['chassis', 'power', 'status']);
        });
      },
    );
    const ipmitoolMcInfoMany = await timed(
      `ipmitool, mc info of ${BMCS} BMCs, ${IPMITOOL_PARALLEL} at a time`,
      async () => {
        await inParallel(many, IPMITOOL_PARALLEL, async (sim) => {
          await ipmitool(sim.port, ['mc', 'info']);
        });
      },
    );
    const ipmitoolCycle = await timed(
      `ipmitool, power cycle of ${BMCS} BMCs, ${IPMITOOL_PARALLEL} at a time`,
      async () => {
        await inParallel(many, IPMITOOL_PARALLEL, async (sim) => {
          await ipmitool(sim.port, ['chassis', 'power', 'cycle']);
        });
      },
    );

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
      note: 'one run on a shared 2-core VM, so figures vary. ipmi_sim answers every Get Chassis Status by forking its chassis_control hook (/bin/sh, ~16 ms here), which bounds power status and cycle on both sides; Get Device ID is answered from memory and shows the cost of the client itself.',
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
      manyBmcs: {
        bmcs: BMCS,
        ipmitoolParallel: IPMITOOL_PARALLEL,
        ms: {
          nativeStatusWithSessionSetup: nativeStatusCold,
          nativeStatusSessionsEstablished: nativeStatusWarm,
          nativeMcInfoSessionsEstablished: nativeMcInfoMany,
          nativePowerCycle: nativeCycle,
          ipmitoolStatus,
          ipmitoolMcInfo: ipmitoolMcInfoMany,
          ipmitoolPowerCycle: ipmitoolCycle,
        },
        ratio: {
          statusIncludingSessionSetup: ratio(ipmitoolStatus, nativeStatusCold),
          statusSessionsEstablished: ratio(ipmitoolStatus, nativeStatusWarm),
          mcInfoSessionsEstablished: ratio(ipmitoolMcInfoMany, nativeMcInfoMany),
          powerCycleSessionsEstablished: ratio(ipmitoolCycle, nativeCycle),
        },
        targets: { statusIncludingSessionSetup: 10, statusSessionsEstablished: 50 },
      },
    };
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
