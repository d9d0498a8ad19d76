import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createComputerContext,
  createLogger,
  createOperationContext,
  createOsContext,
  createProvisionerContext,
  IMAGE_STAMP_PATHS,
  instantiateOsModule,
  instantiateProvisioner,
  type OsModule,
  type Provisioner,
  parseStamp,
  Secret,
} from '@vlab/core';
import { createMemoryLab, imageKey, type MemoryLab } from '@vlab/core/testing';
import { memoryOsModule, memoryProvisioner } from '@vlab/fixture-modules';
import { type InstallDir, makeInstallDir, WORKSPACE } from '../install-dir.js';
import type { MachineView } from './invariants.js';
import { PROXY_OS_SOURCE, PROXY_PROVISIONER_SOURCE } from './proxy-modules.js';
import { decode, encode, Peer, type Wire } from './wire.js';

const here = dirname(fileURLToPath(import.meta.url));

/** One module operation as the lab server ran it. */
export interface ModuleCall {
  readonly life: number;
  /** Its number in its life, from 1. */
  readonly index: number;
  readonly kind: 'os' | 'provisioner';
  readonly op: string;
  readonly computer: string | undefined;
  readonly reservation: string | undefined;
  /** `image@revision` of the context (or the load's argument). */
  readonly image: string | undefined;
  readonly args: unknown;
  /** The DBOS workflow and step (function id) it ran in, when it ran in one. */
  readonly workflowId: string | undefined;
  readonly stepId: number | undefined;
  readonly startedAt: number;
  finishedAt?: number;
  error?: string;
}

/** A finished step as the manager reported it. */
export interface StepDone {
  readonly life: number;
  readonly step: string;
  readonly reservationId: string | undefined;
  readonly computer: string | undefined;
  readonly workflowId: string;
  readonly stepId: number;
}

/** Where the server SIGKILLs the current life: the decision for a step or a module call. */
export interface KillPolicy {
  /** Kill once this finished step is reported (before the manager checkpoints it). */
  atStep(step: StepDone): boolean | Promise<boolean>;
  /** Kill when this module call arrives (`arrive`), or once it ran, before answering (`finish`). */
  atCall(
    call: ModuleCall,
  ): 'arrive' | 'finish' | undefined | Promise<'arrive' | 'finish' | undefined>;
}

/** A connection from a child, and the life it runs (0 while it is a standby). */
interface Link {
  life: number;
  peer: Peer;
}

/** A spawned child, its code loaded, waiting for `go`. */
interface Standby {
  readonly child: ChildProcess;
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
  readonly hello: Promise<Link>;
}

/**
 * Lab computers instead of the memory lab: their machines outlive the manager by nature, so the
 * modules run in the manager's process (each life's), tapped: every operation is announced to the
 * server before it starts and reported when it ends, so the call log and the kill policies work
 * as with the memory lab, without a relay.
 */
export interface CrashLabComputers {
  /** The install directory, the (tapped) modules in place; the caller removes it. */
  readonly install: InstallDir;
  /** The manager's config file (written as `lab/vlab.yaml` in the install directory). */
  readonly configText: string;
  /** More environment of every life: what the config's secret references read. */
  readonly env: Readonly<Record<string, string>>;
}

const NO_KILLS: KillPolicy = { atStep: () => false, atCall: () => undefined };

const CONFIG = (labId: string) => `lab: crash
dataDir: ./data
installDir: ..
database: { url: { env: VLAB_TEST_DATABASE_URL } }
osModules:
  linux: { package: memory-os }
provisioners:
  mem: { package: memory-provisioner, settings: { lab: ${labId} } }
pools:
  - provisioner: mem
    credentials: { bmc: { env: VLAB_MEMORY_BMC_PASSWORD } }
    computers:
      - { name: c1, hostname: c1.lab.test, addresses: { management: 192.0.2.10 } }
      - { name: c2, hostname: c2.lab.test, addresses: { management: 192.0.2.11 } }
      - { name: c3, hostname: c3.lab.test, addresses: { management: 192.0.2.12 } }
images:
  - { name: base, osFamily: linux, owner: alice, newRevisionTest: auto }
`;

/**
 * The machines that outlive the manager: a memory lab and the real fixture modules in the test's
 * process, reached by the manager (a child process, one per life) over a unix socket. An operation
 * in flight when a life is killed runs on to its end here, as a machine keeps booting; the next
 * life's operations on that computer wait for it (the machine is busy until then).
 */
