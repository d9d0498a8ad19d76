/**
 * `pnpm bench` for @vlab/provisioner-libvirt on real QEMU under the testlab's libvirt host (TCG on
 * this machine), the host reached over SSH as root like in the lab tests. Like with like, in the
 * same run, interleaved (module, then by hand, RUNS times), median of each:
 *
 * - load of a master the host has cached, up to the guest's SSH answering (os-linux's postLoad
 *   timed apart), against the same by hand on the same host: a fresh overlay on the master, the
 *   same domain definition with an identity disk, `virsh define`, `virsh start`, then OpenSSH's
 *   `ssh root@vm true` until it succeeds, paced like the module's wait (`SshCommunicator`'s
 *   default: a pause of 500 ms doubling to 2 s, counted from each attempt's start — the pacing is
 *   the manager's choice, not the module's work) and ending the same way (a command ran after key
 *   exchange and login; a banner alone comes earlier);
 * - capture (`mode: 'image'`) of the same guest, already off, so no preCapture. Its steps
 *   `flatten` (check, `convert -c`, check) and `publish` (the host's master and the store's
 *   manifest), timed by the step runner, against `qemu-img convert -c` alone: the issue's
 *   comparison, in which the copy to the image store is a step of its own. The whole capture, its
 *   step `store` included, against the same work by hand over OpenSSH to the same host
 *   (`qemu-img check` of the overlay, `convert -c`, `check` of the result, a raw conversion,
 *   SHA-256 and zstd to stdout, written into a file beside the store): the module streams the same
 *   zstd over its SSH connection into the store.
 *
 * Not a test: a missed target is reported, never failed. Budget: about 15 minutes here. Writes
 * bench/results/latest.json.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  buildIdentityDisk,
  createLogger,
  generateHostKey,
  identityDiskFiles,
  type OsModule,
} from '@vlab/core';
import { quoteCommand } from '@vlab/ssh';
import { libvirtConfig } from '../src/config.js';
import { domainXml, vmPaths } from '../src/domain-xml.js';
import { vmFacts } from '../src/vm-facts.js';
import { BASE, startLibvirtLab } from '../test/libvirt-lab.js';

const RUNS = 5;
const POLL_MS = 200;
/** `SshCommunicator`'s reach pacing, which the module's wait for the guest uses by default. */
const REACH_FIRST_PAUSE_MS = 500;
const REACH_MAX_PAUSE_MS = 2000;
const TARGET_OVERHEAD = 0.05;
const exec = promisify(execFile);
/** The capture by hand, run on the host through OpenSSH: the zstd stream goes to stdout. */
const HAND_CAPTURE = `set -e
d=$(mktemp -d "$2/hand-XXXXXX")
qemu-img check -q -f qcow2 "$1"
qemu-img convert -q -c -f qcow2 -O qcow2 "$1" "$d/flat.qcow2"
qemu-img check -q -f qcow2 "$d/flat.qcow2"
qemu-img convert -q -f qcow2 -O raw "$d/flat.qcow2" "$d/disk.raw"
mkfifo "$d/fifo"
sha256sum <"$d/fifo" >"$d/sum" &
tee "$d/fifo" <"$d/disk.raw" | zstd -q -3 -T0 -c
wait
rm -rf -- "$d"`;
/** OpenSSH as the hand-made load's probe: the guest's host key is new at every load. */
const OPENSSH_OPTIONS = [
  '-o',
  'BatchMode=yes',
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'LogLevel=ERROR',
  '-o',
  'ConnectTimeout=20',
];
const sh = (script: string, ...args: string[]) =>
  exec('sh', ['-c', script, 'bench', ...args], { maxBuffer: 2 ** 24, timeout: 1_800_000 });

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** How long `work` took, in whole milliseconds. */
const timed = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return Math.round(performance.now() - started);
};

