import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { abortError, throwIfCancelled } from '../../abort.js';
import type {
  ComputerRef,
  OperationContext,
  OsContext,
  ProvisionerContext,
} from '../../context.js';
import {
  createOperationContext,
  createOsContext,
  createProvisionerContext,
} from '../../create-context.js';
import { coreError } from '../../errors/core-errors.js';
import { isVlabError } from '../../errors/vlab-error.js';
import { createLogger, type LogRecord } from '../../logger.js';
import type { OsModule } from '../../os-module.js';
import type { PowerProbe, PowerState } from '../../power.js';
import type { ImageStreamSource, ImportImageArgs, StoredImage } from '../../provisioner.js';
import { createSecretResolver, Secret, type SecretResolver } from '../../secret.js';
import { capturedStamp, IMAGE_STAMP_PATHS, type StampTarget, serializeStamp } from '../../stamp.js';
import type { ReservationUser } from '../../users.js';
import type { ConformanceHarness, HarnessContextOptions } from '../harness.js';
import { MemoryCommunicator } from './memory-communicator.js';
import { MEMORY_HOST_KEY_PATH, MemoryMachine, type MemoryMachineTiming } from './memory-machine.js';

/** A stored image of a {@link MemoryLab}. @public */
export interface MemoryImage {
  /** The disk image, as {@link MemoryMachine.readDisk} makes it and {@link MemoryMachine.writeDisk} takes it. */
  readonly data: Buffer;
  /** ISO time it was stored. */
  readonly createdAt: string;
  /** Hex SHA-256 of `data` (the logical disk bytes). Set by the lab's store since contract 1.1. */
  readonly sha256?: string | undefined;
  /** The image's OS family. Set by the lab's store since contract 1.1. */
  readonly osFamily?: string | undefined;
  /** The stamp target it was captured with; absent for an imported image. */
  readonly stamp?: StampTarget | undefined;
}

/** Options of {@link createMemoryLab}. @public */
export interface MemoryLabOptions {
  /** Names of the computers. Default: `['node1']`. */
  readonly computers?: readonly string[];
  /** Timing of every machine of the lab. Default: that of {@link MemoryMachineTiming}. */
  readonly timing?: MemoryMachineTiming;
  /**
   * Whether the store starts with {@link MEMORY_BASE_IMAGE} (imported by the lab's store). Default:
   * true. Set false to let the conformance kit seed it through a provisioner's `importImage`.
   */
  readonly storeBaseImage?: boolean;
  /** How many bytes the image store holds in all; an import beyond it is `VLAB_ERR_STORE_FULL`. Default: unlimited. */
  readonly storeCapacityBytes?: number;
}

/** The image every memory lab starts with: `base` revision 1, family `linux`. @public */
export const MEMORY_BASE_IMAGE = { name: 'base', revision: 1, osFamily: 'linux' } as const;

// Labs are found by id across copies of @vlab/core in one process: a module package the manager
// imports natively finds the lab a test made through its test runner's own copy of core.
const LABS = Symbol.for('vlab.memory-labs');
const registry = globalThis as { [LABS]?: Map<string, MemoryLab> };
registry[LABS] ??= new Map();
const labs: Map<string, MemoryLab> = registry[LABS];

/**
 * A lab of {@link MemoryMachine}s with a BMC, a disk and an image store each — the reference
 * harness of the conformance kit. Modules written for it find it by id (`MemoryLab.find`), as a
 * real provisioner finds a BMC by address in its config.
 * @public
 */
export class MemoryLab {
  /** A random UUID by which {@link MemoryLab.find} finds the lab until it is disposed. */
  readonly id: string = randomUUID();
  /** Images by `name@revision`. */
  readonly images = new Map<string, MemoryImage>();
  /** Secret values by environment variable name, for the lab's secret resolver. */
  readonly secretEnv: Record<string, string> = { VLAB_MEMORY_BMC_PASSWORD: `bmc-${randomUUID()}` };
  /** The raw disk image of {@link MEMORY_BASE_IMAGE}, whether or not the store holds it. */
  readonly baseImage: Buffer;
  /** How many bytes the store holds in all (`Infinity`: unlimited). */
  readonly storeCapacityBytes: number;
  readonly #machines = new Map<string, MemoryMachine>();
  readonly #communicators = new Map<string, MemoryCommunicator>();