export class CrashLab {
  readonly lab: MemoryLab = createMemoryLab({ computers: ['c1', 'c2', 'c3'] });
  readonly calls: ModuleCall[] = [];
  readonly steps: StepDone[] = [];
  /** Standard error of every life. */
  readonly stderr: string[] = [];
  policy: KillPolicy = NO_KILLS;
  /** How many lives were killed. */
  kills = 0;
  /** Where each kill happened, in words. */
  readonly killLog: string[] = [];
  life = 0;
  #install!: InstallDir;
  #dir!: string;
  #server!: Server;
  #os!: OsModule;
  #provisioner!: Provisioner;
  #child: ChildProcess | undefined;
  #ready: Promise<Peer> | undefined;
  #readyResolve: ((peer: Peer) => void) | undefined;
  #callsThisLife = 0;
  #apiInFlight = 0;
  #apiIdle: (() => void)[] = [];
  /** The kill under way: the life it kills, and its end (that life killed, the next one up). */
  #killing: { readonly life: number; readonly done: Promise<void> } | undefined;
  #busy = new Map<string, Set<{ life: number; done: Promise<unknown> }>>();
  /** Calls waiting for a machine an earlier life's call still keeps busy. */
  readonly #waiting = new Set<string>();
  #url = '';
  #bundle = '';
  #bundleDir = '';
  #configPath = '';
  #exits: Promise<unknown>[] = [];
  #standby: Standby | undefined;
  readonly #hellos = new Map<number, (link: Link) => void>();
  /** Tapped calls running in a life, by id, with the policy's decision. */
  readonly #tapped = new Map<number, { call: ModuleCall; decision: 'finish' | undefined }>();

  /** Without `computers`: the memory lab of this process. */
  constructor(readonly computers?: CrashLabComputers) {}

  /** The lab server's view, for a failure message: the last calls, and whether each finished. */
  describe(): string {
    const waiting =
      this.#waiting.size === 0
        ? ''
        : `waiting for a busy machine: ${[...this.#waiting].join(', ')}; `;
    return (
      waiting +
      this.calls
        .slice(-12)
        .map(
          (c) =>
            `life ${c.life} #${c.index} ${c.kind}.${c.op} on ${c.computer} (${c.workflowId}#${c.stepId}) ${c.finishedAt === undefined ? 'RUNNING' : c.error === undefined ? 'ok' : `failed: ${c.error.slice(0, 120)}`}`,
        )
        .join('; ')
    );
  }

  /** The memory lab's machines and store, for the invariants (its image: `base`). */
  machines(): MachineView {
    const { lab } = this;
    return {
      image: 'base',
      stored: async (revision) => lab.images.has(imageKey('base', revision)),
      // The memory provisioner writes a capture as `.partial-<image>` until it publishes it.
      leftovers: async () => [...lab.images.keys()].filter((key) => key.startsWith('.partial-')),
      stamp: async (computer) => {
        const text = lab.machine(computer).files.get(IMAGE_STAMP_PATHS.posix)?.toString('utf8');
        return text === undefined ? undefined : parseStamp(text, computer);
      },
      notRunning: async (computer) => {
        const { power } = lab.machine(computer);
        return power === 'on' ? undefined : `its power is ${power}`;
      },
    };
  }

  /** Appends a line to the file VLAB_CRASH_TRACE names, if set (to follow a long run). */
  trace(line: string): void {
    const file = process.env['VLAB_CRASH_TRACE'];
    if (file !== undefined) appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
  }

  async setup(url: Secret): Promise<void> {
    this.#url = url.reveal();
    if (this.computers !== undefined) {
      this.#install = this.computers.install;
      this.#configPath = await this.#install.write('lab/vlab.yaml', this.computers.configText);
    } else await this.#setupMemoryLab();
    this.#dir = await mkdtemp(join(tmpdir(), 'vlab-crash-'));
    await this.#serve();
  }

