import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ComputerRef,
  capturedStamp,
  createLogger,
  createOperationContext,
  createOsContext,
  createProvisionerContext,
  createSecretResolver,
  IMAGE_STAMP_PATHS,
  type LogRecord,
  type OperationContext,
  type OsContext,
  type OsModule,
  type PowerProbe,
  type PowerState,
  type ProvisionerContext,
  type ReservationUser,
  Secret,
  serializeStamp,
} from '@vlab/core';
import type {
  ConformanceHarness,
  HarnessContextOptions,
  HarnessDiskRead,
  HarnessPowerEvent,
} from '@vlab/core/testing';
import { IpmiClient } from '@vlab/ipmi';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { freezeGroup } from './cgroups.js';
import { run, runChecked } from './exec.js';
import { DEPLOY_DISK_PATH, ensureBaseImage } from './image.js';
import { type Lab, type LabComputer, withMountedImage, writeIdentity } from './lab.js';

/** The image a lab harness resets its computer to, for a lab of bookworm computers. @public */
export const LAB_HARNESS_IMAGE = {
  name: 'debian-bookworm',
  revision: 1,
  osFamily: 'linux',
} as const;

/** The image a lab harness resets to: `debian-<suite>` revision 1. */
function harnessImage(suite: string): { name: string; revision: number; osFamily: string } {
  return { ...LAB_HARNESS_IMAGE, name: `debian-${suite}` };
}

/** Options of {@link createLabHarness}. @public */
export interface LabHarnessOptions {
  /** How often power and disk reads are sampled in the background. Default: 200 ms. */
  readonly pollMs?: number;
}

/** A {@link ConformanceHarness} for a lab computer; dispose it to stop its sampler and SSH pool. @public */
export interface LabHarness extends ConformanceHarness, AsyncDisposable {
  /** The lab computer under test. */
  readonly labComputer: LabComputer;
  /** Stops the background sampler and closes the module's SSH pool. */
  close(): Promise<void>;
}

/**
 * `path` inside the guest root `root`, following symlinks as the guest would (absolute targets
 * are relative to `root`); `undefined` when a component does not exist.
 */
async function resolveInRoot(root: string, path: string, depth = 0): Promise<string | undefined> {
  if (depth > 40) throw new Error(`too many symlinks resolving ${path} in ${root}`);
  let current = '/';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (let index = 0; index < parts.length; index += 1) {
    const part = parts[index] ?? '';
    const next = part === '..' ? posix.dirname(current) : posix.join(current, part);
    let info: Stats;
    try {
      info = await lstat(join(root, next));
    } catch {
      return undefined;
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(join(root, next));
      const rest = parts.slice(index + 1).join('/');
      const base = target.startsWith('/') ? target : posix.join(current, target);
      return resolveInRoot(root, posix.join(base, rest), depth + 1);
    }
    current = next;
  }
  return join(root, current);
}

