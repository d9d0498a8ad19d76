import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  buildIdentityDisk,
  type ComputerRef,
  capturedStamp,
  createLogger,
  createOperationContext,
  createOsContext,
  createProvisionerContext,
  createSecretResolver,
  IMAGE_STAMP_PATHS,
  type LogRecord,
  type ModuleDeps,
  type OperationContext,
  type OsContext,
  type OsModule,
  type PowerProbe,
  type PowerState,
  type ProvisionerContext,
  type ReservationUser,
  Secret,
  type SecretResolver,
  serializeStamp,
} from '@vlab/core';
import type {
  ConformanceHarness,
  HarnessContextOptions,
  HarnessDiskRead,
  HarnessPowerEvent,
  MachineEnvironment,
} from '@vlab/core/testing';
import { IpmiClient } from '@vlab/ipmi';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { freezeGroup } from './cgroups.js';
import { distinctSecrets } from './distinct-secrets.js';
import { run, runChecked } from './exec.js';
import { FileSnapshotter, type SnapshotFile } from './file-snapshot.js';
import { readAccounts } from './guest-accounts.js';
import {
  diskFingerprint,
  filesInRoot,
  filesOnDisk,
  type GuestFiles,
  isMountPoint,
  withDiskCopy,
} from './guest-root.js';
import { DEPLOY_DISK_PATH, ensureBaseImage } from './image.js';
import { labImageSource } from './image-source.js';
import {
  type BootTarget,
  type Lab,
  type LabClient,
  type LabComputer,
  opensshArgs,
  withMountedImage,
  writeIdentity,
} from './lab.js';
import { passwordLogin } from './password-login.js';
import { RecordingCommunicator } from './recording-communicator.js';
import { sshBannerSeen } from './ssh-banner.js';
import { listStoreEntries } from './store-entries.js';

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
  /**
   * The provisioner's local image store directory. With it the harness offers `storeEntries`:
   * every file and directory below it (hidden ones too) as sorted relative paths, `[]` while it
   * does not exist. Without it the harness has no `storeEntries` member.
   */
  readonly storeDir?: string;
}

/** A {@link ConformanceHarness} for a lab computer; dispose it to stop its sampler and SSH pool. @public */
export interface LabHarness extends ConformanceHarness, AsyncDisposable {
  /** The lab computer under test. */
  readonly labComputer: LabComputer;
  /** Stops the background sampler and closes the module's SSH pool. */
  close(): Promise<void>;
}

/** What runs on a computer the lab booted as `booted` (its record; `undefined` when off). */
function environmentOf(booted: BootTarget | undefined): MachineEnvironment {
  if (booted === 'deploy') return 'deploy';
  return booted === 'disk' ? 'os' : 'offline';
}

