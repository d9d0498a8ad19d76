import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createSecretResolver, type LogRecord, type Secret } from '@vlab/core';
import { createMemoryLab, type MemoryLab } from '@vlab/core/testing';
import type { ReservationStatus } from '../src/engine/reservations.js';
import { type CreateManagerOptions, createManager, type Manager } from '../src/manager.js';
import {
  freshDatabase,
  query,
  startTestPostgres,
  type TestPostgres,
} from './database/lab-postgres.js';
import { type InstallDir, makeInstallDir, WORKSPACE } from './install-dir.js';
import { poll } from './poll.js';

/**
 * A manager on the memory lab's fixture modules (installed in a temporary install directory) and
 * a real PostgreSQL the test starts, external to the manager, so the test can read and move rows.
 * Computers c1 and c2 work; c3's BMC password is wrong, so every load on it fails.
 */
export interface MemoryLabManager {
  readonly lab: MemoryLab;
  /** The database's url. */
  readonly url: Secret;
  /** Every log record of every manager started here. */
  readonly records: LogRecord[];
  /** The running manager (throws when none runs). */
  readonly manager: Manager;
  /** Starts a manager (after `stop`, the same data directory and database: a restart). */
  start(options?: Pick<CreateManagerOptions, 'onStepDone'>): Promise<Manager>;
  /** Closes the running manager, if one runs. */
  stop(): Promise<void>;
  /** Runs one SQL statement on the manager's database. */
  sql<Row extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  /** Stops everything and removes the temporary directories. */
  cleanup(): Promise<void>;
}

const CONFIG = (labId: string, newRevisionTest: string, policies: string) => `lab: demo
policies: ${policies}
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
      # Its BMC password is wrong: every load fails.
      - name: c3
        hostname: c3.lab.test
        addresses: { management: 192.0.2.12 }
        credentials: { bmc: { env: VLAB_TEST_WRONG_BMC_PASSWORD } }
images:
  - { name: base, osFamily: linux, owner: alice, newRevisionTest: ${newRevisionTest} }
`;

/** Sets up the lab, the install directory and PostgreSQL, starts a manager, registers alice (admin) and bob. */
export async function startMemoryLabManager(
  name: string,
  options: {
    readonly newRevisionTest?: 'auto' | 'manual' | 'off';
    /** The configuration's `policies`, as a YAML flow mapping. Default: `{}`. */
    readonly policies?: string;
    /**
     * The `index.js` of the package the configuration names as provisioner `mem` (a test wraps
     * the memory provisioner in it to add a debug hook). Default: the memory provisioner as it is.
     */
    readonly provisionerSource?: string;
  } = {},
): Promise<MemoryLabManager> {
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));
  const lab = createMemoryLab({ computers: ['c1', 'c2', 'c3'] });
  const install: InstallDir = await makeInstallDir();
  // PostgreSQL is external here, but the manager's data directory must still be reachable.
  await chmod(install.dir, 0o711);
  await install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
  await install.addPackage('memory-os', {
    files: { 'index.js': "export { memoryOsModule as default } from '@vlab/fixture-modules';\n" },
  });
  await install.addPackage('memory-provisioner', {
    files: {
      'index.js':
        options.provisionerSource ??
        "export { memoryProvisioner as default } from '@vlab/fixture-modules';\n",
    },
  });
  const postgres: TestPostgres = await startTestPostgres(name);
  const url = await freshDatabase(postgres.server.url, name.replaceAll('-', '_'));
  const configPath = await install.write(
    'lab/vlab.yaml',
    CONFIG(lab.id, options.newRevisionTest ?? 'auto', options.policies ?? '{}'),
  );
  let running: Manager | undefined;

  const fixture: MemoryLabManager = {
    lab,
    url,
    records,
    get manager() {
      if (running === undefined) throw new Error('no manager runs');
      return running;
    },
    async start(options = {}) {
      running = await createManager({
        configPath,
        log,
        secrets: createSecretResolver({
          env: {
            ...lab.secretEnv,
            VLAB_TEST_DATABASE_URL: url.reveal(),
            VLAB_TEST_WRONG_BMC_PASSWORD: 'not-the-password',
          },
        }),
        communicators: async (computer) => lab.communicator(computer.name),
        managerId: 'test-manager',
        ...options,
      });
      return running;
    },
    async stop() {
      await running?.close();
      running = undefined;
    },
    sql: (text, values = []) => query(url, text, values),
    async cleanup() {
      await fixture.stop();
      await postgres.cleanup();
      await install.remove();
      lab.dispose();
    },
  };
  const m = await fixture.start();
  await m.users.add({ login: 'alice', role: 'admin' });
  await m.users.add({ login: 'bob', role: 'user' });
  return fixture;
}

/**
 * Asks `probe` again and again until it returns a value, and returns it. The workflows run on
 * their own, so a test follows their effects; the pause only paces the questions, and the 60 s
 * bound only turns a hang into a failure that says what was last seen (`last`).
 */
export function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  last: () => Promise<string> | string,
): Promise<T> {
  return poll(probe, last, { boundMs: 60_000, pauseMs: 50 });
}

/** Follows the reservation until it is in one of `states` (its workflow runs on its own). */
export async function untilState(
  m: Manager,
  id: string,
  states: readonly ReservationStatus['state'][],
): Promise<ReservationStatus> {
  return pollUntil(
    async () => {
      const status = await m.reservations.get(id);
      return status !== undefined && states.includes(status.state) ? status : undefined;
    },
    async () =>
      `reservation ${id} is ${(await m.reservations.get(id))?.state}, not ${states.join(' or ')}`,
  );
}

/** The reservation's events as `kind:outcome`, oldest first. */
export async function stepsOf(m: Manager, reservationId: string): Promise<string[]> {
  return (await m.events({ reservationId, limit: 1000 })).map((e) => `${e.kind}:${e.outcome}`);
}

/** Follows a reservation's events until `done` says so. */
export async function untilSteps(
  m: Manager,
  id: string,
  done: (steps: string[]) => boolean,
): Promise<string[]> {
  return pollUntil(
    async () => {
      const steps = await stepsOf(m, id);
      return done(steps) ? steps : undefined;
    },
    async () => `reservation ${id}: events ${(await stepsOf(m, id)).join(', ')}`,
  );
}

/** Requests image `base` (revision: the newest in production) for `logins` (default bob). */
export function requestBase(
  m: Manager,
  requestId: string,
  options: {
    readonly computer?: string;
    readonly logins?: readonly string[];
    readonly minutes?: number;
  } = {},
): Promise<ReservationStatus> {
  return m.reservations.request({
    requestId,
    image: 'base',
    minutes: options.minutes ?? 30,
    logins: options.logins ?? ['bob'],
    computer: options.computer,
  });
}
