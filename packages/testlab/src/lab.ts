import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, freeUdpPort } from '@vlab/test-peers';
import { type BmcAddress, bmcPower, CMDS_EMU, ipmitool, lanConf, waitForBmc } from './bmc.js';
import {
  createGroup,
  type GroupMemory,
  groupDirs,
  groupMemory,
  groupPids,
  killGroup,
  labGroupIds,
  procsFiles,
  removeGroup,
  removeParentIfEmpty,
} from './cgroups.js';
import { type RunOutput, run, runChecked, runWithFiles } from './exec.js';
import {
  DEPLOY_DISK_PATH,
  DEPLOY_HOSTNAME,
  ensureBaseImage,
  ensureDeployTree,
  type Suite,
} from './image.js';
import { withMachineLock } from './lock.js';
import {
  ip,
  labAddress,
  labBlackholes,
  labNet,
  MAX_NET_INDEX,
  netnsList,
  ROUTE_PROTO,
  rootLinks,
  usedPrefixes,
} from './net.js';
import { labsDir, POWER_PROGRAM, stateDir } from './paths.js';
import { preflight, requireFreeSpace } from './preflight.js';

/** What the lab records of a computer (in `state.json`). */
export interface ComputerRecord {
  readonly name: string;
  readonly ip: string;
  readonly bmc: BmcAddress;
  readonly serialPort: number;
  /** The disk's SSH host keys (`type base64`), pinned before first boot. */
  readonly hostKeys: readonly string[];
  /** The deploy environment's SSH host key for this computer. */
  readonly deployHostKeys: readonly string[];
}

/** What the lab records of a client namespace. */
export interface ClientRecord {
  readonly name: string;
  readonly ip: string;
}

/** The record of a lab, `state.json` in its directory: what `down` and `status` work from. */
export interface LabRecord {
  readonly schema: 1;
  readonly id: string;
  readonly createdAt: string;
  /** The process the lab belongs to (it is stale once that process is gone); null: until `down`. */
  readonly owner: { readonly pid: number; readonly startTime: string } | null;
  readonly netIndex: number;
  readonly subnet: string;
  readonly blackhole: string;
  readonly hostAddress: string;
  readonly suite: Suite;
  readonly memoryLimitBytes: number;
  readonly computers: readonly ComputerRecord[];
  readonly clients: readonly ClientRecord[];
}