  /** The memory lab's modules (in this process) and the proxies the manager loads. */
  async #setupMemoryLab(): Promise<void> {
    const records = createLogger(() => {});
    const deps = { log: records, secrets: this.lab.secretResolver() };
    this.#os = await instantiateOsModule(memoryOsModule, {}, deps);
    this.#provisioner = await instantiateProvisioner(memoryProvisioner, { lab: this.lab.id }, deps);
    this.#install = await makeInstallDir();
    await chmod(this.#install.dir, 0o711);
    await this.#install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
    await this.#install.addPackage('memory-os', { files: { 'index.js': PROXY_OS_SOURCE } });
    await this.#install.addPackage('memory-provisioner', {
      files: { 'index.js': PROXY_PROVISIONER_SOURCE },
    });
    this.#configPath = await this.#install.write('lab/vlab.yaml', CONFIG(this.lab.id));
  }

  /** The rest of {@link setup}: the server and the child's bundle. */
  async #serve(): Promise<void> {
    await this.#build();
    this.#server = createServer((socket) => {
      // A spawned child says hello with its pid and waits as a standby; its life is given at `go`.
      const link: Link = { life: 0, peer: undefined as unknown as Peer };
      link.peer = new Peer(
        socket,
        (method, params): Promise<Wire> => this.#handle(link, method, params),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(join(this.#dir, 'lab.sock'), resolve);
    });
  }

  /**
   * Bundles the child (the manager's src and manager-child.ts, its packages left external) once,
   * into a directory of apps/manager so they resolve: a life then starts without a TypeScript
   * loader, which took seconds per start. esbuild is tsx's (a devDependency).
   */
  async #build(): Promise<void> {
    const root = join(here, '../..');
    await mkdir(join(root, 'node_modules/.cache'), { recursive: true });
    this.#bundleDir = await mkdtemp(join(root, 'node_modules/.cache/vlab-crash-'));
    this.#bundle = join(this.#bundleDir, 'manager-child.mjs');
    const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx'))('esbuild') as {
      build(options: Record<string, unknown>): Promise<unknown>;
    };
    await esbuild.build({
      entryPoints: [join(here, 'manager-child.ts')],
      outfile: this.#bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'error',
    });
  }

  /**
   * Spawns a child that loads the manager's code and waits (a standby), so a restart only pays
   * for `createManager`: Node's module loading took a second or more of each start.
   */
  #spawn(): Standby {
    const child = spawn(process.execPath, ['--enable-source-maps', this.#bundle], {
      cwd: join(here, '../..'),
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        VLAB_CRASH_SOCKET: join(this.#dir, 'lab.sock'),
        VLAB_CRASH_CONFIG: this.#configPath,
        VLAB_TEST_DATABASE_URL: this.#url,
        ...this.lab.secretEnv,
        ...(this.computers === undefined
          ? {}
          : { ...this.computers.env, VLAB_CRASH_MODULES: 'child' }),
      },
    });
    const standby: Standby = {
      child,
      stderr: [],
      exited: new Promise<number | null>((resolve) => child.once('exit', resolve)),
      hello: new Promise<Link>((resolve) => this.#hellos.set(child.pid ?? -1, resolve)),
    };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => standby.stderr.push(text));
    return standby;
  }

  /** Starts the next life and waits until its manager runs; fails loudly when it cannot start. */
  async start(): Promise<void> {
    this.life += 1;
    const life = this.life;
    this.#callsThisLife = 0;
    this.#ready = new Promise((resolve) => {
      this.#readyResolve = resolve;
    });
    const standby = this.#standby ?? this.#spawn();
    this.#standby = undefined;
    this.#child = standby.child;
    this.#exits.push(standby.exited);
    const spawnedAt = Date.now();
    const failed = (outcome: unknown) => {
      standby.child.kill('SIGKILL');
      return new Error(
        `life ${life}: the manager did not start (${JSON.stringify(outcome)}): ${standby.stderr.join('')}`,
      );
    };
    const timeout = new Promise((resolve) =>
      setTimeout(() => resolve({ timeout: true }), 90_000).unref(),
    );
    const exited = standby.exited.then((code) => ({ code }));
    const hello = await Promise.race([standby.hello, exited, timeout]);
    if (!(typeof hello === 'object' && hello !== null && 'peer' in hello)) throw failed(hello);
    const link = hello as Link;
    link.life = life;
    this.stderr.push(...standby.stderr.map((text) => `[life ${life}] ${text}`));
    standby.child.stderr?.on('data', (text: string) => this.stderr.push(`[life ${life}] ${text}`));
    void link.peer.call('go', null).catch(() => {});
    const outcome = await Promise.race([this.#ready, exited, timeout]);
    this.trace(`life ${life} ready in ${Date.now() - spawnedAt} ms`);
    if (!(outcome instanceof Peer)) throw failed(outcome);
    this.#standby = this.#spawn();
  }

  /** Calls the running manager's API (no kill happens while a call is in flight). */
  async api(method: string, params: unknown): Promise<unknown> {
    for (;;) {
      if (this.#killing !== undefined) await this.#killing.done;
      const peer = await this.#ready;
      if (peer === undefined || peer.closed) throw new Error('no manager runs');
      if (this.#killing !== undefined) continue;
      this.#apiInFlight += 1;
      try {
        return decode(await peer.call(method, encode(params)), (v, l) => new Secret(v, l));
      } finally {
        this.#apiInFlight -= 1;
        if (this.#apiInFlight === 0) for (const wake of this.#apiIdle.splice(0)) wake();
      }
    }
  }

  /** Waits until the current life was killed and the next one runs (the restart). */
  async settled(): Promise<void> {
    while (this.#killing !== undefined) await this.#killing.done;
  }

  /**
   * SIGKILLs the current life (once no API call is in flight) and starts the next one. A life
   * reports steps while it starts (DBOS recovers workflows before `createManager` resolves), so a
   * kill may be wanted for the life the previous kill is starting: it runs once that one is up.
   */
  #kill(where: string): Promise<void> {
    const life = this.life;
    if (this.#killing?.life === life) return this.#killing.done;
    const previous = this.#killing?.done;
    const done = (async () => {
      await previous;
      if (this.#apiInFlight > 0) await new Promise<void>((resolve) => this.#apiIdle.push(resolve));
      const child = this.#child;
      const exited = this.#exits.at(-1);
      child?.kill('SIGKILL');
      await exited;
      this.kills += 1;
      this.trace(`kill ${this.kills}, life ${life}: ${where}`);
      this.killLog.push(`life ${life}: ${where}`);
      await this.start();
    })().finally(() => {
      if (this.#killing?.done === done) this.#killing = undefined;
    });
    this.#killing = { life, done };
    return done;
  }

  /**
   * SIGKILLs life `life` now if it still runs and no kill is under way (a kill at a moment a
   * policy chose, inside a step), and starts the next one. Whether it killed.
   */
  killNow(life: number, where: string): boolean {
    if (life !== this.life || this.#killing !== undefined) return false;
    void this.#kill(where);
    return true;
  }

  /** Stops the running life (SIGKILL too: the database keeps what it wrote). */
  async stop(): Promise<void> {
    await this.settled();
    this.#child?.kill('SIGKILL');
    await this.#exits.at(-1);
    this.#ready = undefined;
    this.#standby?.child.kill('SIGKILL');
    await this.#standby?.exited;
    this.#standby = undefined;
  }

  async cleanup(): Promise<void> {
    await this.stop().catch(() => {});
    await new Promise((resolve) => this.#server?.close(resolve));
    if (this.computers === undefined) await this.#install?.remove();
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    if (this.#bundleDir !== '') await rm(this.#bundleDir, { recursive: true, force: true });
    this.lab.dispose();
  }

  async #handle(link: Link, method: string, params: Wire): Promise<Wire> {
    const p = decode(params, (v, l) => new Secret(v, l)) as Record<string, unknown>;
    if (method === 'hello') {
      this.#hellos.get(p['pid'] as number)?.(link);
      this.#hellos.delete(p['pid'] as number);
      return null;
    }
    const { life, peer } = link;
    if (method === 'ready') {
      this.trace(`life ${life}: ${JSON.stringify(p)}`);
      if (life === this.life) this.#readyResolve?.(peer);
      return null;
    }
    if (method === 'step') {
      const step: StepDone = {
        life,
        step: p['step'] as string,
        reservationId: p['reservationId'] as string | undefined,
        computer: p['computer'] as string | undefined,
        workflowId: p['workflowId'] as string,
        stepId: p['stepId'] as number,
      };
      this.steps.push(step);
      if (life === this.life && (await this.policy.atStep(step))) {
        await this.#kill(`after step ${step.workflowId}#${step.stepId} ${step.step}`);
        return new Promise(() => {});
      }
      return null;
    }
    if (method === 'module') return this.#module(life, p);
    if (method === 'module-done') return this.#moduleDone(life, p);
    throw new Error(`lab server: no method ${method}`);
  }

  async #module(life: number, p: Record<string, unknown>): Promise<Wire> {
    const kind = p['kind'] as 'os' | 'provisioner';
    const op = p['op'] as string;
    const info = p['ctx'] as {
      phase?: string;
      remainingMs?: number;
      computer?: { name: string };
      image?: { name: string; revision: number };
      reservation?: { id: string };
    };
    const args = p['args'] as unknown[];
    const computer = info.computer?.name;
    const target = (args[0] ?? {}) as { image?: string; revision?: number };
    const image =
      op === 'load' && target.image !== undefined
        ? `${target.image}@${target.revision}`
        : info.image === undefined
          ? undefined
          : `${info.image.name}@${info.image.revision}`;
    const call: ModuleCall = {
      life,
      index: life === this.life ? ++this.#callsThisLife : 0,
      kind,
      op,
      computer,
      reservation: info.reservation?.id,
      image,
      args,
      workflowId: (p['step'] as { workflowId?: string } | undefined)?.workflowId,
      stepId: (p['step'] as { stepId?: number } | undefined)?.stepId,
      startedAt: Date.now(),
    };
    const decision = life === this.life ? await this.policy.atCall(call) : undefined;
    if (decision === 'arrive') {
      await this.#kill(`at the arrival of call ${call.index}: ${kind}.${op} on ${computer}`);
      return new Promise(() => {});
    }
    if (this.computers !== undefined) {
      // Tapped: the life runs it and reports its end (`module-done`).
      this.calls.push(call);
      this.#tapped.set(this.calls.length, { call, decision });
      return { id: this.calls.length };
    }
    // The machine is busy with what a killed life left running until it is done.
    if (computer !== undefined) {
      const waiting = `life ${life} ${kind}.${op} on ${computer}`;
      this.#waiting.add(waiting);
      for (const earlier of [...(this.#busy.get(computer) ?? [])])
        if (earlier.life < life) await earlier.done;
      this.#waiting.delete(waiting);
    }
    this.calls.push(call);
    const run = this.#run(kind, op, info, args);
    const entry = { life, done: run.catch(() => {}) };
    if (computer !== undefined) {
      const set = this.#busy.get(computer) ?? new Set();
      set.add(entry);
      this.#busy.set(computer, set);
      void entry.done.then(() => set.delete(entry));
    }
    try {
      const result = await run;
      call.finishedAt = Date.now();
      if (decision === 'finish') {
        await this.#kill(`after call ${call.index} ran: ${kind}.${op} on ${computer}`);
        return new Promise(() => {});
      }
      return encode(result);
    } catch (error) {
      call.finishedAt = Date.now();
      call.error = error instanceof Error ? error.message : String(error);
      if (decision === 'finish') {
        await this.#kill(`after call ${call.index} failed: ${kind}.${op} on ${computer}`);
        return new Promise(() => {});
      }
      throw error;
    }
  }

  /** A tapped call ended in its life: its end, and the kill the policy chose for it. */
  async #moduleDone(life: number, p: Record<string, unknown>): Promise<Wire> {
    const entry = this.#tapped.get(p['id'] as number);
    this.#tapped.delete(p['id'] as number);
    if (entry === undefined) throw new Error(`lab server: no tapped call ${String(p['id'])}`);
    const { call, decision } = entry;
    call.finishedAt = Date.now();
    if (typeof p['error'] === 'string') call.error = p['error'];
    if (decision === 'finish' && life === this.life) {
      await this.#kill(
        `after call ${call.index} ${call.error === undefined ? 'ran' : 'failed'}: ${call.kind}.${call.op} on ${call.computer}`,
      );
      return new Promise(() => {});
    }
    return null;
  }

  #run(
    kind: 'os' | 'provisioner',
    op: string,
    info: {
      phase?: string;
      remainingMs?: number;
      computer?: { name: string };
      image?: { name: string; revision: number };
      reservation?: { id: string };
    },
    args: unknown[],
  ): Promise<unknown> {
    // Nothing cancels it: the operation runs to its end whatever happens to the manager.
    const base = {
      log: createLogger(() => {}),
      deadline: Date.now() + (info.remainingMs ?? 600_000),
      signal: new AbortController().signal,
      phase: info.phase ?? op,
      secrets: this.lab.secretResolver(),
    };
    const module = (kind === 'os' ? this.#os : this.#provisioner) as unknown as Record<
      string,
      (...a: unknown[]) => Promise<unknown>
    >;
    const fn = module[op];
    if (typeof fn !== 'function') return Promise.reject(new Error(`no operation ${kind}.${op}`));
    if (info.computer === undefined) return fn.call(module, createOperationContext(base), ...args);
    const name = info.computer.name;
    const computerInit = {
      ...base,
      computer: info.computer as never,
      image: info.image as never,
      reservation: info.reservation as never,
    };
    const withMachine = {
      ...computerInit,
      communicator: this.lab.communicator(name),
      power: this.lab.powerProbe(name),
    };
    const ctx =
      kind === 'os'
        ? createOsContext(withMachine)
        : ['load', 'capture', 'nodeStatus', 'release'].includes(op)
          ? createProvisionerContext({ ...withMachine, os: this.#os })
          : createComputerContext(computerInit);
    return fn.call(module, ctx, ...args);
  }
}
