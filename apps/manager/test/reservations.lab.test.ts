import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createSecretResolver, type LogRecord, type Secret } from '@vlab/core';
import { createMemoryLab, type MemoryLab } from '@vlab/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReservationStatus } from '../src/engine/reservations.js';
import { createManager, type Manager } from '../src/manager.js';
import {
  freshDatabase,
  query,
  startTestPostgres,
  type TestPostgres,
} from './database/lab-postgres.js';
import { type InstallDir, makeInstallDir, WORKSPACE } from './install-dir.js';

// The reservation life cycle through createManager, on the memory lab's fixture modules and a real
// PostgreSQL the test starts (external to the manager, so the test can read and move its rows).

const records: LogRecord[] = [];
const log = createLogger((record) => records.push(record));

let install: InstallDir;
let lab: MemoryLab;
let postgres: TestPostgres;
let url: Secret;
let manager: Manager | undefined;

const CONFIG = (labId: string) => `lab: demo
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
images:
  - { name: base, osFamily: linux, owner: alice }
`;

async function start(): Promise<Manager> {
  const path = await install.write('lab/vlab.yaml', CONFIG(lab.id));
  manager = await createManager({
    configPath: path,
    log,
    secrets: createSecretResolver({
      env: { ...lab.secretEnv, VLAB_TEST_DATABASE_URL: url.reveal() },
    }),
    communicators: async (computer) => lab.communicator(computer.name),
    managerId: 'test-manager',
  });
  return manager;
}

async function stop(): Promise<void> {
  await manager?.close();
  manager = undefined;
}

/** Follows the reservation until it is in one of `states` (the workflow runs on its own). */
async function until(
  m: Manager,
  id: string,
  states: readonly ReservationStatus['state'][],
): Promise<ReservationStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await m.reservations.get(id);
    if (status !== undefined && states.includes(status.state)) return status;
    if (Date.now() > deadline) {
      throw new Error(
        `reservation ${id} is ${status?.state}, not ${states.join(' or ')}, after 60 s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function kinds(m: Manager, reservationId: string): Promise<string[]> {
  return (await m.events({ reservationId, limit: 1000 })).map((e) => `${e.kind}:${e.outcome}`);
}

beforeAll(async () => {
  lab = createMemoryLab({ computers: ['c1', 'c2'] });
  install = await makeInstallDir();
  await chmod(install.dir, 0o711);
  await install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
  await install.addPackage('memory-os', {
    files: { 'index.js': "export { memoryOsModule as default } from '@vlab/fixture-modules';\n" },
  });
  await install.addPackage('memory-provisioner', {
    files: {
      'index.js': "export { memoryProvisioner as default } from '@vlab/fixture-modules';\n",
    },
  });
  postgres = await startTestPostgres('reservations');
  url = await freshDatabase(postgres.server.url, 'reservations');
  const m = await start();
  await m.users.add({ login: 'alice', role: 'admin', sshKeys: [] });
  await m.users.add({ login: 'bob', role: 'user' });
}, 120_000);

afterAll(async () => {
  if (process.env["VLAB_TEST_DUMP"]) (await import("node:fs")).writeFileSync(process.env["VLAB_TEST_DUMP"], records.map((r) => JSON.stringify(r)).join("\n"));
  await stop();
  await postgres?.cleanup();
  await install?.remove();
});

describe('a reservation', () => {
  it('runs its whole life: load, reserve, ready, end, reclaim with a preload', async () => {
    const m = manager as Manager;
    const requested = await m.reservations.request({
      requestId: 'req-1',
      image: 'base',
      minutes: 60,
      logins: ['alice', 'bob'],
    });
    expect(requested).toMatchObject({ state: 'pending', image: 'base', revision: 1 });
    const ready = await until(m, requested.id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');
    const computer = ready.computer as string;
    const machine = lab.machine(computer);
    expect(machine.userAccounts.map((a) => a.login).sort()).toEqual(['alice', 'bob']);
    expect((await m.computers()).find((c) => c.name === computer)).toMatchObject({
      state: 'reserved',
      loaded: { image: 'base', revision: 1 },
    });
    // The generated passwords are in the database only sealed.
    const sealed = await query<{ login: string; ciphertext: Buffer }>(
      url,
      'SELECT login, ciphertext FROM reservation_secrets WHERE reservation_id = $1',
      [requested.id],
    );
    expect(sealed.map((s) => s.login).sort()).toEqual(['alice', 'bob']);

    await m.reservations.end(requested.id, 'done for today');
    const ended = await until(m, requested.id, ['ended', 'failed']);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'done for today' });
    expect(machine.userAccounts).toEqual([]);
    expect((await m.computers()).find((c) => c.name === computer)).toMatchObject({
      state: 'available',
      loaded: { image: 'base', revision: 1 },
    });
    expect(await kinds(m, requested.id)).toEqual([
      'assign:ok',
      'plan:ok',
      'queue:ok',
      'load:ok',
      'loaded:ok',
      'seal-passwords:ok',
      'taint:ok',
      'reserve:ok',
      'ready:ok',
      'read-end:ok',
      'ending:ok',
      'queue:ok',
      'post-reservation:ok',
      'sanitize:ok',
      'choose-preload:ok',
      'reload:ok',
      'release:ok',
      'ended:ok',
    ]);
    const left = await query(url, 'SELECT 1 FROM reservation_secrets WHERE reservation_id = $1', [
      requested.id,
    ]);
    expect(left).toEqual([]);
  });
});