/** Options of {@link startLab}. @public */
export interface StartLabOptions {
  /** How many computers (named c1, c2 …), or their names. Default: 1. */
  readonly computers?: number | readonly string[];
  /** How many client namespaces on the lab network (client1 …). Default: 2. */
  readonly clients?: number;
  /** The Debian release on the computers' disks. Default: bookworm. */
  readonly suite?: Suite;
  /** Power the computers on through their BMCs and wait until SSH answers. Default: true. */
  readonly powerOn?: boolean;
  /** Memory limit of each computer's cgroup (page cache included). Default: 2 GiB. */
  readonly memoryLimitBytes?: number;
  /**
   * Keep the lab after this process ends, until `down` (the CLI's `lab up`). Default: false —
   * the lab belongs to this process, and the next `startLab` on the machine removes it once
   * the process is gone.
   */
  readonly persistent?: boolean;
  /**
   * How many computers boot at once when `powerOn` (booting is CPU-bound: on 2 cores, more at
   * once only makes each slower). Default: 4.
   */
  readonly bootConcurrency?: number;
  /** How long each computer may take to answer SSH after power on. Default: 120 s. */
  readonly bootTimeoutMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** Which system a computer runs: its disk or the deploy environment (PXE). @public */
export type BootTarget = 'disk' | 'deploy';

/** Options of the SSH helpers. @public */
export interface SshOptions {
  /** Talk to the deploy environment (its own pinned host key) rather than the disk's system. */
  readonly deploy?: boolean;
  /** Written to the remote command's stdin. */
  readonly input?: string | Buffer;
  /** Default: 60000 ms (600000 ms with files). */
  readonly timeoutMs?: number;
  /** The remote command's stdin is this local file (instead of `input`): e.g. an image to write. */
  readonly stdinPath?: string;
  /** The remote command's stdout goes to this local file: e.g. a disk read back. */
  readonly stdoutPath?: string;
}

const ID_PATTERN = /^[0-9a-f]{6}$/;
const NAME_PATTERN = /^[a-z][a-z0-9]{0,9}$/;
const LABS_LOCK = (): string => join(stateDir(), 'labs.lock');

function labDir(id: string): string {
  return join(labsDir(), id);
}

function netnsName(id: string, name: string): string {
  return `vlab-${id}-${name}`;
}

/** The root-namespace end of the lab network's uplink. */
function uplinkName(id: string): string {
  return `vl${id}`;
}

/** The start time of a live process (field 22 of /proc/<pid>/stat); undefined if gone or a zombie. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: LabRecord['owner']): boolean {
  if (owner === null) return true;
  return processStartTime(owner.pid) === owner.startTime;
}

async function readRecord(id: string): Promise<LabRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(labDir(id), 'state.json'), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

async function writeRecord(record: LabRecord): Promise<void> {
  const path = join(labDir(record.id), 'state.json');
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

function shellValue(value: string): string {
  if (!/^[A-Za-z0-9_./:=+-]*$/.test(value))
    throw new Error(`unsafe value for computer.env: ${value}`);
  return value;
}

async function keygen(type: string, path: string, comment: string): Promise<string> {
  await runChecked('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** `type base64` of a public key line (the comment dropped). */
function keyOnly(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

/**
 * Arguments for the OpenSSH client that log in to `user@address` with one key and nothing else
 * from any config: `ssh ...args 'command'`. With `knownHosts` the host key is checked against
 * that file's pin; without, any host key is taken and nothing is remembered (tests of users'
 * logins, where the host key is not what is under test).
 * @public
 */
export function opensshArgs(options: {
  readonly keyPath: string;
  readonly address: string;
  readonly user?: string;
  readonly knownHosts?: string;
}): string[] {
  const known =
    options.knownHosts === undefined
      ? ['UserKnownHostsFile=/dev/null', 'StrictHostKeyChecking=no']
      : [`UserKnownHostsFile=${options.knownHosts}`, 'StrictHostKeyChecking=yes'];
  return [
    '-F',
    '/dev/null',
    '-i',
    options.keyPath,
    ...[
      'IdentitiesOnly=yes',
      'BatchMode=yes',
      ...known,
      'GlobalKnownHostsFile=/dev/null',
      'ConnectTimeout=5',
      'LogLevel=ERROR',
    ].flatMap((option) => ['-o', option]),
    `${options.user ?? 'root'}@${options.address}`,
  ];
}

/** One computer of a lab: its disk, its network namespace, its BMC and how to reach it. @public */
export class LabComputer {
  /** Its name in the lab (c1 …), also its host name. */
  readonly name: string;
  /** Its address on the lab network (SSH on port 22, as root with the management key). */
  readonly ip: string;
  /** Its BMC: RMCP+ on 127.0.0.1, with its own port and credentials. */
  readonly bmc: BmcAddress;
  /** The disk system's SSH host keys (`type base64`), generated and pinned before first boot. */
  readonly hostKeys: readonly string[];
  /** The deploy environment's host keys for this computer. */
  readonly deployHostKeys: readonly string[];
  /** A known_hosts file pinning {@link LabComputer.hostKeys} for {@link LabComputer.ip}. */
  readonly knownHostsPath: string;
  /** A known_hosts file pinning {@link LabComputer.deployHostKeys}. */
  readonly deployKnownHostsPath: string;
  /** Its directory (disk, BMC config, logs, power state). */
  readonly dir: string;
  /** Its raw disk: a plain ext4 file system in a sparse file. */
  readonly diskPath: string;
  /** Its network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Its cgroup, relative to each hierarchy's root. */
  readonly cgroup: string;
  /** Where the deploy environment sees this computer's disk (a block device). */
  readonly deployDiskPath = DEPLOY_DISK_PATH;
  readonly #managementKeyPath: string;

  constructor(lab: { id: string; dir: string; managementKeyPath: string }, record: ComputerRecord) {
    this.name = record.name;
    this.ip = record.ip;
    this.bmc = record.bmc;
    this.hostKeys = record.hostKeys;
    this.deployHostKeys = record.deployHostKeys;
    this.dir = join(lab.dir, 'computers', record.name);
    this.diskPath = join(this.dir, 'disk.img');
    this.knownHostsPath = join(this.dir, 'known_hosts');
    this.deployKnownHostsPath = join(this.dir, 'known_hosts.deploy');
    this.netns = netnsName(lab.id, record.name);
    this.cgroup = `vlab/${lab.id}/${record.name}`;
    this.#managementKeyPath = lab.managementKeyPath;
  }

  /** Arguments for the OpenSSH client: `ssh ...args 'command'`, host key checked against the pin. */
  sshArgs(options: { readonly deploy?: boolean } = {}): string[] {
    return opensshArgs({
      keyPath: this.#managementKeyPath,
      knownHosts: options.deploy ? this.deployKnownHostsPath : this.knownHostsPath,
      address: this.ip,
    });
  }

  /** Runs a shell command on the computer over SSH (as root), whatever its exit code. */
  ssh(command: string, options: SshOptions = {}): Promise<RunOutput> {
    if (options.stdinPath !== undefined || options.stdoutPath !== undefined) {
      return runWithFiles('ssh', [...this.sshArgs(options), command], {
        ...(options.stdinPath !== undefined ? { stdinPath: options.stdinPath } : {}),
        ...(options.stdoutPath !== undefined ? { stdoutPath: options.stdoutPath } : {}),
        timeoutMs: options.timeoutMs ?? 600_000,
      });
    }
    return run('ssh', [...this.sshArgs(options), command], {
      ...(options.input !== undefined ? { input: options.input } : {}),
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  }

  /** Like {@link LabComputer.ssh}, but a non-zero exit rejects with stderr. */
  async sshChecked(command: string, options: SshOptions = {}): Promise<string> {
    const out = await this.ssh(command, options);
    if (out.code !== 0) {
      throw new Error(
        `ssh ${this.name}${options.deploy ? ' (deploy)' : ''} "${command}" exited with ${out.code}: ${out.stderr.trim()}`,
      );
    }
    return out.stdout;
  }

  /** Whether SSH answers and logs in with the pinned host key (one attempt). */
  async sshAnswers(options: { readonly deploy?: boolean } = {}): Promise<boolean> {
    const out = await this.ssh('true', { ...options, timeoutMs: 10_000 });
    return out.code === 0;
  }

  /** Resolves with the milliseconds waited once SSH answers; rejects after `timeoutMs`. */
  async waitForSsh(
    options: { readonly deploy?: boolean; readonly timeoutMs?: number } = {},
  ): Promise<number> {
    const started = performance.now();
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let last: RunOutput | undefined;
    for (;;) {
      last = await this.ssh('true', { deploy: options.deploy ?? false, timeoutMs: 10_000 });
      if (last.code === 0) return Math.round(performance.now() - started);
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}${options.deploy ? ' (deploy environment)' : ''} did not answer SSH at ${this.ip} within ${options.timeoutMs ?? 120_000} ms: ${last.stderr.trim()}; console: ${this.dir}/console.log`,
        );
      }
      await delay(250);
    }
  }

  /** Runs `ipmitool -I lanplus -C 3 …` against this computer's BMC. */
  ipmitool(args: readonly string[]): Promise<RunOutput> {
    return ipmitool(this.bmc, args);
  }

  async #chassis(args: readonly string[]): Promise<void> {
    const out = await this.ipmitool(args);
    if (out.code !== 0) {
      throw new Error(
        `ipmitool ${args.join(' ')} on ${this.name}'s BMC failed: ${out.stderr.trim()}`,
      );
    }
  }

  /** The power state, read from the BMC over RMCP+. */
  power(): Promise<'on' | 'off'> {
    return bmcPower(this.bmc);
  }

  /** Chassis power on through the BMC. */
  powerOn(): Promise<void> {
    return this.#chassis(['power', 'on']);
  }

  /** Hard power off through the BMC. */
  powerOff(): Promise<void> {
    return this.#chassis(['power', 'off']);
  }

  /** Soft (ACPI) power off through the BMC: the guest shuts down cleanly. */
  softOff(): Promise<void> {
    return this.#chassis(['power', 'soft']);
  }

  /** Hard reset through the BMC. */
  reset(): Promise<void> {
    return this.#chassis(['power', 'reset']);
  }

  /** Next boot device through the BMC (one-time: it reverts to disk after one boot). */
  setBootDevice(device: 'pxe' | 'disk'): Promise<void> {
    return this.#chassis(['chassis', 'bootdev', device]);
  }

  /** Resolves once the BMC reports `state`; rejects after `timeoutMs`. */
  async waitForPower(state: 'on' | 'off', timeoutMs = 30_000): Promise<number> {
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.power()) === state) return Math.round(performance.now() - started);
      if (Date.now() > deadline) {
        throw new Error(`${this.name}'s BMC did not report power ${state} within ${timeoutMs} ms`);
      }
      await delay(200);
    }
  }

  /** The boot device the next boot will use (the lab's record of the BMC's flag). */
  nextBootDevice(): 'pxe' | 'disk' {
    try {
      return readFileSync(join(this.dir, 'run/bootdev'), 'utf8').trim() === 'pxe' ? 'pxe' : 'disk';
    } catch {
      return 'disk';
    }
  }

  /** What the computer runs now, if it is on (the lab's record, for status output). */
  booted(): BootTarget | undefined {
    try {
      const value = readFileSync(join(this.dir, 'run/booted'), 'utf8').trim();
      return value === 'deploy' || value === 'disk' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * An id of the current boot, new at every power-on, reset and reboot (the lab's record, like a
   * BMC's last power-on time); `undefined` when it is off. Inside the guest,
   * `/proc/sys/kernel/random/boot_id` is the host kernel's and never changes.
   */
  bootId(): string | undefined {
    if (this.booted() === undefined) return undefined;
    try {
      return readFileSync(join(this.dir, 'run/boot-id'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  /** Memory charged to the computer's cgroup (its guest, nspawn and its power program). */
  memory(): GroupMemory | undefined {
    return groupMemory(this.cgroup);
  }

  /** The pids in the computer's cgroup. */
  pids(): number[] {
    return groupPids(this.cgroup);
  }
}

/** A client namespace on the lab network (to test who may reach a computer). @public */
export class LabClient {
  readonly name: string;
  readonly ip: string;
  readonly netns: string;
  constructor(id: string, record: ClientRecord) {
    this.name = record.name;
    this.ip = record.ip;
    this.netns = netnsName(id, record.name);
  }

  /** Runs a program inside the client's network namespace. */
  exec(file: string, args: readonly string[], timeoutMs = 60_000): Promise<RunOutput> {
    return run('ip', ['netns', 'exec', this.netns, file, ...args], { timeoutMs });
  }
}

/** Status of one computer, for `lab status`. @public */
export interface ComputerStatus {
  readonly name: string;
  readonly ip: string;
  readonly power: 'on' | 'off' | 'unknown';
  readonly nextBootDevice: 'pxe' | 'disk';
  readonly booted: BootTarget | undefined;
  readonly sshAnswering: boolean;
  /** The image stamp (`/etc/vlab/image-stamp.json`) or base image marker, read over SSH. */
  readonly imageStamp: string | undefined;
  readonly bmc: string;
  readonly memoryBytes: number | undefined;
}

/** A running lab. `await using lab = await startLab(…)` removes it at the end of the scope. @public */
export class Lab implements AsyncDisposable {
  readonly id: string;
  readonly dir: string;
  readonly subnet: string;
  /** The root namespace's address on the lab network. */
  readonly hostAddress: string;
  /** The management key, authorized for root on every computer and deploy environment. */
  readonly managementKey: { readonly path: string; readonly publicKey: string };
  readonly computers: readonly LabComputer[];
  readonly clients: readonly LabClient[];
  readonly record: LabRecord;
  #down = false;

  constructor(record: LabRecord) {
    this.record = record;
    this.id = record.id;
    this.dir = labDir(record.id);
    this.subnet = record.subnet;
    this.hostAddress = record.hostAddress;
    const keyPath = join(this.dir, 'id_ed25519');
    let publicKey = '';
    try {
      publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();
    } catch {
      // a lab being torn down
    }
    this.managementKey = { path: keyPath, publicKey };
    const context = { id: record.id, dir: this.dir, managementKeyPath: keyPath };
    this.computers = record.computers.map((c) => new LabComputer(context, c));
    this.clients = record.clients.map((c) => new LabClient(record.id, c));
  }

  /** The computer called `name`. */
  computer(name: string): LabComputer {
    const found = this.computers.find((c) => c.name === name);
    if (found === undefined) throw new Error(`lab ${this.id} has no computer ${name}`);
    return found;
  }

  /** Each computer's power (from its BMC), boot device, address, SSH and image stamp. */
  async status(): Promise<ComputerStatus[]> {
    return Promise.all(
      this.computers.map(async (c): Promise<ComputerStatus> => {
        const power = await c.power().catch(() => 'unknown' as const);
        const booted = power === 'on' ? c.booted() : undefined;
        const deploy = booted === 'deploy';
        const probe =
          power === 'on'
            ? await c.ssh(
                'cat /etc/vlab/image-stamp.json 2>/dev/null || cat /etc/vlab-testlab/base-image.json 2>/dev/null || cat /etc/vlab-deploy-environment 2>/dev/null',
                { deploy, timeoutMs: 10_000 },
              )
            : undefined;
        const memory = c.memory();
        return {
          name: c.name,
          ip: c.ip,
          power,
          nextBootDevice: c.nextBootDevice(),
          booted,
          sshAnswering: probe !== undefined && probe.code !== 255,
          imageStamp: probe?.code === 0 ? probe.stdout.trim().replace(/\s+/g, ' ') : undefined,
          bmc: `${c.bmc.user}@${c.bmc.host}:${c.bmc.port}`,
          memoryBytes: memory?.usageBytes,
        };
      }),
    );
  }

  /** Removes everything the lab made (see {@link downLab}). Idempotent. */
  async down(): Promise<void> {
    if (this.#down) return;
    this.#down = true;
    await downLab(this.id);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.down();
  }
}

/** The records of every lab on the machine. */
export async function listLabs(): Promise<LabRecord[]> {
  if (!existsSync(labsDir())) return [];
  const records: LabRecord[] = [];
  for (const id of readdirSync(labsDir())) {
    if (!ID_PATTERN.test(id)) continue;
    const record = await readRecord(id);
    if (record !== undefined) records.push(record);
  }
  return records;
}

/** The lab `id`, from its record. */
export async function openLab(id: string): Promise<Lab> {
  const record = await readRecord(id);
  if (record === undefined) throw new Error(`no lab ${id} (no ${labDir(id)}/state.json)`);
  return new Lab(record);
}

/** What is left of a lab on the machine; all empty once `down` has done its work. @public */
export interface LabLeftovers {
  readonly netns: readonly string[];
  readonly links: readonly string[];
  readonly mounts: readonly string[];
  readonly loopDevices: readonly string[];
  readonly processes: readonly string[];
  readonly cgroups: readonly string[];
  readonly routes: readonly string[];
  readonly files: readonly string[];
}

function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4];
    if (point === undefined) continue;
    const decoded = point.replace(/\\(\d{3})/g, (_, oct: string) =>
      String.fromCharCode(parseInt(oct, 8)),
    );
    if (decoded === dir || decoded.startsWith(`${dir}/`)) out.push(decoded);
  }
  return out.sort((a, b) => b.length - a.length);
}

function loopDevicesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/sys/block')) {
    if (!entry.startsWith('loop')) continue;
    try {
      const backing = readFileSync(`/sys/block/${entry}/loop/backing_file`, 'utf8').trim();
      if (backing.startsWith(`${dir}/`)) out.push(`/dev/${entry}`);
    } catch {
      // not attached
    }
  }
  return out;
}

/** Processes that belong to lab `id` but may have escaped its cgroups (found by their command line). */
function labProcesses(id: string): string[] {
  const dir = labDir(id);
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (args.includes(`${dir}/`) || args.includes(`--machine=vlab-${id}-`)) {
        const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
        if (state !== 'Z') out.push(`${entry} ${args}`);
      }
    } catch {
      // gone
    }
  }
  return out;
}