const started = performance.now();
const lab = await startLibvirtLab();
const work = await mkdtemp(join(lab.hostDir, '..', 'bench-'));
const ms = {
  moduleLoadToAnswering: [] as number[],
  postLoad: [] as number[],
  handLoadToAnswering: [] as number[],
  moduleCapture: [] as number[],
  moduleFlattenPublish: [] as number[],
  moduleStore: [] as number[],
  convertCompressed: [] as number[],
  handCapturePipeline: [] as number[],
};
/** Polls until `ready` (every POLL_MS), failing after 10 minutes. */
const until = async (what: string, ready: () => Promise<boolean>) => {
  const deadline = Date.now() + 600_000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
};
/** Tries `ready` until it is true, paced like `SshCommunicator.waitUntilReachable` by default. */
const reach = async (what: string, ready: () => Promise<boolean>) => {
  const deadline = Date.now() + 600_000;
  for (let pause = REACH_FIRST_PAUSE_MS; ; pause = Math.min(REACH_MAX_PAUSE_MS, pause * 2)) {
    const attempt = Date.now();
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not after 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, attempt + pause - Date.now())));
  }
};
try {
  // The module's load with postLoad timed apart.
  let postLoadMs = 0;
  const timedOs: OsModule = {
    ...lab.os,
    postLoad: async (ctx) => {
      const t = performance.now();
      try {
        return await lab.os.postLoad(ctx);
      } finally {
        postLoadMs = Math.round(performance.now() - t);
      }
    },
  };
  // Off already: a capture with this OS module is the provisioner's own work alone.
  const offOs: OsModule = { ...lab.os, preCapture: async () => ({ endState: 'off' }) };
  const ref = { image: BASE.name, revision: BASE.revision };
  // The first load copies the master to the host; every timed load finds it cached.
  console.log(
    `first load (master copied): ${seconds(await timed(() => lab.provisioner.load(lab.ctx(1, 'load'), ref)))}`,
  );
  await lab.provisioner.powerOff(lab.ctx(1, 'power'));
  const master = (
    await sh('ls "$1"/*.qcow2', join(lab.hostDir, 'masters', BASE.name))
  ).stdout.trim();

  // The hand-made VM: computer 2's domain, defined from the same template.
  const config = libvirtConfig(lab.configInput(lab.storeDir));
  const facts = vmFacts(lab.computer(2), config);
  const paths = vmPaths(facts);
  const virsh = (...args: string[]) => lab.host.virsh(args);
  const handLoad = async () => {
    await virsh('destroy', facts.domain).catch(() => undefined);
    await virsh('undefine', facts.domain).catch(() => undefined);
    await rm(paths.dir, { recursive: true, force: true });
    await mkdir(paths.dir, { recursive: true, mode: 0o755 });
    await exec('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      master,
      paths.disk,
    ]);
    const scratch = await mkdtemp(join(work, 'identity-'));
    await buildIdentityDisk(identityDiskFiles([generateHostKey('vm2')]), paths.identity, {
      work: scratch,
    });
    await rm(scratch, { recursive: true, force: true });
    await writeFile(paths.xml, domainXml(facts, config, { identityDisk: true }));
    await virsh('define', paths.xml);
    await virsh('start', facts.domain);
    await reach(`ssh root@${facts.address} true`, () =>
      exec('ssh', [
        ...OPENSSH_OPTIONS,
        '-i',
        lab.image.managementKeyPath,
        `root@${facts.address}`,
        'true',
      ]).then(
        () => true,
        () => false,
      ),
    );
  };

  for (let run = 1; run <= RUNS; run += 1) {
    const total = await timed(() => lab.provisioner.load(lab.ctx(1, 'load', { os: timedOs }), ref));
    ms.moduleLoadToAnswering.push(total - postLoadMs);
    ms.postLoad.push(postLoadMs);
    await lab.provisioner.powerOff(lab.ctx(1, 'power'));
    ms.handLoadToAnswering.push(await timed(handLoad));
    await virsh('destroy', facts.domain);
    console.log(
      `load ${run}: module ${seconds(total - postLoadMs)} + postLoad ${seconds(postLoadMs)}, by hand ${seconds(ms.handLoadToAnswering.at(-1) ?? 0)}`,
    );
  }
  await virsh('undefine', facts.domain);
  await rm(paths.dir, { recursive: true, force: true });

  // Captures of vm1's disk as the last load left it (written by its boot and postLoad, off).
  await lab.provisioner.load(lab.ctx(1, 'load'), ref);
  await lab.guest(1, ['sh', '-c', 'sync && systemctl poweroff']).catch(() => undefined);
  await until('vm1 shut off', async () => (await lab.host.domState('vlab-lab-vm1')) === 'shut off');
  const overlay = join(lab.hostDir, 'vms', 'vlab-lab-vm1', 'disk.qcow2');
  const out = join(work, 'out');
  for (let run = 1; run <= RUNS; run += 1) {
    const revision = BASE.revision + run;
    // The step runner's own timing of each step.
    const steps = new Map<string, number>();
    const log = createLogger(({ message, fields }) => {
      if (message === 'step finished')
        steps.set(String(fields['step']), Number(fields['durationMs']));
    });
    ms.moduleCapture.push(
      await timed(() =>
        lab.provisioner.capture(lab.ctx(1, 'capture', { os: offOs, log }), {
          image: BASE.name,
          newRevision: revision,
          mode: 'image',
        }),
      ),
    );
    const step = (name: string) => {
      const took = steps.get(name);
      if (took === undefined) throw new Error(`the capture logged no step ${name}`);
      return took;
    };
    ms.moduleFlattenPublish.push(step('flatten') + step('publish'));
    ms.moduleStore.push(step('store'));
    ms.convertCompressed.push(
      await timed(() =>
        exec('qemu-img', [
          'convert',
          '-q',
          '-c',
          '-f',
          'qcow2',
          '-O',
          'qcow2',
          overlay,
          `${out}.qcow2`,
        ]),
      ),
    );
    await rm(`${out}.qcow2`, { force: true });
    ms.handCapturePipeline.push(
      await timed(() =>
        sh(
          'out=$1; shift; exec ssh "$@" >"$out"',
          `${out}.zst`,
          ...lab.sshd.sshArgs(),
          quoteCommand(['sh', '-c', HAND_CAPTURE, 'bench', overlay, work]),
        ),
      ),
    );
    await sh('rm -f -- "$1".*', out);
    await lab.provisioner.deleteImage?.(lab.storeCtx(), { name: BASE.name, revision });
    console.log(
      `capture ${run}: module ${seconds(ms.moduleCapture.at(-1) ?? 0)} (flatten + publish ${seconds(ms.moduleFlattenPublish.at(-1) ?? 0)}, store ${seconds(ms.moduleStore.at(-1) ?? 0)}), qemu-img convert -c ${seconds(ms.convertCompressed.at(-1) ?? 0)}, the same pipeline by hand ${seconds(ms.handCapturePipeline.at(-1) ?? 0)}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
  await lab.close();
}

const medians = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
const m = (key: string) => medians[key] as number;
const overhead = (module: number, bare: number) => ({
  value: Number((module / bare - 1).toFixed(4)),
  target: TARGET_OVERHEAD,
  met: module / bare - 1 <= TARGET_OVERHEAD,
});
const overheads = {
  loadVsHand: overhead(m('moduleLoadToAnswering'), m('handLoadToAnswering')),
  flattenPublishVsConvertCompressed: overhead(m('moduleFlattenPublish'), m('convertCompressed')),
  captureVsHandPipeline: overhead(m('moduleCapture'), m('handCapturePipeline')),
};
/** No target: the whole capture also makes and sends the store's copy, which `convert -c` does not. */
const wholeCaptureVsConvertCompressed = Number(
  (m('moduleCapture') / m('convertCompressed') - 1).toFixed(4),
);
const results = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version, accelerator: lab.host.domainType },
  runs: RUNS,
  ms,
  medians,
  overheads,
  wholeCaptureVsConvertCompressed,
  benchMs: Math.round(performance.now() - started),
};
console.log(`\nmedians of ${RUNS}:`);
for (const [key, value] of Object.entries(medians)) console.log(`  ${key}: ${seconds(value)}`);
for (const [key, o] of Object.entries(overheads))
  console.log(
    `  overhead ${key}: ${(o.value * 100).toFixed(1)} % (target ≤ ${o.target * 100} %: ${o.met ? 'met' : 'MISSED'})`,
  );
console.log(
  `  the whole capture against convert -c alone (no target): ${(wholeCaptureVsConvertCompressed * 100).toFixed(1)} %`,
);
console.log(`bench took ${seconds(results.benchMs)}`);
const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
await mkdir(dir, { recursive: true });
// The file is checked in: written the way the formatter writes it (an array of numbers on one line).
const json = JSON.stringify(results, null, 2).replace(
  /\[\s+([-\d.,\s]+?)\s+\]/g,
  (_, numbers: string) => `[${numbers.split(/,\s*/).join(', ')}]`,
);
await writeFile(join(dir, 'latest.json'), `${json}\n`);
