import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger, createSecretResolver, type LogRecord, Secret } from '@vlab/core';
import { hostKeyId, SshPool } from '@vlab/ssh';
import type { Lab, LabHarness } from '@vlab/testlab';
import { labConfigText as sharedLabConfigText } from '../scripts/demo/lab-config.js';
import {
  type ComputerStatus,
  createManager,
  type Manager,
  type ReservationStatus,
  type RevisionStatus,
} from '../src/index.js';
import {
  freshDatabase,
  query,
  startTestPostgres,
  type TestPostgres,
} from './database/lab-postgres.js';
import type { InstallDir } from './install-dir.js';
import { poll } from './poll.js';
import { failAfterCleanup, LAB_IMAGE, type SeededLab, startSeededLab } from './seeded-lab.js';

const run = promisify(execFile);

export { LAB_IMAGE };

/**
 * The manager on real lab computers: `@vlab/testlab` computers (systemd-nspawn, ipmi_sim BMCs,
 * PXE deploy environment), the real `@vlab/os-linux` and `@vlab/provisioner-baremetal` installed
 * in a temporary install directory, the manager's default SSH communicators, and an external
 * PostgreSQL the test starts.
 */
export interface TestlabManager {
  readonly lab: Lab;
  /** The harness of each computer (to look at machines from outside, never to drive them). */
  readonly harnesses: ReadonlyMap<string, LabHarness>;
  /** The install directory (the config file is `lab/vlab.yaml` in it). */
  readonly install: InstallDir;
  /** The image store's directory (the provisioner's `store.path`). */
  readonly storeDir: string;
  /** The config file the manager runs. */
  readonly configText: string;
  /** The environment the manager's secret resolver reads. */
  readonly secretEnv: Readonly<Record<string, string>>;
  readonly records: LogRecord[];
  /** The running manager (throws when none runs). */
  readonly manager: Manager;
  /** The users' private SSH key (its public half is alice's and bob's only key). */
  readonly userKey: Secret;
  /** Its file (mode 0600), for OpenSSH. */
  readonly userKeyPath: string;
  harness(name: string): LabHarness;
  /** Runs a command on `computer` over real SSH as `login` (user key; host key checked against the manager's pins). */
  sshAs(
    login: string,
    computer: string,
    argv: readonly string[],
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes a file as root on `computer` (management key over SSH, pinned by the manager). */
  writeAsRoot(computer: string, path: string, text: string): Promise<void>;
  sql<Row extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  stop(): Promise<void>;
  /** Stops everything, takes the lab down and returns what was left behind (should be `[]`). */
  cleanup(): Promise<string[]>;
}

/** The manager's config for the lab's computers, as an operator would write it. */
export function labConfigText(
  lab: Lab,
  storeDir: string,
  newRevisionTest: 'auto' | 'manual' | 'off' = 'auto',
): string {
  return sharedLabConfigText(lab, {
    lab: 'testlab',
    dataDir: './data',
    installDir: '..',
    database: '{ url: { env: VLAB_TEST_DATABASE_URL } }',
    storeDir,
    imageOwner: 'alice',
    newRevisionTest,
    bmcPasswordEnv: (computer) => `VLAB_TEST_BMC_PASSWORD_${computer.toUpperCase()}`,
  });
}

/**
 * Starts a lab of `computers`, seeds the store with the lab's base image (the one direct module
 * call: the manager syncs the store's revisions when it starts), installs the real modules,
 * starts PostgreSQL and a manager, and registers alice (admin) and bob (user) with one SSH key.
 * Throws, never skips, when any of it cannot start.
 */
export async function startTestlabManager(
  name: string,
  computers: readonly string[],
): Promise<TestlabManager> {
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  let seeded: SeededLab | undefined;
  let postgres: TestPostgres | undefined;
  let running: Manager | undefined;
  const pool = { current: undefined as SshPool | undefined };

  const cleanup = async (): Promise<string[]> => {
    await running?.close();
    running = undefined;
    await pool.current?.close();
    await postgres?.cleanup();
    return (await seeded?.down()) ?? [];
  };

  try {
    seeded = await startSeededLab(computers, { clients: 2 });
    const { lab, storeDir, install, harnesses } = seeded;
    const keyPath = join(install.dir, 'user_ed25519');
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'vlab-test-user',
      '-f',
      keyPath,
    ]);
    const userPublicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();
    const userKey = new Secret(await readFile(keyPath, 'utf8'), 'the users key');

    postgres = await startTestPostgres(name);
    const url = await freshDatabase(postgres.server.url, name.replaceAll('-', '_'));
    const configText = labConfigText(lab, storeDir);
    const configPath = await install.write('lab/vlab.yaml', configText);
    const secretEnv: Record<string, string> = {
      VLAB_TEST_DATABASE_URL: url.reveal(),
      ...seeded.bmcPasswordEnv,
    };

