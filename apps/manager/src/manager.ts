import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  coreError,
  createLogger,
  createSecretResolver,
  type Logger,
  type Secret,
  type SecretResolver,
} from '@vlab/core';
import { readManagerConfig } from './config/config-file.js';
import type { ManagerConfig } from './config/manager-config.js';
import { type LabDatabaseHandle, openDatabase } from './database/database.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './database/embedded-postgres.js';
import { EventAnnouncements } from './database/event-announcements.js';
import { type EventQuery, type LabEvent, listEvents } from './database/events.js';
import { type FollowQuery, followEvents } from './database/follow-events.js';
import { type HostKeyPins, PostgresHostKeyStore } from './database/host-key-store.js';
import { type LabUsers, UserRegistry } from './database/users.js';
import { type CommunicatorFactory, ComputerAccess } from './engine/computer-access.js';
import { type LabComputers, labComputers } from './engine/computers.js';
import type { Engine, StepObserver } from './engine/engine.js';
import { type LabImages, labImages } from './engine/images.js';
import { ProgressRecorder } from './engine/progress-recorder.js';
import { type LabReservations, labReservations } from './engine/reservations.js';
import { sshCommunicators } from './engine/ssh-communicators.js';
import { startWorkflowRuntime } from './engine/workflow-runtime.js';
import { ApiTokenStore, type ApiTokens } from './http/api-tokens.js';
import { pinoSink } from './logging/pino-sink.js';
import {
  type ComposedModules,
  composeModules,
  type LoadedModuleInfo,
} from './modules/compose-modules.js';
import { createSecretKeyFile, loadSecretKey, type SecretKey } from './secrets/secret-box.js';
import { usersWithConfiguredImages } from './state/configured-owners.js';
import { type InventoryChanges, syncInventory } from './state/inventory.js';
import { syncRevisions } from './state/revisions.js';

/** Options of {@link createManager}. @public */
export interface CreateManagerOptions {
  /** The manager's configuration file (YAML); see docs/manager.md. */
  readonly configPath: string;
  /**
   * Where the manager and the modules log. Default: pino on stderr, one JSON line per record (a
   * readable line when stderr is a terminal; `VLAB_LOG_FORMAT=json|pretty` chooses), from the
   * level `VLAB_LOG_LEVEL` names (`debug`, `info`, `warn`, `error`; default `info`), fields named
   * like secrets and every `Secret` printed as `[redacted]`.
   */
  readonly log?: Logger | undefined;
  /**
   * Resolves the secret references of the configuration and of the computers. Default: this
   * process's environment variables and files.
   */
  readonly secrets?: SecretResolver | undefined;
  /**
   * Makes the communicator through which the OS modules reach each computer. Default: SSH from
   * `@vlab/ssh`, with the host-key pins in the database.
   */
  readonly communicators?: CommunicatorFactory | undefined;
  /**
   * This manager's id among the managers sharing the database: a manager recovers the unfinished
   * workflows of its own id when it starts. Default: the host name.
   */
  readonly managerId?: string | undefined;
  /**
   * Sees each workflow step once its work is done, before its outcome is checkpointed (the step
   * waits for it): for tracing and fault injection. Default: none.
   */
  readonly onStepDone?: StepObserver | undefined;
}

