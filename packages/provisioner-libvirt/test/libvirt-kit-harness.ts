import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  generateHostKey,
  type HostKeyPair,
  IMAGE_STAMP_PATHS,
  identityDiskFiles,
  type LogRecord,
  type ModuleDeps,
  type OsModule,
  type PowerProbe,
  type PowerState,
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
} from '@vlab/core/testing';
import {
  MemoryHostKeyStore,
  type SshClient,
  SshCommunicator,
  SshPool,
  waitForSsh,
} from '@vlab/ssh';
import { distinctSecrets, listStoreEntries, sshBannerSeen, VM_NET, vmAddress } from '@vlab/testlab';
import { type LibvirtConfig, libvirtConfig } from '../src/config.js';
import { domainXml, vmPaths } from '../src/domain-xml.js';
import { vmFacts } from '../src/vm-facts.js';
import type { StartedLibvirtLab } from './libvirt-lab.js';

/** The image a kit harness resets its VM to (and offers as `imageSource`). */
export const KIT_IMAGE = {
  name: 'debian-bookworm-vm-conformance',
  revision: 1,
  osFamily: 'linux',
} as const;

/** A conformance harness for one VM of a libvirt lab; close it to stop its watchers. */
export interface LibvirtKitHarness extends ConformanceHarness {
  /** Figures for the report (how long resets took, what the watchers cost). */
  readonly figures: string[];
  close(): Promise<void>;
}

/** Options of {@link createLibvirtKitHarness}. */
export interface LibvirtKitHarnessOptions {
  /** The provisioner's store directory (its `storeEntries`). */
  readonly storeDir: string;
  /** How often the storage is scanned for reads of the VM's disk. Default: 200 ms. */
  readonly pollMs?: number;
}

const exec = (file: string, args: readonly string[], timeoutMs = 600_000) =>
  new Promise<{ stdout: string; stderr: string; child: ChildProcess }>((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 },
      (error, stdout, stderr) => {
        if (error !== null)
          reject(new Error(`${file} ${args.join(' ')}: ${error.message} ${stderr}`.trim()));
        else resolve({ stdout, stderr, child });
      },
    );
    onSpawn?.(child);
  });
/** Told of every process this module starts (the disk-read watcher ignores the harness's own). */
let onSpawn: ((child: ChildProcess) => void) | undefined;

/** A process's start, in `performance.now()` milliseconds (from /proc: 10 ms resolution). */
function processStartedAt(pid: number): { key: string; at: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const now = performance.now();
    // CLK_TCK is 100 on Linux.
    return { key: `${pid}:${ticks}`, at: now - (uptime - ticks / 100) * 1000 };
  } catch {
    return undefined;
  }
}

/**
 * The processes (pid) other than `exclude` that have `path` open read-only right now: every
 * /proc/<pid>/fd link to it whose fdinfo says O_RDONLY. A writer (the `qemu-img create` of a new
 * overlay, the domain's QEMU) is not a read.
 */
