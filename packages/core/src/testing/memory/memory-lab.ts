import { randomUUID } from 'node:crypto';
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
import { createLogger, type LogRecord } from '../../logger.js';
import type { OsModule } from '../../os-module.js';
import type { PowerProbe, PowerState } from '../../power.js';
import { createSecretResolver, Secret, type SecretResolver } from '../../secret.js';
import { capturedStamp, IMAGE_STAMP_PATHS, serializeStamp } from '../../stamp.js';
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
}

/** Options of {@link createMemoryLab}. @public */
export interface MemoryLabOptions {
  /** Names of the computers. Default: `['node1']`. */
  readonly computers?: readonly string[];
  /** Timing of every machine of the lab. Default: that of {@link MemoryMachineTiming}. */
  readonly timing?: MemoryMachineTiming;
}

/** The image every memory lab starts with: `base` revision 1, family `linux`. @public */
export const MEMORY_BASE_IMAGE = { name: 'base', revision: 1, osFamily: 'linux' } as const;

const labs = new Map<string, MemoryLab>();

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
  readonly #machines = new Map<string, MemoryMachine>();
  readonly #communicators = new Map<string, MemoryCommunicator>();

  /**
   * Makes the machines (off, with empty disks), stores {@link MEMORY_BASE_IMAGE}, and registers the
   * lab under its id. Same as {@link createMemoryLab}.
   */
  constructor(options: MemoryLabOptions = {}) {
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
    this.images.set(imageKey(MEMORY_BASE_IMAGE.name, MEMORY_BASE_IMAGE.revision), {
      data: base.readDiskWithoutRecord(),
      createdAt: new Date().toISOString(),
    });
    labs.set(this.id, this);
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

  /** Power as the computer's BMC reports it. */
  powerProbe(name: string): PowerProbe {
    const machine = this.machine(name);
    return { status: async () => machine.power };
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

  /** Deploys a stored image onto a computer and boots it, re-pinning its host key — what `reset` does. */
  deploy(name: string, image: { readonly name: string; readonly revision: number }): void {
    const stored = this.images.get(imageKey(image.name, image.revision));
    if (stored === undefined)
      throw coreError('VLAB_ERR_IMAGE_NOT_FOUND', `no image ${image.name}@${image.revision}`);
    const machine = this.machine(name);
    machine.powerOff();
    machine.writeDisk(stored.data);
    const hostKey = machine.ensureHostKey();
    machine.powerOn();
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
    },
    osContext: (options): OsContext => createOsContext(osInit(options)),
    provisionerContext: (os: OsModule, options): ProvisionerContext =>
      createProvisionerContext({ ...osInit(options), os }),
    operationContext: (options): OperationContext => createOperationContext(base(options)),
    power: async (): Promise<PowerState> => machine.power,
    powerEvents: () => machine.powerEvents.slice(powerMark),
    accounts: async () => machine.userAccounts.map((a) => a.login),
    readFile: async (path) => machine.files.get(path),
    diskReads: () => machine.diskReads.slice(readMark),
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