/** Lists what is left of lab `id`: namespaces, links, mounts, loop devices, processes, cgroups, routes, files. */
export async function labLeftovers(id: string, blackhole?: string): Promise<LabLeftovers> {
  const dir = labDir(id);
  const pids = groupPids(`vlab/${id}`);
  const processes = [
    ...pids.map((pid) => `${pid} (in cgroup vlab/${id})`),
    ...labProcesses(id).filter((line) => !pids.includes(Number(line.split(' ')[0]))),
  ];
  return {
    netns: (await netnsList()).filter((name) => name.startsWith(`vlab-${id}-`)),
    links: (await rootLinks()).filter((name) => name === uplinkName(id)),
    mounts: mountsUnder(dir),
    loopDevices: loopDevicesUnder(dir),
    processes,
    cgroups: groupDirs(`vlab/${id}`).filter((d) => existsSync(d)),
    routes: blackhole === undefined ? [] : (await labBlackholes()).filter((r) => r === blackhole),
    files: existsSync(dir) ? [dir] : [],
  };
}

/**
 * Removes everything lab `id` made, even after a crash: every process in its cgroups (and any
 * that escaped them), mounts and loop devices of its files, its network namespaces (with their
 * links), its uplink, its blackhole route, its cgroups and its directory. Throws, listing what
 * is left, if something could not be removed.
 */