function readersOf(path: string, exclude: ReadonlySet<number>): number[] {
  const found: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return found;
  }
  for (const name of pids) {
    const pid = Number(name);
    if (exclude.has(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== path) continue;
        const flags = /^flags:\s+([0-7]+)$/m.exec(
          readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'),
        );
        // O_ACCMODE is 3; O_RDONLY is 0.
        if (flags !== null && (Number.parseInt(flags[1] ?? '0', 8) & 3) === 0) {
          found.push(pid);
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

/** The byte offset of the partition of a raw disk that holds `/etc/passwd` (ext4; `sfdisk -J`). */
async function rootOffset(raw: string): Promise<number> {
  const table = JSON.parse((await exec('sfdisk', ['-J', raw])).stdout) as {
    partitiontable: { sectorsize?: number; partitions?: { start: number }[] };
  };
  const sector = table.partitiontable.sectorsize ?? 512;
  for (const partition of table.partitiontable.partitions ?? []) {
    const offset = partition.start * sector;
    const probe = await exec('debugfs', ['-R', 'stat /etc/passwd', `${raw}?offset=${offset}`]).then(
      (out) => out.stdout,
      () => '',
    );
    if (/Type: regular/.test(probe)) return offset;
  }
  throw new Error(`no partition of ${raw} holds /etc/passwd`);
}

/**
 * The conformance-kit harness for VM `n` of a libvirt lab, seeing the machine from outside as far
 * as libvirt lets it:
 *
 * - **Power** is `virsh domstate` (the LibvirtHost's `domState`: running, paused, … are on; shut
 *   off or no domain is off). **Power events** come from libvirt's own event stream (`virsh event
 *   --all --loop`, line-buffered): `Started` is on, `Stopped` off, a guest reboot (`reboot`
 *   event, the domain keeps its id) is off then on, a start seen while the last state was on
 *   is off then on. A power read through {@link ConformanceHarness.power} is noted too, so a lost
 *   event cannot leave the record wrong for long. The boot id the OS contexts' power probe gives
 *   is libvirt's domain id with the count of reboot events seen in it.
 * - **Disk reads** are seen at the storage: every `pollMs` the harness looks through /proc for a
 *   process that has the VM's overlay (`vms/<domain>/disk.qcow2`) open read-only — the capture's
 *   `qemu-img convert` is one, a `cp` or `dd` of it would be too — other than the domain's QEMU
 *   (the guest's own I/O) and the harness's own `qemu-img`. Each such process is one read, dated
 *   at the process's start (from /proc/<pid>/stat, 10 ms resolution: never later than its first
 *   read), with the power libvirt reads right when it is seen and the environment `os` while the
 *   domain runs, `offline` while it is off (there is no deploy environment). Why this source:
 *   `inotifywait`/fanotify are not at hand, atime is unreliable (relatime, QEMU's own reads),
 *   /proc/<pid>/io counts a process's reads of every file; an open read-only descriptor on the
 *   overlay, kept for the seconds a conversion takes, names the file and the reader. A read by a
 *   process that opens and closes the overlay between two scans is missed (a `qemu-img info` of
 *   it, libvirt's probe of the backing chain when a domain starts); the capture's conversion of
 *   the whole disk is not.
 * - **Files and accounts of an off guest** are read from the disk: the overlay (with its backing
 *   chain) converted to a raw file with `qemu-img convert` in a temporary directory, the root
 *   partition found with `sfdisk -J`, files read with `debugfs -R 'cat PATH'`; the conversion is
 *   kept while the overlay is unchanged. **Of a running guest** they are read over the harness's
 *   own SSH connection as root with the VM image's management key (its own pool; the host-key
 *   pins the provisioner and the OS module keep). That is weaker than the testlab's view from the
 *   host's side of the guest's root mount: it goes through the guest's sshd and shell, which the
 *   module under test configures (a module that broke root's key login or the shell would make
 *   the harness fail, not lie), and a guest that does not answer cannot be read while it runs
 *   (the overlay of a running guest is not consistent on the host: the guest's page cache).
 * - **reset** deploys {@link KIT_IMAGE} as a provisioner would, without the provisioner. The
 *   first one boots it: a fresh overlay on the harness's own master at the provisioner's paths,
 *   an identity disk with fresh host keys (pinned in the communicator every context gets), the
 *   domain defined from the provisioner's own template (`domainXml`, as the provisioner's config
 *   says) and started; once the guest answers with those keys, it syncs and is saved (`virsh
 *   save`: its memory; the overlay and identity disk copied beside it). Every reset restores that
 *   state: the copies back at the provisioner's paths, the domain defined as a load leaves it (no
 *   identity disk, the saved UUID), `virsh restore`, libvirt's `Started` event, SSH answering, the
 *   guest's clock set from the host's (it stood still while saved), the host's identity disk
 *   removed. The SSH pools are made anew at each reset (a connection to a destroyed guest is dead
 *   and found so only by keepalive). **stall** is `virsh suspend` (the guest's CPUs stop: commands hang while the host still
 *   answers), undone with `virsh resume`. **answering** is an SSH banner from the VM's address while
 *   the domain runs, in the same boot before and after.
 * - **imageSource** is the raw disk of {@link KIT_IMAGE}: the lab's VM image with a `captured`
 *   stamp written into it with `debugfs -w` (the reset master is the same disk as qcow2);
 *   **storeEntries** lists the provisioner's store directory.
 *
 * Of kit 2's optional observations it offers neither `accountDetails`, `snapshotFiles`,
 * `canLogin`, `identity`, `commands`, `stallAfterCommands`, `bootWithIdentityDisk`,
 * `presentedHostKeys` nor `openSession`: the provisioner kit asks none of them (they serve the OS
 * module kit).
 */
export async function createLibvirtKitHarness(
  lab: StartedLibvirtLab,
  n: number,
  options: LibvirtKitHarnessOptions,
): Promise<LibvirtKitHarness> {
  const pollMs = options.pollMs ?? 200;
  const figures: string[] = [];
  const { host } = lab;
  const computer: ComputerRef = lab.computer(n);
  const address = vmAddress(n);
  const config: LibvirtConfig = libvirtConfig(lab.configInput(options.storeDir));
  const facts = vmFacts(computer, config);
  const paths = vmPaths(facts);
  const domain = facts.domain;
  const image = { ...KIT_IMAGE };

  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const resolver = createSecretResolver();
  const resolved: Secret[] = [];
  const secrets: SecretResolver = {
    async resolve(ref) {
      const secret = await resolver.resolve(ref);
      if (!resolved.some((s) => s.reveal() === secret.reveal())) resolved.push(secret);
      return secret;
    },
  };
  const { managementKey } = lab;
  // The pins the provisioner (trustHostKeys at a load) and the OS module keep; both pools read them.
  const hostKeys = new MemoryHostKeyStore();
  const connect = (label: string) => {
    const pool = new SshPool({ hostKeys });
    const client = pool.client({
      host: address,
      user: 'root',
      auth: { kind: 'key', privateKey: managementKey },
      computer: label,
    });
    return { pool, client, communicator: new SshCommunicator(client, { computer: computer.name }) };
  };
  // The contexts' connections and the harness's own for reading a running guest: two pools, the
  // same pins. Both are made anew at every reset: a connection to the guest that a reset
  // destroyed (or to the saved one it restores) would be dead, and found dead only by keepalive.
  let ssh = connect(computer.name);
  let own = connect(`${computer.name} (harness)`);
  const renewConnections = async (): Promise<void> => {
    const old = [ssh.pool, own.pool];
    ssh = connect(computer.name);
    own = connect(`${computer.name} (harness)`);
    await Promise.all(old.map((pool) => pool.close()));
  };

  const userKey = generateHostKey('vlab-kit-user');
  const users: ReservationUser[] = [
    {
      login: 'alice',
      fullName: 'Alice Liddell',
      sshKeys: [userKey.publicKey],
      password: new Secret(`pw-${randomUUID()}`, 'password of alice'),
      admin: true,
      allowFrom: [VM_NET.subnet],
    },
    {
      login: 'bob',
      uid: 2001,
      sshKeys: [userKey.publicKey],
      password: new Secret(`pw-${randomUUID()}`, 'password of bob'),
      admin: false,
      allowFrom: [VM_NET.hostAddress],
    },
  ];

  // The harness's files on the host: its master, the image source, scratch (QEMU reads the master).
  const work = join(host.dir, 'kit-harness');
  await mkdir(work, { recursive: true, mode: 0o755 });
  await chmod(work, 0o755);
  const ownPids = new Set<number>();
  onSpawn = (child) => {
    if (child.pid !== undefined) ownPids.add(child.pid);
  };

  // --- the image: the lab's VM image with a captured stamp of KIT_IMAGE -------------------------
  const t0 = performance.now();
  const sourceRaw = join(work, 'source.raw');
  const master = join(work, 'reset.qcow2');
  await exec('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', lab.image.path, sourceRaw]);
  const sourceOffset = await rootOffset(sourceRaw);
  {
    const stampFile = join(work, 'stamp.json');
    await writeFile(
      stampFile,
      serializeStamp(capturedStamp({ image: image.name, revision: image.revision })),
      { mode: 0o644 },
    );
    const stampDir = IMAGE_STAMP_PATHS.posix.slice(0, IMAGE_STAMP_PATHS.posix.lastIndexOf('/'));
    const stampName = IMAGE_STAMP_PATHS.posix.slice(stampDir.length + 1);
    const commands = join(work, 'stamp.debugfs');
    await writeFile(
      commands,
      [
        `mkdir ${stampDir}`,
        `cd ${stampDir}`,
        `rm ${stampName}`,
        `write ${stampFile} ${stampName}`,
        `set_inode_field ${stampName} uid 0`,
        `set_inode_field ${stampName} gid 0`,
        '',
      ].join('\n'),
    );
    await exec('debugfs', ['-w', '-f', commands, `${sourceRaw}?offset=${sourceOffset}`]);
    const check = await exec('debugfs', [
      '-R',
      `cat ${IMAGE_STAMP_PATHS.posix}`,
      `${sourceRaw}?offset=${sourceOffset}`,
    ]);
    if (!check.stdout.includes('"captured"'))
      throw new Error(`the stamp did not go into ${sourceRaw}: ${check.stdout} ${check.stderr}`);
    await rm(stampFile);
    await rm(commands);
  }
  await chmod(sourceRaw, 0o444);
  const sourceSha256 = (await exec('sha256sum', [sourceRaw])).stdout.split(' ')[0] ?? '';
  await exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', sourceRaw, master]);
  await chmod(master, 0o444);
  figures.push(`kit image built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // --- power, from libvirt ----------------------------------------------------------------------
  const events: HarnessPowerEvent[] = [];
  let lastPower: 'on' | 'off' | undefined;
  let reboots = 0;
  let powerMark = 0;
  let readMark = 0;
  let resetting = false;
  const notePower = (state: 'on' | 'off'): void => {
    if (lastPower !== undefined && state !== lastPower)
      events.push({ at: performance.now(), state });
    lastPower = state;
  };
  const domainState = async (): Promise<string | undefined> => {
    try {
      return await host.domState(domain);
    } catch {
      return undefined; // not defined
    }
  };
  const powerOf = (state: string | undefined): PowerState => {
    if (state === undefined || state === 'shut off' || state === 'crashed') return 'off';
    return ['running', 'blocked', 'paused', 'in shutdown', 'pmsuspended', 'idle'].includes(state)
      ? 'on'
      : 'unknown';
  };
  const readPower = async (): Promise<PowerState> => {
    const power = powerOf(await domainState());
    if (power !== 'unknown') notePower(power);
    return power;
  };
  await readPower();

  // libvirt's events for the domain, line-buffered (virsh's stdout is a pipe).
  let watching = true;
  let eventProcess: ChildProcess | undefined;
  let eventsSeen = 0;
  /** libvirt `Started` events of the domain (a boot, a restore): a reset waits for its own. */
  let starts = 0;
  const LINE = /^event '([a-z-]+)' for domain '([^']*)'(?::\s*(.*))?$/;
  const startEvents = (): void => {
    const child = spawn('stdbuf', ['-oL', 'virsh', '-c', host.uri, 'event', '--all', '--loop'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    eventProcess = child;
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        const match = LINE.exec(line);
        if (match === null || match[2] !== domain) continue;
        eventsSeen += 1;
        const [, kind, , detail = ''] = match;
        if (kind === 'reboot') {
          reboots += 1;
          if (lastPower === 'on') {
            const at = performance.now();
            events.push({ at, state: 'off' }, { at, state: 'on' });
          }
        } else if (kind === 'lifecycle') {
          if (detail.startsWith('Started')) {
            starts += 1;
            if (lastPower === 'on') {
              const at = performance.now();
              events.push({ at, state: 'off' }, { at, state: 'on' });
            } else notePower('on');
          } else if (detail.startsWith('Stopped') || detail.startsWith('Crashed')) notePower('off');
        }
      }
    });
    child.stderr.resume();
    child.on('error', () => undefined);
    child.once('close', () => {
      if (watching) startEvents(); // a watcher that died is restarted; power() reads catch up
    });
  };
  startEvents();
  // Until virsh event is connected, a change would be missed: give it a moment to register.
  await delay(1000);

  const bootId = async (): Promise<string | undefined> => {
    if ((await readPower()) !== 'on') return undefined;
    const id = (await host.virsh(['domid', domain]).catch(() => undefined))?.stdout.trim();
    return id === undefined || id === '' || id === '-' ? undefined : `${id}.${reboots}`;
  };
  const power: PowerProbe = {
    status: () => readPower(),
    bootId: () => bootId(),
  };

  // --- disk reads, seen at the storage ----------------------------------------------------------
  const reads: HarnessDiskRead[] = [];
  const seenReaders = new Set<string>();
  let scans = 0;
  let scanMs = 0;
  const qemuPid = (): number | undefined => {
    try {
      return host.qemuPid(domain);
    } catch {
      return undefined;
    }
  };
  const scan = async (): Promise<void> => {
    const t = performance.now();
    const exclude = new Set(ownPids);
    const qemu = qemuPid();
    if (qemu !== undefined) exclude.add(qemu);
    const readers = readersOf(paths.disk, exclude);
    scans += 1;
    scanMs += performance.now() - t;
    for (const pid of readers) {
      const started = processStartedAt(pid);
      if (started === undefined || seenReaders.has(started.key)) continue;
      seenReaders.add(started.key);
      if (resetting) continue;
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        // gone
      }
      if (comm.startsWith('qemu-system')) continue;
      const state = powerOf(await domainState());
      const known = state === 'unknown' ? lastPower : state;
      reads.push({
        at: started.at,
        power: known,
        environment: known === 'on' ? 'os' : 'offline',
      });
    }
  };
  let scanning = true;
  const scanner = (async () => {
    while (scanning) {
      await scan().catch(() => undefined);
      await delay(pollMs);
    }
  })();

  // --- files of the machine ---------------------------------------------------------------------
  let diskCopy: { key: string; raw: string; offset: number } | undefined;
  const offDisk = async (): Promise<{ raw: string; offset: number } | undefined> => {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(paths.disk);
    } catch {
      return undefined;
    }
    const key = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    if (diskCopy?.key === key) return diskCopy;
    if (diskCopy !== undefined) await rm(diskCopy.raw, { force: true });
    diskCopy = undefined;
    const dir = await mkdtemp(join(work, 'disk-'));
    const raw = join(dir, 'disk.raw');
    // -U: libvirt may still hold its lock briefly after the domain stopped; the guest is off.
    await exec('qemu-img', ['convert', '-q', '-U', '-f', 'qcow2', '-O', 'raw', paths.disk, raw]);
    diskCopy = { key, raw, offset: await rootOffset(raw) };
    return diskCopy;
  };
  const readOffline = async (path: string): Promise<Buffer | undefined> => {
    const disk = await offDisk();
    if (disk === undefined) return undefined;
    const result = await new Promise<{ code: number; stdout: Buffer; stderr: string }>(
      (resolve, reject) => {
        const child = spawn('debugfs', [
          '-R',
          `cat "${path}"`,
          `${disk.raw}?offset=${disk.offset}`,
        ]);
        onSpawn?.(child);
        const out: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          err += chunk;
        });
        child.once('error', reject);
        child.once('close', (code) =>
          resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }),
        );
      },
    );
    if (/not found by ext2_lookup|File not found/i.test(result.stderr)) return undefined;
    if (result.code !== 0) throw new Error(`debugfs cat ${path}: ${result.stderr}`);
    return result.stdout;
  };
  const readRunning = async (path: string): Promise<Buffer | undefined> => {
    const result = await own.communicator.run(
      ['sh', '-c', 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi', 'vlab-kit', path],
      { timeoutMs: 60_000 },
    );
    if (result.code === 3) return undefined;
    if (result.code !== 0) throw new Error(`reading ${path} over SSH: exit ${result.code}`);
    return Buffer.from(result.stdout);
  };
  const readMachineFile = async (path: string): Promise<Buffer | undefined> =>
    (await readPower()) === 'on' ? readRunning(path) : readOffline(path);

  // --- reset: deploy KIT_IMAGE the way the provisioner would, without it -----------------------
  const resume = async (): Promise<void> => {
    if ((await domainState()) !== 'paused') return;
    try {
      await host.virsh(['resume', domain]);
    } catch (error) {
      // The operation under test may destroy the paused domain meanwhile (its cleanup after an
      // abort): then there is nothing left to resume.
      if ((await domainState()) === 'paused') throw error;
    }
  };
  const undefine = async (): Promise<void> => {
    const state = await domainState();
    if (state === undefined) return;
    if (powerOf(state) !== 'off') await host.virsh(['destroy', domain]);
    await host.virsh(['undefine', domain]);
  };
  let resets = 0;
  let resetMs = 0;

  const base = (o: HarnessContextOptions) => ({
    log: log.child({ computer: computer.name }),
    deadline: Date.now() + o.timeoutMs,
    signal: o.signal,
    phase: o.phase,
    secrets,
  });
  const osInit = (o: HarnessContextOptions) => ({
    ...base(o),
    computer,
    image,
    communicator: ssh.communicator,
    power,
  });

  // The first reset boots the VM as a provisioner's load would and saves it (`virsh save`: its
  // memory, with the overlay and the identity disk copied beside it); every reset, that one too,
  // restores that state: seconds, where a boot takes 30-60 s under TCG.
  interface Saved {
    readonly state: string;
    readonly disk: string;
    readonly identity: string;
    readonly key: HostKeyPair;
    readonly uuid: string;
  }
  let saved: Saved | undefined;
  const timed = async <T>(parts: string[], what: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const result = await work();
    parts.push(`${what} ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return result;
  };
  const waitForStart = async (after: number, timeoutMs: number): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (starts <= after) {
      if (performance.now() > deadline)
        throw new Error(`no libvirt Started event of ${domain} within ${timeoutMs} ms`);
      await delay(50);
    }
  };
  const reach = (client: SshClient) =>
    // A restored guest answers at once: poll at a short, flat interval, not a boot's backoff.
    waitForSsh(client, { timeoutMs: 600_000, initialDelayMs: 200, maxDelayMs: 1000 });

  const bootAndSave = async (): Promise<Saved> => {
    const parts: string[] = [];
    const t = performance.now();
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
    const key = generateHostKey(computer.name);
    const scratch = await mkdtemp(join(work, 'identity-'));
    try {
      await buildIdentityDisk(identityDiskFiles([key]), paths.identity, { work: scratch });
      await chmod(paths.identity, 0o600);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    await ssh.communicator.trustHostKeys([key.publicKey]);
    await writeFile(paths.xml, domainXml(facts, config, { identityDisk: true }));
    await host.virsh(['define', paths.xml]);
    await timed(parts, 'boot to SSH', async () => {
      await host.virsh(['start', domain]);
      await ssh.communicator.waitUntilReachable({ timeoutMs: 600_000 });
    });
    // What the guest wrote is on the overlay before its memory is saved.
    await own.communicator.run(['sync'], { timeoutMs: 60_000 });
    const uuid = (await host.virsh(['domuuid', domain])).stdout.trim();
    // Its connections end with the saved guest: close them before it goes.
    await renewConnections();
    const state = join(work, 'saved.state');
    await timed(parts, 'virsh save', () => host.virsh(['save', domain, state], 600_000));
    const disk = join(work, 'saved-disk.qcow2');
    const identity = join(work, 'saved-identity.img');
    await copyFile(paths.disk, disk);
    await copyFile(paths.identity, identity);
    await chmod(identity, 0o600);
    figures.push(
      `first reset booted and saved the VM in ${((performance.now() - t) / 1000).toFixed(1)} s (${parts.join(', ')})`,
    );
    return { state, disk, identity, key, uuid };
  };

  const restore = async (from: Saved): Promise<void> => {
    const parts: string[] = [];
    const t = performance.now();
    await timed(parts, 'copies', async () => {
      await copyFile(from.disk, paths.disk);
      await copyFile(from.identity, paths.identity);
      await chmod(paths.identity, 0o600);
    });
    await ssh.communicator.trustHostKeys([from.key.publicKey]);
    // The persistent definition a load leaves (no identity disk), under the saved domain's UUID:
    // `virsh restore` then brings that domain back instead of refusing a clash of names.
    const xml = domainXml(facts, config, { identityDisk: false }).replace(
      /(<name>[^<]*<\/name>)/,
      `$1\n  <uuid>${from.uuid}</uuid>`,
    );
    await timed(parts, 'define', async () => {
      await writeFile(paths.xml, xml);
      await host.virsh(['define', paths.xml]);
    });
    const before = starts;
    await timed(parts, 'virsh restore', () => host.virsh(['restore', from.state], 600_000));
    // The restore's own Started event comes before the check's first one.
    await timed(parts, 'Started event', () => waitForStart(before, 60_000));
    await timed(parts, 'SSH answers', () => reach(ssh.client));
    // The guest's clock stood still while it was saved.
    await timed(parts, 'clock set', () =>
      own.communicator.run(['date', '-u', '-s', `@${Math.floor(Date.now() / 1000)}`], {
        timeoutMs: 60_000,
      }),
    );
    // The running guest keeps the device (it holds the same keys); the host's copy goes.
    await rm(paths.identity, { force: true });
    if (resets < 3)
      figures.push(
        `reset ${resets + 1}: restored in ${((performance.now() - t) / 1000).toFixed(1)} s (${parts.join(', ')})`,
      );
  };

  const harness: LibvirtKitHarness = {
    figures,
    computer,
    image,
    stampPath: IMAGE_STAMP_PATHS.posix,
    async reset() {
      const started = performance.now();
      resetting = true;
      try {
        await resume().catch(() => undefined);
        await undefine();
        await renewConnections();
        await rm(paths.dir, { recursive: true, force: true });
        await mkdir(join(facts.host.dir, 'vms'), { recursive: true, mode: 0o755 });
        await mkdir(paths.dir, { mode: 0o755 });
        if (saved === undefined) saved = await bootAndSave();
        await restore(saved);
        await readPower();
        await scan();
      } finally {
        resetting = false;
      }
      powerMark = events.length;
      readMark = reads.length;
      resets += 1;
      resetMs += performance.now() - started;
    },
    osContext: (o) => createOsContext(osInit(o)),
    provisionerContext: (os: OsModule, o) => createProvisionerContext({ ...osInit(o), os }),
    operationContext: (o) => createOperationContext(base(o)),
    power: () => readPower(),
    powerEvents: () => events.slice(powerMark),
    async accounts() {
      const passwd = await readMachineFile('/etc/passwd');
      return (passwd?.toString('utf8') ?? '')
        .split('\n')
        .map((line) => line.split(':'))
        .filter((f) => Number(f[2]) >= 1000 && Number(f[2]) < 65534)
        .map((f) => f[0] ?? '');
    },
    readFile: (path) => readMachineFile(path),
    moduleDeps: (): ModuleDeps => ({
      log: log.child({ computer: computer.name, module: 'under-test' }),
      secrets,
    }),
    diskReads: () => reads.slice(readMark),
    imageSource: async () => ({ path: sourceRaw, sha256: sourceSha256, osFamily: image.osFamily }),
    storeEntries: () => listStoreEntries(options.storeDir),
    async answering() {
      const before = await bootId();
      if (before === undefined) return false;
      const seen = await sshBannerSeen(address);
      return seen && (await bootId()) === before;
    },
    async stall() {
      await host.virsh(['suspend', domain]);
      return () => resume();
    },
    users: () => users,
    secrets: () =>
      distinctSecrets(
        [
          ...users.flatMap((u) => (u.password === undefined ? [] : [u.password])),
          managementKey,
          userKey.privateKey,
        ],
        resolved,
      ),
    logs: () => records,
    async close() {
      watching = false;
      scanning = false;
      await scanner;
      eventProcess?.kill();
      onSpawn = undefined;
      await resume().catch(() => undefined);
      await ssh.pool.close();
      await own.pool.close();
      figures.push(
        `${resets} resets, ${(resetMs / 1000).toFixed(1)} s in all`,
        `${scans} storage scans, ${(scanMs / Math.max(scans, 1)).toFixed(1)} ms each`,
        `${eventsSeen} libvirt events of ${domain}`,
      );
      await rm(work, { recursive: true, force: true });
    },
  };
  return harness;
}