/** A running manager. @public */
export interface Manager {
  /** The configuration it runs, validated, every path absolute. */
  readonly config: ManagerConfig;
  /** The lab's users: whom reservations are made for. */
  readonly users: LabUsers;
  /** The HTTP API's bearer tokens, each acting for one of the users. */
  readonly apiTokens: ApiTokens;
  /** Where the manager logs. */
  readonly log: Logger;
  /**
   * The SSH host-key pins of every computer, in the database: they survive restarts and are
   * shared by the managers of the lab (a `HostKeyStore` of `@vlab/ssh`).
   */
  readonly hostKeys: HostKeyPins;
  /** The module packages it composed. */
  readonly modules: {
    /** By OS family (the keys of `osModules`). */
    readonly osModules: ReadonlyMap<string, LoadedModuleInfo>;
    /** By provisioner instance (the keys of `provisioners`). */
    readonly provisioners: ReadonlyMap<string, LoadedModuleInfo>;
  };
  /** What the last start changed in the computers and images, to match the configuration. */
  readonly inventory: InventoryChanges;
  /** The reservations: request, follow, end, extend. */
  readonly reservations: LabReservations;
  /** The computers: their state, maintenance, reload. */
  readonly computers: LabComputers;
  /** The images: their revisions, marked by hand under `newRevisionTest: manual`. */
  readonly images: LabImages;
  /** Recorded events, oldest first. */
  events(query: EventQuery): Promise<readonly LabEvent[]>;
  /**
   * The events of `query` after `query.after`, oldest first, then each new one as it is recorded
   * by any manager sharing the database, until `signal` aborts (the iteration then ends). Resuming
   * after the last id seen misses none.
   */
  followEvents(query: FollowQuery, signal: AbortSignal): AsyncIterable<LabEvent>;
  /**
   * Closes the modules (their `close`), the database pool and, when embedded, stops PostgreSQL.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts a manager: reads and validates the configuration, starts the embedded PostgreSQL (or
 * connects to the configured one) and migrates it, loads and creates every module the
 * configuration names from its install directory, and makes the database's computers and images
 * match the configuration.
 *
 * @remarks
 * The manager depends on no module package: each is imported from `installDir`. A missing
 * package, a contract mismatch, a wrong key (configuration or module settings) fails the start
 * with a typed error that points at the file, line and key; whatever had started is stopped
 * again. The secret key for the secrets it generates is `secretKey`, or `<dataDir>/secret.key`
 * (created with mode 0600 at the first start).
 * @public
 */
export async function createManager(options: CreateManagerOptions): Promise<Manager> {
  const log = options.log ?? createLogger(pinoSink());
  const secrets = options.secrets ?? createSecretResolver();
  const { config, source } = await readManagerConfig(options.configPath);
  const cleanups: (() => Promise<void>)[] = [];
  const undo = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) =>
        log.warn('a clean-up step of the manager failed', { error: String(error) }),
      );
    }
  };
  try {
    // Parents get the usual mode (PostgreSQL's user may have to pass them); the data directory
    // itself is private.
    await mkdir(dirname(config.dataDir), { recursive: true });
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const { database, url } = await connect(config, secrets, log, cleanups);
    const announcements = await EventAnnouncements.start(url, log.child({ component: 'events' }));
    cleanups.push(() => announcements.close());
    const key = await secretKey(config, secrets);
    const modules = await composeModules(config, source, { log, secrets });
    cleanups.push(() => modules.close());
    const inventory = await syncInventory(database.db, config, log);
    const controller = new AbortController();
    let closing = false;
    await syncRevisions(database.db, config, modules.provisioners, {
      log,
      signal: controller.signal,
    });
    const hostKeys = new PostgresHostKeyStore(database.db);
    const engine: Engine = {
      config,
      db: database.db,
      access: new ComputerAccess(config, modules, {
        communicators: options.communicators ?? defaultCommunicators(hostKeys, cleanups),
        secrets,
        log,
        progress: new ProgressRecorder(database.db, log),
      }),
      key,
      log,
      signal: controller.signal,
      get closing() {
        return closing;
      },
      onStepDone: options.onStepDone,
    };
    const runtime = await startWorkflowRuntime(engine, { url, executorId: options.managerId });
    cleanups.push(() => runtime.close());
    // Runs first at close: every step stops recording, every module operation is cancelled, then
    // DBOS stops. The interrupted steps re-run when the workflows are recovered.
    cleanups.push(async () => {
      closing = true;
      controller.abort(managerClosing());
    });
    log.info('manager started', {
      lab: config.lab,
      computers: (await database.db.selectFrom('computers').select('name').execute()).length,
      osModules: Object.fromEntries(
        [...modules.definitions.osModules].map(([k, m]) => [k, `${m.package}@${m.version}`]),
      ),
      provisioners: Object.fromEntries(
        [...modules.definitions.provisioners].map(([k, m]) => [k, `${m.package}@${m.version}`]),
      ),
    });
    return managerOver(engine, announcements, hostKeys, modules, inventory, undo);
  } catch (error) {
    await undo();
    throw error;
  }
}

async function connect(
  config: ManagerConfig,
  secrets: SecretResolver,
  log: Logger,
  cleanups: (() => Promise<void>)[],
): Promise<{ readonly database: LabDatabaseHandle; readonly url: Secret }> {
  let url =
    config.database.url === undefined ? undefined : await secrets.resolve(config.database.url);
  if (config.database.embedded !== undefined) {
    const server: EmbeddedPostgres = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.database.embedded.port,
      log: log.child({ component: 'postgres' }),
    });
    cleanups.push(() => server.stop());
    url = server.url;
  }
  if (url === undefined) throw new TypeError('the validated configuration names no database');
  const database = await openDatabase({ url, log: log.child({ component: 'database' }) });
  cleanups.push(() => database.close());
  return { database, url };
}

/** SSH from `@vlab/ssh`, its connections closed with the manager. */
function defaultCommunicators(
  hostKeys: HostKeyPins,
  cleanups: (() => Promise<void>)[],
): CommunicatorFactory {
  const ssh = sshCommunicators(hostKeys);
  cleanups.push(() => ssh.close());
  return ssh.factory;
}

/** Why the manager's running operations were cancelled. */
function managerClosing(): Error {
  return coreError('VLAB_ERR_OP_CANCELLED', 'the manager is closing');
}

/** The configured key, else `<dataDir>/secret.key`, made at the first start. */
async function secretKey(config: ManagerConfig, secrets: SecretResolver): Promise<SecretKey> {
  if (config.secretKey !== undefined) return loadSecretKey(config.secretKey, secrets);
  const path = join(config.dataDir, 'secret.key');
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (!exists) await createSecretKeyFile(path);
  return loadSecretKey(path, secrets);
}

function managerOver(
  engine: Engine,
  announcements: EventAnnouncements,
  hostKeys: HostKeyPins,
  modules: ComposedModules,
  inventory: InventoryChanges,
  undo: () => Promise<void>,
): Manager {
  const { db, config } = engine;
  let closing: Promise<void> | undefined;
  return {
    config,
    users: usersWithConfiguredImages(new UserRegistry(db), db, config),
    apiTokens: new ApiTokenStore(db),
    log: engine.log,
    hostKeys,
    modules: modules.definitions,
    inventory,
    reservations: labReservations(engine),
    computers: labComputers(engine),
    images: labImages(engine),
    events: (query) => listEvents(db, query),
    followEvents: (query, signal) => followEvents(db, announcements, query, signal),
    close() {
      closing ??= undo();
      return closing;
    },
  };
}