/** The pid of the computer's power-program runner while it runs (the machine is on), else undefined. */
function runnerPid(dir: string): string | undefined {
  try {
    const pid = readFileSync(join(dir, 'run/runner.pid'), 'utf8').trim();
    return /^[0-9]+$/.test(pid) && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
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

/** The identity disk of a computer, in its directory: bin/vlab-power attaches it at every disk boot. */
const IDENTITY_IMAGE = 'identity.img';

/** The host key types in the order the lab pins them; others after, by name. */
function hostKeyRank(line: string): number {
  const type = line.split(' ')[0] ?? '';
  if (type === 'ssh-ed25519') return 0;
  if (type.startsWith('ecdsa-')) return 1;
  if (type === 'ssh-rsa') return 2;
  return 3;
}

/**
 * The host keys an SSH server at `address`:22 presents, of every type (`ssh-keyscan`, 5 s per
 * connection), as sorted `type base64` lines; empty when it does not answer.
 */
async function scanHostKeys(address: string): Promise<string[]> {
  const out = await run(
    'ssh-keyscan',
    ['-T', '5', '-t', 'rsa,ecdsa,ed25519', '-p', '22', address],
    { timeoutMs: 60_000 },
  );
  const keys = new Set<string>();
  for (const line of out.stdout.split('\n')) {
    const [host, type, base64] = line.trim().split(/\s+/);
    if (host === undefined || host.startsWith('#') || type === undefined || base64 === undefined)
      continue;
    keys.add(`${type} ${base64}`);
  }
  return [...keys].sort((a, b) => hostKeyRank(a) - hostKeyRank(b) || a.localeCompare(b));
}

function ipv4(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256))
    return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Whether `entry` of a user's `allowFrom` (an address or an IPv4 CIDR prefix) covers `address`. */
function allows(entry: string, address: string): boolean {
  const [base = '', bits] = entry.split('/');
  if (bits === undefined) return base === address;
  const network = ipv4(base);
  const host = ipv4(address);
  const prefix = Number(bits);
  if (network === undefined || host === undefined || !(prefix >= 0 && prefix <= 32)) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(network / size) === Math.floor(host / size);
}

/** A process's start time (field 22 of /proc/<pid>/stat); `undefined` when gone or a zombie. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** The host's pid and parent pid of the process that is `guestPid` inside a guest. */
function hostProcess(
  candidates: readonly number[],
  guestPid: number,
): { pid: number; ppid: number } | undefined {
  for (const pid of candidates) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      if (nspid === undefined || nspid.length < 2 || Number(nspid.at(-1)) !== guestPid) continue;
      const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
      return { pid, ppid };
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** What the remote side of a harness session prints once it runs: its shell's and sshd's pids. */
const SESSION_MARKER = 'vlab-harness-session';
const SESSION_COMMAND = `echo ${SESSION_MARKER} $$ $PPID; exec sleep infinity`;
const SESSION_OPENED = new RegExp(`${SESSION_MARKER} (\\d+) (\\d+)`);

/**
 * The conformance-kit harness for one computer of a lab. It sees the machine only from outside:
 * power read from the BMC over RMCP+ (`@vlab/ipmi`, cipher suite 3), warm reboots from the lab's per-boot id,
 * files and accounts from the host's side of the running guest's root mount (or, when nothing
 * mounts the disk, read-only from the disk file: `debugfs`, or a mounted copy for file snapshots),
 * disk reads by the provisioner as the read
 * counter of the deploy environment's block device, and `stall` by freezing the computer's cgroup.
 * `reset` deploys the base image like a provisioner: power off, PXE, `dd` through the deploy
 * environment's sshd, reboot into the disk. Of kit 2's observations it offers account details,
 * file snapshots, password logins, the disk's identity, the module's dependencies, and `commands`
 * and `stallAfterCommands`: the harness builds the one communicator it hands to every context (the
 * module has no other channel to the guest) and records there (src/recording-communicator.ts) —
 * each `run`/`runChecked` with its argv and its stdin when a string or bytes, each `put` as
 * `put PATH` with the content as stdin, as the memory machine counts them. A stall lets the
 * command that completes the count take effect and holds its answer and every later call until
 * resumed, or until a call's signal or deadline rejects it with the SSH communicator's errors.
 *
 * For a bare-metal provisioner: the computer ref carries the BMC (`bmcHost`, `bmcPort`, `bmcUser`,
 * `bmcCipherSuite`, credential `bmc`) and the deploy environment (`deployHostKey`, its pinned host
 * key as `type base64`; `deployDisk`, the disk inside it; credential `deployKey`, the lab's
 * management key, which it authorizes for root). `imageSource` is the lab's base image made
 * lab-generic and generalized, built once per lab (src/image-source.ts); each disk read carries
 * the power the BMC last reported and the environment (`deploy`: reads are seen on the deploy
 * environment's block device); `storeEntries` lists `options.storeDir`; `answering` is whether
 * the computer's own OS (booted from its disk, not the deploy environment) sends an SSH banner now.
 */
export async function createLabHarness(
  lab: Lab,
  name: string,
  options: LabHarnessOptions = {},
): Promise<LabHarness> {
  const computer = lab.computer(name);
  const image = harnessImage(lab.record.suite);
  const storeDir = options.storeDir === undefined ? undefined : resolve(options.storeDir);
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const bmcEnv = `VLAB_TESTLAB_BMC_PASSWORD_${name.toUpperCase()}`;
  const secretEnv: Record<string, string> = { [bmcEnv]: computer.bmc.password };
  // Every secret the resolver hands out (to the contexts and to the module's create) is in play.
  const resolver = createSecretResolver({ env: secretEnv });
  const resolved: Secret[] = [];
  const secrets: SecretResolver = {
    async resolve(ref) {
      const secret = await resolver.resolve(ref);
      if (!resolved.some((s) => s.reveal() === secret.reveal())) resolved.push(secret);
      return secret;
    },
  };
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
  // The one communicator every context gets: it records the module's commands and stalls them.
  const communicator = new RecordingCommunicator(new SshCommunicator(client, { computer: name }));
  // The harness's own key pair, in the users' sshKeys, so that openSession can log in as them.
  const work = join(computer.dir, 'harness');
  await mkdir(work, { recursive: true, mode: 0o700 });
  const sessionDir = await mkdtemp(join(work, 'session-'));
  const sessionKey = join(sessionDir, 'id_ed25519');
  await runChecked('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `vlab-harness-${name}`,
    '-f',
    sessionKey,
  ]);
  const sessionPublicKey = (await readFile(`${sessionKey}.pub`, 'utf8')).trim();
  const sessionPrivateKey = new Secret(
    await readFile(sessionKey, 'utf8'),
    `session key of the ${name} harness`,
  );
  const identityImage = join(computer.dir, IDENTITY_IMAGE);
  const [client1, client2] = lab.clients;
  const users: ReservationUser[] = [
    {
      login: 'alice',
      fullName: 'Alice Liddell',
      sshKeys: [sessionPublicKey],
      password: new Secret(`pw-${randomUUID()}`, 'password of alice'),
      admin: true,
      allowFrom: [client1?.ip ?? lab.hostAddress],
    },
    {
      login: 'bob',
      uid: 2001,
      sshKeys: [sessionPublicKey],
      password: new Secret(`pw-${randomUUID()}`, 'password of bob'),
      admin: false,
      allowFrom: [client2?.ip ?? lab.subnet],
    },
  ];

  const deployHostKey = computer.deployHostKeys[0];
  if (deployHostKey === undefined) throw new Error(`${name} has no deploy host key`);
  // What a bare-metal provisioner needs: the BMC, and how to reach the deploy environment (its
  // pinned host key; it authorizes the lab's management key, as root) and the disk inside it.
  const ref: ComputerRef = {
    name,
    hostname: name,
    addresses: { management: computer.ip },
    credentials: { bmc: { env: bmcEnv }, deployKey: { file: lab.managementKey.path } },
    attributes: {
      lab: lab.id,
      bmcHost: computer.bmc.host,
      bmcPort: String(computer.bmc.port),
      bmcUser: computer.bmc.user,
      bmcCipherSuite: String(computer.bmc.cipherSuite),
      deployDisk: DEPLOY_DISK_PATH,
      deployHostKey,
    },
  };

  // --- power events and disk reads, sampled from outside -------------------------------------
  const events: HarnessPowerEvent[] = [];
  const reads: HarnessDiskRead[] = [];
  let lastPower: 'on' | 'off' | undefined;
  let lastBootId = computer.bootId();
  let lastRunner = runnerPid(computer.dir);
  /** Whether the runner's first boot id is still to come (it is not a warm reboot). */
  let bootOfNewRunner = false;
  /** The deploy boot (`<boot id>:<loop device>`) whose read counter {@link readBaseline} is of. */
  let readBoot: string | undefined;
  let readBaseline = 0;
  let powerMark = 0;
  let readMark = 0;
  let resetting = false;

  const notePower = (state: 'on' | 'off'): void => {
    if (lastPower !== undefined && state !== lastPower)
      events.push({ at: performance.now(), state });
    lastPower = state;
  };
  /**
   * Synchronous part: warm reboots (a new boot id without power off) and deploy-disk reads. A read
   * carries what this sample saw: the environment of the boot whose loop device's counter grew
   * (what was booted when the counter was read) and the last power the BMC reported.
   */
  const sampleLocal = (): void => {
    // A power-on is a new runner of the power program (the BMC reads on from the moment it
    // starts, before anything boots): recorded at once, so a caller that waited for the BMC to
    // read on finds the event, and with an off before it when the BMC reads missed the off.
    const runner = runnerPid(computer.dir);
    if (runner !== undefined && runner !== lastRunner) {
      const at = performance.now();
      if (lastPower === 'on') events.push({ at, state: 'off' }, { at, state: 'on' });
      else if (lastPower === 'off') events.push({ at, state: 'on' });
      if (lastPower !== undefined) lastPower = 'on';
      lastRunner = runner;
      bootOfNewRunner = true;
    }
    const booted = computer.booted();
    const bootId = computer.bootId();
    if (bootId !== undefined && lastBootId !== undefined && bootId !== lastBootId) {
      // A new boot id in the same runner is a warm reboot (reset); a new runner's first boot
      // was recorded as its power-on above.
      if (lastPower === 'on' && !bootOfNewRunner) {
        const at = performance.now();
        events.push({ at, state: 'off' }, { at, state: 'on' });
      }
    }
    if (bootId !== undefined && bootId !== lastBootId) bootOfNewRunner = false;
    if (bootId !== undefined) lastBootId = bootId;
    let device: string | undefined;
    try {
      device =
        booted === 'deploy'
          ? readFileSync(join(computer.dir, 'run/deploy-loop'), 'utf8').trim()
          : undefined;
    } catch {
      device = undefined;
    }
    if (device === undefined) {
      readBoot = undefined;
      return;
    }
    const sectors = sectorsRead(device) ?? 0;
    // Keyed by the boot too: a later deploy boot may get the same loop device back.
    const boot = `${bootId}:${device}`;
    if (boot !== readBoot) {
      readBoot = boot;
      readBaseline = sectors;
      return;
    }
    if (sectors > readBaseline) {
      readBaseline = sectors;
      if (!resetting)
        reads.push({ at: performance.now(), power: lastPower, environment: environmentOf(booted) });
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
      // The BMC first, so that a read noticed next carries the power as it is now.
      await readPower();
      sampleLocal();
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
   * The machine's files without SSH (so host-key and sshd changes by the module under test cannot
   * hide anything): from the host's side of the running guest's root mount (the runner's loop
   * mount) while it exists, else read-only with debugfs from the disk file. Symlinks are resolved
   * inside the guest's root.
   */
  const rootMount = join(computer.dir, 'root');
  const guestFiles = (): GuestFiles =>
    isMountPoint(rootMount) ? filesInRoot(rootMount) : filesOnDisk(computer.diskPath, work);
  const readMachineFile = (path: string): Promise<Buffer | undefined> => guestFiles().read(path);

  /**
   * Every file of the disk (see file-snapshot.ts): walked on the running guest's root mount, or on
   * a mounted copy of the disk file while nothing mounts it (the last one again while the disk file
   * is as it was then). Read again (at most three times) when the machine booted or powered off
   * meanwhile.
   */
  const snapshotter = new FileSnapshotter();
  let lastIdleSnapshot: { disk: string; files: readonly SnapshotFile[] } | undefined;
  const snapshotFiles = async () => {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const boot = computer.bootId();
      if (isMountPoint(rootMount)) {
        const files = await snapshotter.snapshot(rootMount);
        if (isMountPoint(rootMount) && computer.bootId() === boot) return files;
      } else {
        // Off (or in the deploy environment), the disk file changes only when something writes it:
        // the last snapshot of the same disk file still holds.
        const disk = await diskFingerprint(computer.diskPath);
        if (disk !== undefined && lastIdleSnapshot?.disk === disk)
          return [...lastIdleSnapshot.files];
        const files = await withDiskCopy(
          computer.diskPath,
          work,
          () => !isMountPoint(rootMount),
          (root) => snapshotter.snapshot(root),
        );
        if (files !== undefined) {
          lastIdleSnapshot = disk === undefined ? undefined : { disk, files };
          return files;
        }
      }
    }
    throw new Error(
      `snapshotFiles: ${name}'s disk changed hands (booted or powered off) during three snapshots in a row`,
    );
  };

  // --- reset: deploy the base image the way a provisioner would ------------------------------
  const resetImage = join(work, 'reset.img.zst');
  const prepareResetImage = async (): Promise<void> => {
    if (existsSync(resetImage)) return;
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
        // Held calls go on (into a machine about to be redeployed); the record restarts below.
        await communicator.release();
        await prepareResetImage();
        if ((await computer.power()) === 'on') {
          await computer.powerOff();
          await computer.waitForPower('off');
        }
        // Detaches the identity disk: the power program attaches it while the file exists (and
        // detached its loop device when the guest ended, before power read off).
        await rm(identityImage, { force: true });
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
      communicator.clear();
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
    accountDetails: () => readAccounts(guestFiles()),
    snapshotFiles: () => snapshotFiles(),
    canLogin: (login, password) => canLogin(login, password),
    async identity() {
      const files = guestFiles();
      const names = ((await files.list('/etc/ssh')) ?? []).filter((n) =>
        /^ssh_host_.+_key\.pub$/.test(n),
      );
      const keys = new Set<string>();
      for (const file of names) {
        const [type, base64] = ((await files.read(`/etc/ssh/${file}`))?.toString('utf8') ?? '')
          .trim()
          .split(/\s+/);
        if (type !== undefined && type !== '' && base64 !== undefined)
          keys.add(`${type} ${base64}`);
      }
      const id = (await files.read('/etc/machine-id'))?.toString('utf8').trim();
      return {
        hostKeys: [...keys].sort((a, b) => hostKeyRank(a) - hostKeyRank(b) || a.localeCompare(b)),
        machineId: id === undefined || id === '' ? undefined : id,
      };
    },
    commands: () => communicator.commands(),
    stallAfterCommands: async (count) => communicator.stallAfterCommands(count),
    moduleDeps: (): ModuleDeps => ({
      log: log.child({ computer: name, module: 'under-test' }),
      secrets,
    }),
    async bootWithIdentityDisk(files) {
      await thaw();
      if ((await computer.power()) === 'on') {
        await computer.powerOff();
        await computer.waitForPower('off');
      }
      await buildIdentityDisk(files, identityImage, { work });
      await computer.setBootDevice('disk');
      await computer.powerOn();
      await computer.waitForPower('on');
      sampleLocal();
      await readPower();
    },
    async presentedHostKeys() {
      // Two scans that agree: ssh-keyscan opens one connection per key type, and a server that
      // starts listening between them would be reported with some of its keys missing.
      let last = await scanHostKeys(computer.ip);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const next = await scanHostKeys(computer.ip);
        if (next.join('\n') === last.join('\n')) return next;
        last = next;
      }
      return last;
    },
    openSession: (login) => openSession(login),
    diskReads: () => {
      sampleLocal();
      return reads.slice(readMark);
    },
    imageSource: () => labImageSource(lab, image),
    ...(storeDir === undefined ? {} : { storeEntries: () => listStoreEntries(storeDir) }),
    async answering() {
      // The deploy environment answers on the same address and port: only a banner that came
      // while the disk boot seen before the connect still runs is the machine's own OS.
      const boot = computer.bootId();
      if (boot === undefined || computer.booted() !== 'disk') return false;
      const seen = await sshBannerSeen(computer.ip);
      return seen && computer.booted() === 'disk' && computer.bootId() === boot;
    },
    async stall() {
      await setFrozen(true);
      return () => thaw();
    },
    users: () => users,
    secrets: () =>
      distinctSecrets(
        [
          ...users.flatMap((u) => (u.password === undefined ? [] : [u.password])),
          new Secret(computer.bmc.password, `bmc password of ${name}`),
          managementKey,
          sessionPrivateKey,
        ],
        resolved,
      ),
    logs: () => records,
    async close() {
      sampling = false;
      await sampler;
      await thaw();
      await communicator.release();
      const ended = await Promise.allSettled([...sessions].map((end) => end()));
      await pool[Symbol.asyncDispose]();
      await ipmi.close();
      await rm(sessionDir, { recursive: true, force: true });
      for (const result of ended) if (result.status === 'rejected') throw result.reason;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };

  // --- user logins: real SSH logins from a client namespace -----------------------------------
  /**
   * The client namespace `user` logs in from: the first client its `allowFrom` covers (the first
   * client when it is empty); `undefined` when only the host itself is covered. Throws when no
   * address of the lab is.
   */
  function loginClient(user: ReservationUser, what: string): LabClient | undefined {
    const from =
      user.allowFrom.length === 0
        ? lab.clients[0]
        : lab.clients.find((c) => user.allowFrom.some((entry) => allows(entry, c.ip)));
    if (from === undefined && !user.allowFrom.some((entry) => allows(entry, lab.hostAddress))) {
      throw new Error(
        `${what}: no client of lab ${lab.id} is in ${user.login}'s allowFrom (${user.allowFrom.join(', ')})`,
      );
    }
    return from;
  }

  /**
   * Whether `login` logs in with `password` now: a password login with OpenSSH (password
   * authentication only, the password from an askpass program's environment) from the client
   * namespace the harness user's `allowFrom` covers (the first client for another login), the host
   * key checked against the communicator's pin as it is now, running `true`.
   */
  async function canLogin(login: string, password: Secret): Promise<boolean> {
    const user = users.find((u) => u.login === login);
    const from = user === undefined ? lab.clients[0] : loginClient(user, 'canLogin');
    return passwordLogin({
      address: computer.ip,
      login,
      password,
      hostKeys: await hostKeys.get(computer.ip),
      netns: from?.netns,
      from: from?.name ?? 'the host',
      dir: sessionDir,
    });
  }

  // --- user sessions: a real login over SSH from a client namespace, with a pty ----------------
  const sessions = new Set<() => Promise<void>>();
  /**
   * Logs in as `login` with the harness's key from the client namespace the user's `allowFrom`
   * covers (alice: client1, bob: client2; the host itself when it covers no client), with
   * `ssh -tt` (sshd records utmp and wtmp logins only for a pty) running a long sleep. Resolves
   * once the remote shell printed its marker (sshd wrote the utmp record when it allocated the pty,
   * before it started the command); the returned function kills the client and resolves once it
   * exited and sshd's session process and its monitor on the computer are gone (the monitor
   * records the logout before it exits). Seen from the host's /proc, not over SSH.
   */
  async function openSession(login: string): Promise<() => Promise<void>> {
    const user = users.find((u) => u.login === login);
    if (user === undefined) {
      throw new Error(
        `openSession: ${login} is not one of the harness's users (${users.map((u) => u.login).join(', ')})`,
      );
    }
    const from = loginClient(user, 'openSession');
    // The host key is checked against the communicator's pin as it is now (the module under test
    // re-pins it when it regenerates the host keys in postLoad), as a user who was given it would.
    const pins = await hostKeys.get(computer.ip);
    const knownHosts = join(sessionDir, `known_hosts-${randomUUID()}`);
    await writeFile(knownHosts, pins.map((key) => `${computer.ip} ${key}\n`).join(''));
    const ssh = [
      '-tt',
      ...opensshArgs({ keyPath: sessionKey, address: computer.ip, user: login, knownHosts }),
      SESSION_COMMAND,
    ];
    // `ip netns exec` execs ssh (no fork), so killing the child kills the client itself.
    const child =
      from === undefined
        ? spawn('ssh', ssh, { stdio: 'pipe' })
        : spawn('ip', ['netns', 'exec', from.netns, 'ssh', ...ssh], { stdio: 'pipe' });
    child.on('error', () => undefined); // reported below while opening; later, 'close' tells
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    const stop = async (): Promise<void> => {
      if (child.pid === undefined) return; // never started: no process, maybe no 'close'
      if (running()) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    };
    let output = '';
    let opened: RegExpExecArray;
    try {
      opened = await new Promise<RegExpExecArray>((resolve, reject) => {
        // A bound for a hang after the connection (ConnectTimeout covers the connect), not a race:
        // a login takes well under a second here.
        const timer = setTimeout(() => {
          reject(new Error(`openSession: ${login}'s session did not open within 60 s: ${output}`));
        }, 60_000);
        const onData = (chunk: string): void => {
          output = (output + chunk).slice(-16_384);
          const match = SESSION_OPENED.exec(output);
          if (match !== null) {
            clearTimeout(timer);
            resolve(match);
          }
        };
        child.stdout.setEncoding('utf8').on('data', onData);
        child.stderr.setEncoding('utf8').on('data', onData);
        child.stdin.on('error', () => undefined);
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          reject(
            new Error(
              `openSession: ssh ${login}@${computer.ip} from ${from?.name ?? 'the host'} ended (${code ?? signal}) before the session opened: ${output.trim()}`,
            ),
          );
        });
      });
    } catch (error) {
      await stop();
      await rm(knownHosts, { force: true });
      throw error;
    }
    // The remote shell's parent is sshd's session process (running as the user); its parent is
    // the session's privileged monitor. Both are found by their pid inside the guest (NSpid).
    const server = hostProcess(computer.pids(), Number(opened[2]));
    const watched = (server === undefined ? [] : [server.pid, server.ppid])
      .map((pid) => ({ pid, start: processStart(pid) }))
      .filter((p) => p.start !== undefined);
    if (watched.length < 2) {
      await stop();
      await rm(knownHosts, { force: true });
      throw new Error(
        `openSession: ${login}'s session opened, but its sshd processes (guest pid ${opened[2]}) are not in ${name}'s cgroup`,
      );
    }
    let ending: Promise<void> | undefined;
    const end = (): Promise<void> => {
      ending ??= (async () => {
        try {
          await stop();
          // sshd sees the connection close, hangs up the pty and ends the session: a bound for a
          // machine that cannot (stalled, say), not a race with a working one.
          const deadline = Date.now() + 30_000;
          while (watched.some((p) => processStart(p.pid) === p.start)) {
            if (Date.now() > deadline) {
              throw new Error(
                `${login}'s session on ${name} still has sshd processes 30 s after its client ended`,
              );
            }
            await delay(50);
          }
        } finally {
          sessions.delete(end);
          await rm(knownHosts, { force: true });
        }
      })();
      return ending;
    };
    sessions.add(end);
    return end;
  }

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