    running = await createManager({
      configPath,
      log,
      secrets: createSecretResolver({ env: secretEnv }),
      managerId: 'testlab-manager',
    });
    // alice may connect from client1 only; bob from anywhere (no allowFrom).
    const client1 = lab.clients[0]?.ip as string;
    await running.users.add({
      login: 'alice',
      role: 'admin',
      sshKeys: [userPublicKey],
      allowFrom: [client1],
    });
    await running.users.add({ login: 'bob', role: 'user', sshKeys: [userPublicKey] });

    const started = lab;
    const { harness } = seeded;
    const fixture: TestlabManager = {
      lab: started,
      harnesses,
      install,
      storeDir,
      configText,
      secretEnv,
      records,
      userKey,
      userKeyPath: keyPath,
      get manager() {
        if (running === undefined) throw new Error('no manager runs');
        return running;
      },
      harness,
      async sshAs(login, computer, argv) {
        // A pool per call: the provisioner re-pins the host keys at every load.
        const ssh = new SshPool({ hostKeys: fixture.manager.hostKeys, unknownHostKey: 'refuse' });
        pool.current = ssh;
        try {
          const client = ssh.client({
            host: started.computer(computer).ip,
            user: login,
            auth: { kind: 'key', privateKey: userKey },
            computer,
          });
          const out = await client.exec(argv, { timeoutMs: 60_000 });
          return {
            code: out.code,
            stdout: out.stdout.toString('utf8'),
            stderr: out.stderr.toString('utf8'),
          };
        } finally {
          pool.current = undefined;
          await ssh.close();
        }
      },
      async writeAsRoot(computer, path, text) {
        const ssh = new SshPool({ hostKeys: fixture.manager.hostKeys, unknownHostKey: 'refuse' });
        pool.current = ssh;
        try {
          const management = new Secret(
            await readFile(started.managementKey.path, 'utf8'),
            'management key',
          );
          const client = ssh.client({
            host: started.computer(computer).ip,
            user: 'root',
            auth: { kind: 'key', privateKey: management },
            computer,
          });
          // The path is an argument (quoted by the client), never pasted into the script.
          const write = 'cat >"$1" && chmod 0644 "$1" && sync';
          await client.execChecked(['sh', '-c', write, 'write-as-root', path], {
            stdin: Buffer.from(text),
          });
        } finally {
          pool.current = undefined;
          await ssh.close();
        }
      },
      sql: (text, values = []) => query(url, text, values),
      async stop() {
        await running?.close();
        running = undefined;
      },
      cleanup,
    };
    return fixture;
  } catch (error) {
    return failAfterCleanup(error, cleanup);
  }
}

/** The manager's host key pin id of a lab computer. */
export function pinId(fixture: TestlabManager, computer: string): string {
  return hostKeyId(fixture.lab.computer(computer).ip);
}

/**
 * Asks `probe` until it returns a value. Real machines load in minutes: the bound (default
 * 15 min) only turns a hang into a failure that says what was last seen; the pause paces the
 * questions.
 */
export function pollLong<T>(
  probe: () => Promise<T | undefined>,
  last: () => Promise<string> | string,
  boundMs = 15 * 60_000,
): Promise<T> {
  return poll(probe, last, { boundMs, pauseMs: 1000 });
}

/** The reservation's events as `kind:outcome`, oldest first. */
export async function eventsOf(m: Manager, reservationId: string): Promise<string[]> {
  return (await m.events({ reservationId, limit: 1000 })).map((e) => `${e.kind}:${e.outcome}`);
}

/** Follows the reservation until it is in one of `states`. */
export function reservationIn(
  m: Manager,
  id: string,
  states: readonly ReservationStatus['state'][],
): Promise<ReservationStatus> {
  return pollLong(
    async () => {
      const status = await m.reservations.get(id);
      return status !== undefined && states.includes(status.state) ? status : undefined;
    },
    async () => {
      const status = await m.reservations.get(id);
      return `reservation ${id} is ${status?.state} (${status?.endReason ?? ''}), not ${states.join(' or ')}; events ${(await eventsOf(m, id)).join(', ')}`;
    },
  );
}

/** The revisions of the lab image. */
export async function revisionsOf(m: Manager): Promise<readonly RevisionStatus[]> {
  return (await m.images.get(LAB_IMAGE))?.revisions ?? [];
}

/** Follows revision `revision` of the lab image until it is in one of `states`. */
export function revisionIn(
  m: Manager,
  revision: number,
  states: readonly RevisionStatus['state'][],
): Promise<RevisionStatus> {
  const find = async () => (await revisionsOf(m)).find((r) => r.revision === revision);
  return pollLong(
    async () => {
      const found = await find();
      return found !== undefined && states.includes(found.state) ? found : undefined;
    },
    async () => `${LAB_IMAGE} revision ${revision} is ${JSON.stringify(await find())}`,
  );
}

/** Follows the computer until `done` says so. */
export function computerWhere(
  m: Manager,
  name: string,
  done: (c: ComputerStatus) => boolean,
  what: string,
): Promise<ComputerStatus> {
  const find = () => m.computers.get(name);
  return pollLong(
    async () => {
      const found = await find();
      return found !== undefined && done(found) ? found : undefined;
    },
    async () => `computer ${name} is not ${what}: ${JSON.stringify(await find())}`,
  );
}