/** The loop device's "sectors read" counter (field 3 of /sys/block/loopN/stat). */
function sectorsRead(device: string): number | undefined {
  try {
    const fields = readFileSync(`/sys/block/${device.replace('/dev/', '')}/stat`, 'utf8')
      .trim()
      .split(/\s+/);
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

/**
 * The conformance-kit harness for one computer of a lab. It sees the machine only from outside:
 * power read from the BMC over RMCP+ (`@vlab/ipmi`, cipher suite 3), warm reboots from the lab's per-boot id,
 * files and accounts from the host's side of the running guest's root mount (or, when the disk
 * system is not running, with `debugfs` from the disk file, read-only), disk reads by the provisioner as the read
 * counter of the deploy environment's block device, and `stall` by freezing the computer's cgroup.
 * `reset` deploys the base image like a provisioner: power off, PXE, `dd` through the deploy
 * environment's sshd, reboot into the disk.
 */
export async function createLabHarness(
  lab: Lab,
  name: string,
  options: LabHarnessOptions = {},
): Promise<LabHarness> {
  const computer = lab.computer(name);
  const image = harnessImage(lab.record.suite);
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const bmcEnv = `VLAB_TESTLAB_BMC_PASSWORD_${name.toUpperCase()}`;
  const secretEnv: Record<string, string> = { [bmcEnv]: computer.bmc.password };
  const secrets = createSecretResolver({ env: secretEnv });
  const managementKey = new Secret(
    await readFile(lab.managementKey.path, 'utf8'),
    `management key of lab ${lab.id}`,
  );
  const hostKeys = new MemoryHostKeyStore({ [computer.ip]: computer.hostKeys });
  const pool = new SshPool({ hostKeys });
  const client = pool.client({
    host: computer.ip,
    user: 'root',
    auth: { kind: 'key', privateKey: managementKey },
    computer: name,
  });
  const communicator = new SshCommunicator(client, { computer: name });
  const [client1, client2] = lab.clients;
  const users: ReservationUser[] = [
    {
      login: 'alice',
      fullName: 'Alice Liddell',
      sshKeys: [
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu alice@lab',
      ],
      password: new Secret(`pw-${randomUUID()}`, 'password of alice'),
      admin: true,
      allowFrom: [client1?.ip ?? lab.hostAddress],
    },
    {
      login: 'bob',
      uid: 2001,
      sshKeys: [],
      password: new Secret(`pw-${randomUUID()}`, 'password of bob'),
      admin: false,
      allowFrom: [client2?.ip ?? lab.subnet],
    },
  ];

  const ref: ComputerRef = {
    name,
    hostname: name,
    addresses: { management: computer.ip },
    credentials: { bmc: { env: bmcEnv } },
    attributes: {
      lab: lab.id,
      bmcHost: computer.bmc.host,
      bmcPort: String(computer.bmc.port),
      bmcUser: computer.bmc.user,
      bmcCipherSuite: String(computer.bmc.cipherSuite),
      deployDisk: DEPLOY_DISK_PATH,
    },
  };

  // --- power events and disk reads, sampled from outside -------------------------------------
  const events: HarnessPowerEvent[] = [];
  const reads: HarnessDiskRead[] = [];
  let lastPower: 'on' | 'off' | undefined;
  let lastBootId = computer.bootId();
  let readDevice: string | undefined;
  let readBaseline = 0;
  let powerMark = 0;
  let readMark = 0;
  let resetting = false;

  const notePower = (state: 'on' | 'off'): void => {
    if (lastPower !== undefined && state !== lastPower)
      events.push({ at: performance.now(), state });
    lastPower = state;
  };
  /** Synchronous part: warm reboots (a new boot id without power off) and deploy-disk reads. */
  const sampleLocal = (): void => {
    const bootId = computer.bootId();
    if (bootId !== undefined && lastBootId !== undefined && bootId !== lastBootId) {
      if (lastPower === 'on') {
        const at = performance.now();
        events.push({ at, state: 'off' }, { at, state: 'on' });
      }
    }
    if (bootId !== undefined) lastBootId = bootId;
    let device: string | undefined;
    try {
      device =
        computer.booted() === 'deploy'
          ? readFileSync(join(computer.dir, 'run/deploy-loop'), 'utf8').trim()
          : undefined;
    } catch {
      device = undefined;
    }
    if (device === undefined) {
      readDevice = undefined;
      return;
    }
    const sectors = sectorsRead(device) ?? 0;
    if (device !== readDevice) {
      readDevice = device;
      readBaseline = sectors;
      return;
    }
    if (sectors > readBaseline) {
      readBaseline = sectors;
      if (!resetting) reads.push({ at: performance.now() });
    }
  };
  // The native RMCP+ client of @vlab/ipmi: one kept-alive session, no ipmitool process per read.
  const ipmi = new IpmiClient();
  const bmc = ipmi.bmc({
    host: computer.bmc.host,
    port: computer.bmc.port,
    username: computer.bmc.user,
    password: new Secret(computer.bmc.password, `bmc password of ${name}`),
    cipherSuites: [computer.bmc.cipherSuite],
  });
  const readPower = async (): Promise<PowerState> => {
    try {
      const state = await bmc.powerStatus({ timeoutMs: 5000 });
      notePower(state);
      return state;
    } catch {
      return 'unknown';
    }
  };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      sampleLocal();
      await readPower();
      await delay(options.pollMs ?? 200);
    }
  })();

  const power: PowerProbe = {
    status: () => readPower(),
    bootId: async () => computer.bootId(),
  };
  const base = (o: HarnessContextOptions) => ({
    log: log.child({ computer: name }),
    deadline: Date.now() + o.timeoutMs,
    signal: o.signal,
    phase: o.phase,
    secrets,
  });
  const osInit = (o: HarnessContextOptions) => ({
    ...base(o),
    computer: ref,
    image,
    communicator,
    power,
  });

  // --- reading the machine from outside ------------------------------------------------------
  /**
   * A file of the running disk system from the host's side of its root (the runner's loop mount:
   * no SSH, so host-key and sshd changes by the module under test cannot hide anything), else
   * read-only with debugfs from the disk file. Symlinks are resolved inside the guest's root.
   */
  const rootMount = join(computer.dir, 'root');
  const readMachineFile = async (path: string): Promise<Buffer | undefined> => {
    if (computer.booted() === 'disk' && (await readPower()) === 'on') {
      const resolved = await resolveInRoot(rootMount, path);
      if (resolved === undefined) return undefined;
      try {
        return await readFile(resolved);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    }
    const dump = join(computer.dir, `harness-read-${randomUUID()}`);
    try {
      const out = await run('debugfs', ['-R', `dump -p ${path} ${dump}`, computer.diskPath]);
      if (!existsSync(dump) || /not found|File not found/i.test(out.stderr)) return undefined;
      return await readFile(dump);
    } finally {
      await rm(dump, { force: true });
    }
  };

  // --- reset: deploy the base image the way a provisioner would ------------------------------
  const resetImage = join(computer.dir, 'harness/reset.img.zst');
  const prepareResetImage = async (): Promise<void> => {
    if (existsSync(resetImage)) return;
    const work = join(computer.dir, 'harness');
    await mkdir(work, { recursive: true });
    const raw = join(work, 'reset.img');
    const base = await ensureBaseImage({ suite: lab.record.suite });
    await runChecked('cp', ['--sparse=always', '--reflink=auto', base.path, raw]);
    await withMountedImage(raw, join(work, 'mnt'), async () => {
      const mnt = join(work, 'mnt');
      await writeIdentity(mnt, computer.dir, name, lab.managementKey.publicKey);
      await mkdir(join(mnt, 'etc/vlab'), { recursive: true });
      await writeFile(
        join(mnt, IMAGE_STAMP_PATHS.posix.slice(1)),
        serializeStamp(capturedStamp({ image: image.name, revision: image.revision })),
      );
    });
    await runChecked('zstd', ['-1', '-T0', '-q', '-f', '--rm', raw, '-o', `${resetImage}.tmp`], {
      timeoutMs: 600_000,
    });
    await runChecked('mv', [`${resetImage}.tmp`, resetImage]);
  };

  const harness: LabHarness = {
    labComputer: computer,
    computer: ref,
    image,
    stampPath: IMAGE_STAMP_PATHS.posix,
    async reset() {
      resetting = true;
      try {
        await thaw();
        await prepareResetImage();
        if ((await computer.power()) === 'on') {
          await computer.powerOff();
          await computer.waitForPower('off');
        }
        await computer.setBootDevice('pxe');
        await computer.powerOn();
        await computer.waitForSsh({ deploy: true });
        // Discard first (the loop device punches holes), then write only the image's data.
        const write = await computer.ssh(
          `set -e; if blkdiscard -f ${DEPLOY_DISK_PATH} 2>/dev/null; then conv=sparse,fsync; else conv=fsync; fi; zstd -dc | dd of=${DEPLOY_DISK_PATH} bs=1M conv=$conv status=none`,
          { deploy: true, stdinPath: resetImage },
        );
        if (write.code !== 0)
          throw new Error(`reset: writing ${name}'s disk failed: ${write.stderr.trim()}`);
        await computer.ssh('systemctl reboot', { deploy: true });
        await computer.waitForSsh();
        await hostKeys.replace(computer.ip, computer.hostKeys);
        sampleLocal();
        await readPower();
      } finally {
        resetting = false;
      }
      powerMark = events.length;
      readMark = reads.length;
    },
    osContext: (o): OsContext => createOsContext(osInit(o)),
    provisionerContext: (os: OsModule, o): ProvisionerContext =>
      createProvisionerContext({ ...osInit(o), os }),
    operationContext: (o): OperationContext => createOperationContext(base(o)),
    power: () => readPower(),
    powerEvents: () => {
      sampleLocal();
      return events.slice(powerMark);
    },
    async accounts() {
      const passwd = await readMachineFile('/etc/passwd');
      return (passwd?.toString('utf8') ?? '')
        .split('\n')
        .map((line) => line.split(':'))
        .filter((f) => Number(f[2]) >= 1000 && Number(f[2]) < 65534)
        .map((f) => f[0] ?? '');
    },
    readFile: (path) => readMachineFile(path),
    diskReads: () => {
      sampleLocal();
      return reads.slice(readMark);
    },
    async stall() {
      await setFrozen(true);
      return () => thaw();
    },
    users: () => users,
    secrets: () => [
      ...users.flatMap((u) => (u.password === undefined ? [] : [u.password])),
      new Secret(computer.bmc.password, `bmc password of ${name}`),
      managementKey,
    ],
    logs: () => records,
    async close() {
      sampling = false;
      await sampler;
      await thaw();
      await pool[Symbol.asyncDispose]();
      await ipmi.close();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };

  /** Freezes or thaws every process of the computer (the guest, nspawn, the power program). */
  async function setFrozen(frozen: boolean): Promise<void> {
    if (!(await freezeGroup(computer.cgroup, frozen)) && frozen) {
      throw new Error('stall needs the cgroup freezer, which this machine lacks');
    }
  }
  async function thaw(): Promise<void> {
    await setFrozen(false);
  }
  return harness;
}