export async function downLab(
  id: string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  if (!ID_PATTERN.test(id)) throw new Error(`not a lab id: ${id}`);
  const dir = labDir(id);
  const record = await readRecord(id);
  log(`down ${id}`);
  // 1. Processes: BMCs, power programs, nspawn and the guests, all in the lab's cgroups.
  await killGroup(`vlab/${id}`);
  for (let round = 0; round < 50; round += 1) {
    const stray = labProcesses(id);
    if (stray.length === 0) break;
    for (const line of stray) {
      const pid = Number(line.split(' ')[0]);
      // An nspawn killed alone leaves its guest running: kill the guest's init first.
      const children = await run('pgrep', ['-P', String(pid)]);
      for (const child of children.stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(child), 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await delay(100);
  }
  // 2. Mounts and loop devices of the lab's files.
  for (const point of mountsUnder(dir)) {
    const out = await run('umount', [point]);
    if (out.code !== 0) await run('umount', ['-l', point]);
  }
  for (const device of loopDevicesUnder(dir)) await run('losetup', ['-d', device]);
  // 3. Network: namespaces (their veths go with them), the uplink, the blackhole route.
  for (const name of (await netnsList()).filter((n) => n.startsWith(`vlab-${id}-`))) {
    await run('ip', ['netns', 'del', name]);
  }
  if ((await rootLinks()).includes(uplinkName(id)))
    await run('ip', ['link', 'del', uplinkName(id)]);
  if (record !== undefined && (await labBlackholes()).includes(record.blackhole)) {
    await run('ip', ['route', 'del', 'blackhole', record.blackhole, 'proto', ROUTE_PROTO]);
  }
  // 4. cgroups, nspawn's leftovers in /run, the lab directory.
  for (let round = 0; round < 20 && removeGroup(`vlab/${id}`).length > 0; round += 1) {
    await killGroup(`vlab/${id}`, 2000);
    await delay(100);
  }
  removeParentIfEmpty();
  const propagate = '/run/systemd/nspawn/propagate';
  if (existsSync(propagate)) {
    for (const entry of readdirSync(propagate).filter((e) => e.startsWith(`vlab-${id}-`))) {
      await rm(join(propagate, entry), { recursive: true, force: true });
    }
  }
  if (mountsUnder(dir).length === 0) await rm(dir, { recursive: true, force: true });
  const left = await labLeftovers(id, record?.blackhole);
  const what = Object.entries(left).filter(([, list]) => (list as string[]).length > 0);
  if (what.length > 0) {
    throw new Error(
      `lab ${id} could not be removed completely; left: ${what.map(([k, v]) => `${k}: ${(v as string[]).join(', ')}`).join('; ')}`,
    );
  }
}

/**
 * Removes labs whose owner process is gone (a killed test run or `lab up`), and the remains of
 * labs without a record (namespaces, uplinks, cgroups, blackhole routes named for a lab).
 */
export async function cleanStaleLabs(
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  return withMachineLock(LABS_LOCK(), 'cleaning stale labs', 600_000, async () => {
    const ids = new Set<string>();
    if (existsSync(labsDir())) {
      for (const entry of readdirSync(labsDir())) if (ID_PATTERN.test(entry)) ids.add(entry);
    }
    for (const name of await netnsList()) {
      const id = /^vlab-([0-9a-f]{6})-/.exec(name)?.[1];
      if (id !== undefined) ids.add(id);
    }
    for (const link of await rootLinks()) {
      const id = /^vl([0-9a-f]{6})$/.exec(link)?.[1];
      if (id !== undefined) ids.add(id);
    }
    for (const id of labGroupIds()) if (ID_PATTERN.test(id)) ids.add(id);
    const removed: string[] = [];
    const live: LabRecord[] = [];
    for (const id of ids) {
      const record = await readRecord(id);
      if (record !== undefined && ownerAlive(record.owner)) {
        live.push(record);
        continue;
      }
      log(
        `removing stale lab ${id}${record ? ` (owner pid ${record.owner?.pid} is gone)` : ' (no record)'}`,
      );
      await downLab(id, log);
      removed.push(id);
    }
    for (const route of await labBlackholes()) {
      if (!live.some((record) => record.blackhole === route)) {
        await run('ip', ['route', 'del', 'blackhole', route, 'proto', ROUTE_PROTO]);
      }
    }
    return removed;
  });
}

/** Allocates a lab id and network under the machine-wide lock, and writes the first record. */
async function allocateLab(options: {
  suite: Suite;
  memoryLimitBytes: number;
  persistent: boolean;
}): Promise<LabRecord> {
  return withMachineLock(LABS_LOCK(), 'allocating a lab', 600_000, async () => {
    const records = await listLabs();
    const taken = new Set(records.map((r) => r.netIndex));
    const prefixes = await usedPrefixes();
    let index = 0;
    for (let candidate = 1; candidate <= MAX_NET_INDEX; candidate += 1) {
      const net = labNet(candidate);
      const third = net.subnet.split('.')[2];
      const clash = prefixes.some((p) => {
        const parts = p.split(/[./]/);
        return (
          parts[0] === '198' &&
          parts[1] === '18' &&
          (parts[2] === third || parts[2] === String(2 * candidate + 1))
        );
      });
      if (!taken.has(candidate) && !clash) {
        index = candidate;
        break;
      }
    }
    if (index === 0) throw new Error(`no free lab network: ${MAX_NET_INDEX} labs exist`);
    let id = '';
    do id = randomBytes(3).toString('hex');
    while (existsSync(labDir(id)));
    const net = labNet(index);
    const startTime = processStartTime(process.pid) ?? '';
    const record: LabRecord = {
      schema: 1,
      id,
      createdAt: new Date().toISOString(),
      owner: options.persistent ? null : { pid: process.pid, startTime },
      netIndex: index,
      subnet: net.subnet,
      blackhole: net.blackhole,
      hostAddress: net.hostAddress,
      suite: options.suite,
      memoryLimitBytes: options.memoryLimitBytes,
      computers: [],
      clients: [],
    };
    await mkdir(labDir(id), { recursive: true, mode: 0o755 });
    await writeRecord(record);
    return record;
  });
}

async function setUpNetwork(record: LabRecord): Promise<void> {
  const { id } = record;
  // The blackhole comes first: nothing for the lab may ever leave through the default route.
  await ip(['route', 'add', 'blackhole', record.blackhole, 'proto', ROUTE_PROTO]);
  const labNs = netnsName(id, 'net');
  await ip(['netns', 'add', labNs]);
  await ip(['-n', labNs, 'link', 'set', 'lo', 'up']);
  await ip(['-n', labNs, 'link', 'add', 'br0', 'type', 'bridge']).catch((error: Error) => {
    throw new Error(`cannot create a bridge (kernel module bridge missing?): ${error.message}`);
  });
  await ip(['-n', labNs, 'link', 'set', 'br0', 'up']);
  await ip([
    'link',
    'add',
    uplinkName(id),
    'type',
    'veth',
    'peer',
    'name',
    'uplink',
    'netns',
    labNs,
  ]).catch((error: Error) => {
    throw new Error(`cannot create a veth pair (kernel module veth missing?): ${error.message}`);
  });
  await ip(['-n', labNs, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
  await ip(['addr', 'add', `${record.hostAddress}/24`, 'dev', uplinkName(id)]);
  await ip(['link', 'set', uplinkName(id), 'up']);
}

/** A namespace with a veth into the lab bridge, its address, no default route. */
async function attachNamespace(id: string, name: string, address: string): Promise<void> {
  const ns = netnsName(id, name);
  const labNs = netnsName(id, 'net');
  await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', labNs, 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await ip(['-n', labNs, 'link', 'set', name, 'master', 'br0', 'up']);
  await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
}

/**
 * A computer's identity, kept in `<computer dir>/identity/` so that a fresh copy of its disk can
 * be made again (the conformance harness's reset): SSH host keys of every type (`etc/ssh/`) and
 * a machine id.
 */
async function makeIdentity(computerDir: string): Promise<string[]> {
  const identity = join(computerDir, 'identity');
  await mkdir(join(identity, 'etc/ssh'), { recursive: true, mode: 0o700 });
  await chmod(identity, 0o700);
  await runChecked('ssh-keygen', ['-A', '-f', identity]);
  await writeFile(join(identity, 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
  const hostKeys: string[] = [];
  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    const pub = join(identity, `etc/ssh/ssh_host_${type}_key.pub`);
    if (existsSync(pub)) hostKeys.push(keyOnly(await readFile(pub, 'utf8')));
  }
  return hostKeys;
}

/**
 * Writes a computer's identity into a mounted copy of a base image: its host keys, root's
 * authorized management key, host name and machine id.
 */
export async function writeIdentity(
  mnt: string,
  computerDir: string,
  name: string,
  managementPublicKey: string,
): Promise<void> {
  const identity = join(computerDir, 'identity');
  await runChecked('cp', ['-a', `${identity}/etc/ssh/.`, join(mnt, 'etc/ssh/')]);
  // `cp -a dir/.` also copies the identity directory's 0700 onto /etc/ssh; users must traverse it.
  await chmod(join(mnt, 'etc/ssh'), 0o755);
  await mkdir(join(mnt, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(mnt, 'root/.ssh'), 0o700);
  await writeFile(join(mnt, 'root/.ssh/authorized_keys'), `${managementPublicKey}\n`, {
    mode: 0o600,
  });
  await writeFile(join(mnt, 'etc/hostname'), `${name}\n`);
  await writeFile(
    join(mnt, 'etc/hosts'),
    `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  await copyFile(join(identity, 'machine-id'), join(mnt, 'etc/machine-id'));
}

/** Loop-mounts `image` at `mnt`, runs `fn`, unmounts. */
export async function withMountedImage<T>(
  image: string,
  mnt: string,
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(mnt, { recursive: true });
  await runChecked('mount', ['-o', 'loop', image, mnt]);
  try {
    return await fn();
  } finally {
    await runChecked('umount', [mnt]);
  }
}

/** Writes the computer's identity into its disk before first boot: host keys, root's key, name. */
async function personalizeDisk(
  computerDir: string,
  name: string,
  managementPublicKey: string,
): Promise<string[]> {
  const hostKeys = await makeIdentity(computerDir);
  await withMountedImage(join(computerDir, 'disk.img'), join(computerDir, 'root'), () =>
    writeIdentity(join(computerDir, 'root'), computerDir, name, managementPublicKey),
  );
  return hostKeys;
}

async function createComputer(
  record: LabRecord,
  name: string,
  hostNumber: number,
  baseImagePath: string,
  deployTreePath: string,
  managementPublicKey: string,
): Promise<ComputerRecord> {
  const dir = join(labDir(record.id), 'computers', name);
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'bmc/state'), { recursive: true });
  await mkdir(join(dir, 'deploy-etc'), { recursive: true, mode: 0o755 });
  await requireFreeSpace(stateDir(), 2 ** 30, `the disk of computer ${name}`);
  await runChecked(
    'cp',
    ['--sparse=always', '--reflink=auto', baseImagePath, join(dir, 'disk.img')],
    {
      timeoutMs: 600_000,
    },
  );
  const hostKeys = await personalizeDisk(dir, name, managementPublicKey);
  const deployKey = keyOnly(
    await keygen(
      'ed25519',
      join(dir, 'deploy-etc/ssh_host_ed25519_key'),
      `${DEPLOY_HOSTNAME}-${name}`,
    ),
  );
  await writeFile(join(dir, 'deploy-etc/authorized_keys'), `${managementPublicKey}\n`, {
    mode: 0o644,
  });
  const address = labAddress(record.netIndex, hostNumber);
  await writeFile(join(dir, 'known_hosts'), hostKeys.map((k) => `${address} ${k}\n`).join(''));
  await writeFile(join(dir, 'known_hosts.deploy'), `${address} ${deployKey}\n`);
  await writeFile(join(dir, 'run/bootdev'), 'default\n');

  const cgroup = `vlab/${record.id}/${name}`;
  await createGroup(cgroup, { memoryBytes: record.memoryLimitBytes, pids: 4096, cpuShares: 1024 });
  const env = {
    NAME: name,
    MACHINE: netnsName(record.id, name),
    NETNS: netnsName(record.id, name),
    DISK: join(dir, 'disk.img'),
    ROOT_MNT: join(dir, 'root'),
    DEPLOY_TREE: deployTreePath,
    DEPLOY_HOSTNAME,
    DEPLOY_DISK_PATH,
    COMPUTER_CGROUPS: procsFiles(cgroup).join(' '),
    BMC_CGROUPS: procsFiles(`vlab/${record.id}/bmc`).join(' '),
  };
  await writeFile(
    join(dir, 'computer.env'),
    `# written by @vlab/testlab\n${Object.entries(env)
      .map(([k, v]) => `${k}='${v.split(' ').map(shellValue).join(' ')}'`)
      .join('\n')}\n`,
  );
  await attachNamespace(record.id, name, address);

  // The BMC: ipmi_sim with the power program as chassis_control hook, detached from us.
  const powerProgram = join(labDir(record.id), 'bin/vlab-power');
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const bmc: BmcAddress = {
      host: '127.0.0.1',
      port: await freeUdpPort(),
      user: 'admin',
      password: randomBytes(8).toString('hex'),
      cipherSuite: 3,
    };
    const serialPort = await freePort();
    await writeFile(
      join(dir, 'bmc/lan.conf'),
      lanConf({
        name: `vlab-${record.id}-${name}`,
        bmc,
        serialPort,
        guid: randomBytes(16).toString('hex'),
        powerProgram,
        computerDir: dir,
      }),
      { mode: 0o600 },
    );
    await writeFile(join(dir, 'bmc/cmds.emu'), CMDS_EMU);
    // For operators' ipmitool -f: the password is printed nowhere.
    await writeFile(join(dir, 'bmc/password'), bmc.password, { mode: 0o600 });
    const logFd = openSync(join(dir, 'bmc/ipmi_sim.log'), 'a');
    const child = spawn(powerProgram, [dir, 'bmc'], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    child.unref();
    try {
      await waitForBmc(bmc, 10_000);
      return {
        name,
        ip: address,
        bmc,
        serialPort,
        hostKeys,
        deployHostKeys: [deployKey],
      };
    } catch (error) {
      lastError = error;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
  const simLog = await readFile(join(dir, 'bmc/ipmi_sim.log'), 'utf8').catch(() => '');
  throw new Error(
    `the BMC of ${name} (ipmi_sim) did not answer: ${(lastError as Error).message}; ipmi_sim log:\n${simLog.slice(-2000)}`,
  );
}

/** inotify instances one guest takes (its systemd 5, dbus, logind), with room to spare. */
const INOTIFY_PER_GUEST = 10;

/**
 * Every guest's systemd shares root's inotify instance limit with the host (no user namespaces):
 * Debian's default of 128 stops the 19th guest from booting ("Too many open files"). Raises
 * `fs.inotify.max_user_instances` (a runtime sysctl, not persisted) when this lab would pass it.
 */
async function ensureInotifyInstances(
  computers: number,
  log: (line: string) => void,
): Promise<void> {
  const path = '/proc/sys/fs/inotify/max_user_instances';
  const current = Number(await readFile(path, 'utf8').catch(() => '0'));
  if (current === 0) return;
  const running =
    groupPids('vlab').length > 0 ? (await listLabs()).flatMap((r) => r.computers).length : 0;
  const needed = 128 + (running + computers) * INOTIFY_PER_GUEST;
  if (current >= needed) return;
  const value = Math.max(1024, 2 ** Math.ceil(Math.log2(needed)));
  await writeFile(path, String(value));
  log(
    `raised fs.inotify.max_user_instances from ${current} to ${value}: each guest's systemd takes ~7`,
  );
}

function computerNames(option: StartLabOptions['computers']): string[] {
  const names =
    typeof option === 'number' || option === undefined
      ? Array.from({ length: option ?? 1 }, (_, i) => `c${i + 1}`)
      : [...option];
  if (names.length < 1 || names.length > 100) throw new Error('a lab has 1 to 100 computers');
  for (const name of names) {
    if (!NAME_PATTERN.test(name) || name === 'net' || /^client\d+$/.test(name)) {
      throw new Error(
        `bad computer name ${JSON.stringify(name)}: lower-case letters and digits, at most 10, not "net" or "clientN"`,
      );
    }
  }
  if (new Set(names).size !== names.length) throw new Error('computer names must be unique');
  return names;
}

/**
 * Starts a lab: computers booted by systemd-nspawn from their own copy of the cached base image,
 * each in its own network namespace and cgroup, behind its own ipmi_sim BMC, on a lab network
 * with client namespaces. Removes stale labs of the machine first. By default the computers are
 * powered on through their BMCs and SSH answers when this resolves.
 *
 * @example
 * ```ts
 * await using lab = await startLab({ computers: 3 });
 * const c1 = lab.computer('c1');
 * await c1.sshChecked('systemctl is-system-running');
 * ```
 */
export async function startLab(options: StartLabOptions = {}): Promise<Lab> {
  const log = options.log ?? (() => undefined);
  const names = computerNames(options.computers);
  const clientCount = options.clients ?? 2;
  if (clientCount < 0 || clientCount > 20) throw new Error('a lab has 0 to 20 clients');
  await preflight();
  await cleanStaleLabs(log);
  const suite = options.suite ?? 'bookworm';
  const image = await ensureBaseImage({ suite, log });
  const deploy = await ensureDeployTree(log);
  await requireFreeSpace(stateDir(), names.length * 2 ** 30, `${names.length} computer disk(s)`);
  await ensureInotifyInstances(names.length, log);
  let record = await allocateLab({
    suite,
    memoryLimitBytes: options.memoryLimitBytes ?? 2 * 2 ** 30,
    persistent: false,
  });
  const dir = labDir(record.id);
  log(`lab ${record.id}: network ${record.subnet}, directory ${dir}`);
  try {
    await mkdir(join(dir, 'bin'), { recursive: true });
    await copyFile(POWER_PROGRAM, join(dir, 'bin/vlab-power'));
    await chmod(join(dir, 'bin/vlab-power'), 0o755);
    const managementPublicKey = keyOnly(
      await keygen('ed25519', join(dir, 'id_ed25519'), `vlab-lab-${record.id}`),
    );
    await createGroup(`vlab/${record.id}/bmc`, { memoryBytes: 512 * 2 ** 20, pids: 1024 });
    await setUpNetwork(record);
    const clients: ClientRecord[] = [];
    for (let i = 1; i <= clientCount; i += 1) {
      const client = { name: `client${i}`, ip: labAddress(record.netIndex, 200 + i) };
      await attachNamespace(record.id, client.name, client.ip);
      clients.push(client);
    }
    record = { ...record, clients };
    await writeRecord(record);
    const computers: ComputerRecord[] = [];
    for (const [i, name] of names.entries()) {
      log(`computer ${name}: disk, keys, namespace, BMC`);
      computers.push(
        await createComputer(record, name, 11 + i, image.path, deploy.path, managementPublicKey),
      );
      record = { ...record, computers: [...computers] };
      await writeRecord(record);
    }
    const lab = new Lab(record);
    if (options.powerOn ?? true) {
      const queue = [...lab.computers];
      const boot = async (): Promise<void> => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
          const started = performance.now();
          await c.powerOn();
          await c.waitForSsh({ timeoutMs: options.bootTimeoutMs ?? 120_000 });
          const ms = Math.round(performance.now() - started);
          log(`computer ${c.name}: SSH answers at ${c.ip} (${ms} ms after power on)`);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, options.bootConcurrency ?? 4) }, boot));
    }
    if (options.persistent) {
      record = { ...record, owner: null };
      await writeRecord(record);
      return new Lab(record);
    }
    return lab;
  } catch (error) {
    log(`lab ${record.id} failed to start, removing it: ${(error as Error).message}`);
    await downLab(record.id).catch((downError: Error) => log(downError.message));
    throw error;
  }
}
