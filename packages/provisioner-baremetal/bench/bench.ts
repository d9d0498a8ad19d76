/**
 * `pnpm bench` for @vlab/provisioner-baremetal, on testlab computers (2 GiB disks): the transfer
 * phases of load and capture against the same bytes moved by a plain OpenSSH pipe in the same run,
 * a whole load and a whole capture, and three concurrent loads against one. The image holds about
 * 1 GiB of incompressible data. Not a test: a missed target is reported, never failed. Writes
 * bench/results/latest.json.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageStore } from '@vlab/image-store';
import { createLinuxOsModule, linuxOsConfig } from '@vlab/os-linux';
import {
  createLabHarness,
  DEPLOY_DISK_PATH,
  type LabHarness,
  opensshArgs,
  runChecked,
  startLab,
  withMountedImage,
} from '@vlab/testlab';
import { createBaremetalProvisioner } from '../src/baremetal-provisioner.js';
import { computerFacts } from '../src/computer-facts.js';
import { DeployEnvironment } from '../src/deploy-environment.js';
import { readDisk, writeImage } from '../src/disk-transfer.js';
import { labConfig } from '../test/baremetal-lab.js';

const IMAGE = 'bench';
const ROUNDS = 2;

async function timed(what: string, work: () => Promise<unknown>): Promise<number> {
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

await using lab = await startLab({ computers: ['c1', 'c2', 'c3'], clients: 0 });
const storeDir = join(lab.dir, 'store');
const harnesses: LabHarness[] = [];
for (const name of ['c1', 'c2', 'c3'])
  harnesses.push(await createLabHarness(lab, name, { storeDir }));
const [h1] = harnesses as [LabHarness];
const config = labConfig(storeDir);
const provisioner = createBaremetalProvisioner(config);
const os = createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 200 }));
const ctx = (h: LabHarness, phase: string) =>
  h.provisionerContext(os, { phase, timeoutMs: 3_600_000 });
const work = join(lab.dir, 'bench');
await mkdir(work, { recursive: true });
try {
  // The bench image: the lab's generic image with 1 GiB of random bytes in a file.
  const source = await h1.imageSource?.();
  if (source?.path === undefined) throw new Error('the lab harness has no imageSource');
  const raw = join(work, 'bench.img');
  await runChecked('cp', ['--sparse=always', source.path, raw], { timeoutMs: 600_000 });
  await runChecked('chmod', ['0644', raw]);
  await withMountedImage(raw, join(work, 'mnt'), () =>
    runChecked(
      'dd',
      [
        'if=/dev/urandom',
        `of=${join(work, 'mnt/root/bench-data')}`,
        'bs=4M',
        'count=256',
        'status=none',
      ],
      { timeoutMs: 600_000 },
    ),
  );
  const sha256 =
    (await runChecked('sha256sum', [raw], { timeoutMs: 600_000 })).stdout.split(' ')[0] ?? '';
  await provisioner.importImage?.(h1.operationContext({ phase: 'import', timeoutMs: 3_600_000 }), {
    image: IMAGE,
    revision: 1,
    source: { path: raw, sha256, osFamily: 'linux' },
  });

  // The transfer phases, through the provisioner's own functions, in c1's deploy environment.
  const c1 = lab.computer('c1');
  await c1.powerOff();
  await c1.waitForPower('off');
  await c1.setBootDevice('pxe');
  await c1.powerOn();
  await c1.waitForSsh({ deploy: true });
  const opCtx = ctx(h1, 'bench');
  const facts = computerFacts(h1.computer, config);
  const env = await DeployEnvironment.open(opCtx, facts);
  const store = ImageStore.local(storeDir);
  const target = { computer: 'c1', env, disk: facts.deploy.disk, config };
  const ssh = (command: string) => [
    ...opensshArgs({
      keyPath: lab.managementKey.path,
      address: c1.ip,
      knownHosts: c1.deployKnownHostsPath,
    }),
    command,
  ];
  const loadTransfer = await timed(
    'load transfer (provisioner: store → zstd → deploy, sparse, read-back sha256)',
    async () => writeImage(opCtx, target, await store.read({ name: IMAGE, revision: 1 })),
  );
  // The issue's baseline: compression in the pipe, as the provisioner compresses a raw revision.
  const opensshLoad = await timed(
    'load transfer (OpenSSH: zstd -1 -c image | ssh zstd -dc | dd, then sha256sum read-back)',
    async () => {
      await runChecked(
        'sh',
        [
          '-c',
          `zstd -q -1 -T0 -c "$0" | ssh "$@"`,
          raw,
          ...ssh(
            `zstd -dc | dd of=${DEPLOY_DISK_PATH} bs=4M status=none && dd if=${DEPLOY_DISK_PATH} bs=4M status=none | sha256sum`,
          ),
        ],
        { timeoutMs: 1_800_000 },
      );
    },
  );
  let serial = 0;
  const captureTransfer = await timed(
    'capture transfer (provisioner: dd | tee sha256 | zstd -3 → store, decoded and verified here)',
    async () => {
      serial += 1;
      const reservation = await store.reserve({ name: `${IMAGE}-read`, revision: serial });
      try {
        await readDisk(opCtx, target, reservation);
      } finally {
        await reservation.abandon();
      }
    },
  );
  const opensshCapture = await timed(
    'capture transfer (OpenSSH: dd | zstd -3 -T0 > file)',
    async () => {
      await runChecked(
        'sh',
        [
          '-c',
          `ssh "$@" > ${join(work, 'openssh-read.zst')}`,
          'sh',
          ...ssh(`dd if=${DEPLOY_DISK_PATH} bs=4M status=none | zstd -q -3 -T0 -c`),
        ],
        { timeoutMs: 1_800_000 },
      );
    },
  );
  await env[Symbol.asyncDispose]();

  // Whole operations, and three loads at once against one.
  const wholeLoad = await timed('whole load', () =>
    provisioner.load(ctx(h1, 'load'), { image: IMAGE, revision: 1 }),
  );
  let revision = 1;
  const wholeCapture = await timed('whole capture', async () => {
    revision += 1;
    await provisioner.capture(ctx(h1, 'capture'), {
      image: IMAGE,
      newRevision: revision,
      mode: 'checkpoint',
    });
  });
  const threeLoads = await timed('three concurrent loads', () =>
    Promise.all(
      harnesses.map((h) => provisioner.load(ctx(h, 'load'), { image: IMAGE, revision: 1 })),
    ),
  );

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    image: { logicalBytes: 2 * 2 ** 30, randomBytes: 2 ** 30 },
    ms: {
      loadTransfer,
      opensshLoad,
      captureTransfer,
      opensshCapture,
      wholeLoad,
      wholeCapture,
      threeLoads,
    },
    ratios: {
      loadTransferVsOpenssh: { value: opensshLoad / loadTransfer, target: 1.0 },
      captureTransferVsOpenssh: { value: opensshCapture / captureTransfer, target: 1.0 },
      threeConcurrentLoadsVsOne: { value: threeLoads / wholeLoad, target: null },
    },
  };
  for (const [name, ratio] of Object.entries(result.ratios)) {
    const verdict =
      ratio.target === null
        ? ''
        : ratio.value >= ratio.target
          ? ' (target met)'
          : ' (target MISSED)';
    console.log(
      `${name}: ${ratio.value.toFixed(2)}x${ratio.target === null ? '' : ` vs ${ratio.target}x`}${verdict}`,
    );
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await provisioner.close?.();
  for (const h of harnesses) await h.close();
  await rm(work, { recursive: true, force: true });
}