  /**
   * Makes the machines (off, with empty disks), stores {@link MEMORY_BASE_IMAGE} (unless
   * `storeBaseImage` is false), and registers the lab under its id. Same as {@link createMemoryLab}.
   */
  constructor(options: MemoryLabOptions = {}) {
    this.storeCapacityBytes = options.storeCapacityBytes ?? Number.POSITIVE_INFINITY;
    for (const name of options.computers ?? ['node1'])
      this.#machines.set(name, new MemoryMachine(name, options.timing));
    const base = new MemoryMachine('base');
    base.writeDisk(MemoryMachine.baseImage());
    base.writeFile(
      IMAGE_STAMP_PATHS.posix,
      Buffer.from(
        serializeStamp(
          capturedStamp({ image: MEMORY_BASE_IMAGE.name, revision: MEMORY_BASE_IMAGE.revision }),
        ),
      ),
    );
    this.baseImage = base.readDiskWithoutRecord();
    if (options.storeBaseImage ?? true) {
      // Through the store's import path, as importImage puts it there: no side door.
      this.#publish(MEMORY_BASE_IMAGE.name, MEMORY_BASE_IMAGE.revision, this.baseImage, {
        sha256: sha256Of(this.baseImage),
        osFamily: MEMORY_BASE_IMAGE.osFamily,
      });
    }
    labs.set(this.id, this);
  }

  /** {@link MEMORY_BASE_IMAGE}'s raw disk as an `importImage` source (a fresh stream each call). */
  baseImageSource(): ImageStreamSource {
    const data = this.baseImage;
    return {
      stream: (async function* () {
        // Two chunks, as a real stream would give them.
        yield data.subarray(0, data.length >> 1);
        yield data.subarray(data.length >> 1);
      })(),
      sha256: sha256Of(data),
      osFamily: MEMORY_BASE_IMAGE.osFamily,
    };
  }

  /** Bytes the store holds now, temporary images included. */
  storedBytes(): number {
    let total = 0;
    for (const image of this.images.values()) total += image.data.length;
    return total;
  }

  /**
   * The store's import (contract 1.1 `importImage`): reads the raw disk image from a file or a
   * stream into a temporary entry, checks its SHA-256 and the store's room, then publishes it.
   * Refuses an existing revision (`VLAB_ERR_IMAGE_EXISTS`) before reading; a checksum mismatch
   * (`VLAB_ERR_IMAGE_CORRUPT`), a full store (`VLAB_ERR_STORE_FULL`) or an abort leave nothing
   * behind.
   */
  async importImage(args: ImportImageArgs, signal?: AbortSignal): Promise<StoredImage> {
    const { image, revision, source } = args;
    if (this.images.has(imageKey(image, revision))) {
      throw coreError(
        'VLAB_ERR_IMAGE_EXISTS',
        `image ${image} revision ${revision} already exists`,
      );
    }
    const temporary = imageKey(`.partial-${image}`, revision);
    try {
      let data: Buffer;
      if (source.path !== undefined) {
        data = await readFile(source.path, signal === undefined ? {} : { signal });
      } else {
        const chunks: Buffer[] = [];
        for await (const chunk of source.stream) {
          if (signal !== undefined) throwIfCancelled(signal, undefined, 'importImage');
          chunks.push(Buffer.from(chunk));
        }
        data = Buffer.concat(chunks);
      }
      if (signal !== undefined) throwIfCancelled(signal, undefined, 'importImage');
      if (this.storedBytes() + data.length > this.storeCapacityBytes) {
        throw coreError(
          'VLAB_ERR_STORE_FULL',
          `image ${image} revision ${revision} needs ${data.length} bytes; the store has ${Math.max(0, this.storeCapacityBytes - this.storedBytes())} left`,
        );
      }
      this.images.set(temporary, { data, createdAt: new Date().toISOString() });
      const written = (this.images.get(temporary) as MemoryImage).data;
      const actual = sha256Of(written);
      if (actual !== source.sha256.toLowerCase()) {
        throw coreError(
          'VLAB_ERR_IMAGE_CORRUPT',
          `image ${image} revision ${revision} has SHA-256 ${actual}, expected ${source.sha256}`,
          { details: { expected: source.sha256, actual } },
        );
      }
      return this.#publish(image, revision, written, {
        sha256: actual,
        osFamily: source.osFamily,
      });
    } catch (error) {
      // Reading a file cut short by the signal rejects with Node's AbortError: give the typed one.
      if (signal?.aborted && !isVlabError(error))
        throw abortError(signal, undefined, 'importImage');
      throw error;
    } finally {
      this.images.delete(temporary);
    }
  }

  /** The revision as `listImages` shows it. */
  storedImage(name: string, revision: number): StoredImage | undefined {
    const stored = this.images.get(imageKey(name, revision));
    if (stored === undefined) return undefined;
    return {
      name,
      revision,
      sizeBytes: stored.data.length,
      storedBytes: stored.data.length,
      createdAt: stored.createdAt,
      sha256: stored.sha256 ?? sha256Of(stored.data),
      osFamily: stored.osFamily,
      stamp: stored.stamp,
    };
  }

  #publish(
    name: string,
    revision: number,
    data: Buffer,
    meta: { sha256: string; osFamily: string; stamp?: StampTarget },
  ): StoredImage {
    this.images.set(imageKey(name, revision), {
      data,
      createdAt: new Date().toISOString(),
      ...meta,
    });
    return this.storedImage(name, revision) as StoredImage;
  }

  /** The lab with this id; throws `VLAB_ERR_CONFIG_INVALID` when there is none. */
  static find(id: string): MemoryLab {
    const lab = labs.get(id);
    if (lab === undefined) throw coreError('VLAB_ERR_CONFIG_INVALID', `no memory lab has id ${id}`);
    return lab;
  }

  /** The machine of a computer. */
  machine(name: string): MemoryMachine {
    const machine = this.#machines.get(name);
    if (machine === undefined)
      throw coreError('VLAB_ERR_CONFIG_INVALID', `the memory lab has no computer ${name}`);
    return machine;
  }

  /** The communicator of a computer (one per computer, holding its host-key pin). */
  communicator(name: string): MemoryCommunicator {
    let communicator = this.#communicators.get(name);
    if (communicator === undefined) {
      const machine = this.machine(name);
      communicator = new MemoryCommunicator(machine, [
        machine.files.get(MEMORY_HOST_KEY_PATH)?.toString('utf8') ?? '',
      ]);
      this.#communicators.set(name, communicator);
    }
    return communicator;
  }

  /**
   * Power as the computer's BMC reports it (each `status` is a BMC query: see `MemoryMachine`),
   * and its boot count as `bootId`.
   */
  powerProbe(name: string): PowerProbe {
    const machine = this.machine(name);
    return {
      status: async () => machine.power,
      bootId: async () => String(machine.bootCount),
    };
  }

  /** The lab's secret resolver (knows `VLAB_MEMORY_BMC_PASSWORD`). */
  secretResolver(): SecretResolver {
    return createSecretResolver({ env: this.secretEnv });
  }

  /** The computer as operations see it. */
  computerRef(name: string): ComputerRef {
    this.machine(name);
    return {
      name,
      hostname: `${name}.lab.test`,
      addresses: { management: `memory://${this.id}/${name}` },
      credentials: { bmc: { env: 'VLAB_MEMORY_BMC_PASSWORD' } },
      attributes: { memoryLab: this.id },
    };
  }

  /**
   * Deploys a stored image onto a computer and boots its OS, answering at once, re-pinning its host
   * key — what `reset` does. {@link MEMORY_BASE_IMAGE} comes from the lab's own copy when the store
   * lacks it.
   */
  deploy(name: string, image: { readonly name: string; readonly revision: number }): void {
    const isBase =
      image.name === MEMORY_BASE_IMAGE.name && image.revision === MEMORY_BASE_IMAGE.revision;
    const data =
      this.images.get(imageKey(image.name, image.revision))?.data ??
      (isBase ? this.baseImage : undefined);
    if (data === undefined)
      throw coreError('VLAB_ERR_IMAGE_NOT_FOUND', `no image ${image.name}@${image.revision}`);
    const machine = this.machine(name);
    machine.powerOff();
    machine.writeDisk(data);
    machine.attachIdentityDisk(undefined);
    const hostKey = machine.ensureHostKey();
    machine.nextBoot = 'os';
    machine.powerOn({ instantBoot: true });
    void this.communicator(name).trustHostKeys([hostKey]);
  }

  /** A conformance harness for one computer of this lab. */
  harness(name: string): ConformanceHarness {
    return createMemoryHarness(this, name);
  }

  /** Forgets the lab (its id no longer resolves). */
  dispose(): void {
    labs.delete(this.id);
  }
}

/** Makes a {@link MemoryLab}. @public */
export function createMemoryLab(options: MemoryLabOptions = {}): MemoryLab {
  return new MemoryLab(options);
}

/** Hex SHA-256 of a buffer. */
function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The key of an image revision in {@link MemoryLab.images}. @public */
export function imageKey(name: string, revision: number): string {
  return `${name}@${revision}`;
}

function createMemoryHarness(lab: MemoryLab, name: string): ConformanceHarness {
  const machine = lab.machine(name);
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const secrets = lab.secretResolver();
  const users: ReservationUser[] = [
    {
      login: 'alice',
      sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMemoryAliceKeyForTests alice@lab'],
      password: new Secret(`pw-${randomUUID()}`, 'password of alice'),
      admin: true,
      allowFrom: ['192.0.2.10'],
    },
    {
      login: 'bob',
      uid: 2001,
      sshKeys: [],
      password: new Secret(`pw-${randomUUID()}`, 'password of bob'),
      admin: false,
      allowFrom: ['192.0.2.0/28'],
    },
  ];
  let powerMark = 0;
  let readMark = 0;
  let commandMark = 0;
  const base = (options: HarnessContextOptions) => ({
    log: log.child({ computer: name }),
    deadline: Date.now() + options.timeoutMs,
    signal: options.signal,
    phase: options.phase,
    secrets,
  });
  const osInit = (options: HarnessContextOptions) => ({
    ...base(options),
    computer: lab.computerRef(name),
    image: MEMORY_BASE_IMAGE,
    communicator: lab.communicator(name),
    power: lab.powerProbe(name),
  });
  return {
    computer: lab.computerRef(name),
    image: MEMORY_BASE_IMAGE,
    stampPath: IMAGE_STAMP_PATHS.posix,
    async reset() {
      lab.deploy(name, MEMORY_BASE_IMAGE);
      powerMark = machine.powerEvents.length;
      readMark = machine.diskReads.length;
      commandMark = machine.commands.length;
    },
    osContext: (options): OsContext => createOsContext(osInit(options)),
    provisionerContext: (os: OsModule, options): ProvisionerContext =>
      createProvisionerContext({ ...osInit(options), os }),
    operationContext: (options): OperationContext => createOperationContext(base(options)),
    // The harness looks without asking the BMC: its reads never complete a shutdown.
    power: async (): Promise<PowerState> => machine.meteredPower,
    powerEvents: () => machine.powerEvents.slice(powerMark),
    accounts: async () => machine.userAccounts.map((a) => a.login),
    readFile: async (path) => machine.files.get(path),
    imageSource: async () => lab.baseImageSource(),
    diskReads: () => machine.diskReads.slice(readMark),
    storeEntries: async () => [...lab.images.keys()],
    answering: async () => machine.answering,
    async accountDetails() {
      return machine.allAccounts.map((a) => ({
        login: a.login,
        uid: a.uid,
        groups: [...a.groups].sort(),
        admin: a.uid === 0 || a.groups.includes('sudo'),
        hasPassword: a.hasPassword,
      }));
    },
    async snapshotFiles() {
      return [...machine.files]
        .map(([path, data]) => ({
          path,
          sha256: sha256Of(data),
          ...machine.metaOf(path),
        }))
        .sort((a, b) => a.path.localeCompare(b.path));
    },
    canLogin: async (login, password) =>
      machine.reachable && machine.checkPassword(login, password.reveal()),
    async identity() {
      const key = machine.files.get(MEMORY_HOST_KEY_PATH)?.toString('utf8').trim();
      const id = machine.files.get('/etc/machine-id')?.toString('utf8').trim();
      return {
        hostKeys: key === undefined || key === '' ? [] : [key.split(/\s+/).slice(0, 2).join(' ')],
        machineId: id === undefined || id === '' ? undefined : id,
      };
    },
    commands: () => machine.commands.slice(commandMark),
    async stallAfterCommands(count) {
      const resume = machine.stallAfterCommands(count);
      return async () => resume();
    },
    moduleDeps: () => ({ log: log.child({ module: 'under-test' }), secrets }),
    async bootWithIdentityDisk(files) {
      machine.powerOff();
      machine.attachIdentityDisk(files);
      machine.powerOn();
    },
    async presentedHostKeys() {
      if (!machine.reachable) return [];
      const line = machine.files.get(MEMORY_HOST_KEY_PATH)?.toString('utf8').trim() ?? '';
      return line === '' ? [] : [line.split(/\s+/).slice(0, 2).join(' ')];
    },
    async openSession(login) {
      if (!machine.userAccounts.some((a) => a.login === login))
        throw new Error(`memory harness: ${name} has no account ${login} to log in as`);
      const end = machine.openSession(login, '192.0.2.10');
      return async () => end();
    },
    async stall() {
      const resume = machine.stall();
      return async () => resume();
    },
    users: () => users,
    secrets: () => [
      ...users.flatMap((u) => (u.password === undefined ? [] : [u.password])),
      new Secret(lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD'] ?? '', 'bmc password'),
    ],
    logs: () => records,
  };
}
