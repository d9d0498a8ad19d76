import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTRACT_VERSION, isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManager, type Manager } from '../src/index.js';
import {
  computerWhere,
  eventsOf,
  LAB_IMAGE,
  pinId,
  pollLong,
  reservationIn,
  revisionIn,
  revisionsOf,
  startTestlabManager,
  type TestlabManager,
} from './testlab-manager.js';

// The manager end to end on real lab computers (issue 15): @vlab/testlab computers
// (systemd-nspawn, ipmi_sim BMCs, PXE deploy environment; root needed), the real @vlab/os-linux
// and @vlab/provisioner-baremetal loaded from an install directory, the manager's default SSH
// communicators and an external PostgreSQL. Everything goes through createManager; the test
// only seeds the store (before the manager starts) and looks at the machines from outside.

const COMPUTERS = ['c1', 'c2'] as const;
const MARKER = '/srv/vlab-captured-marker';
const CHECKPOINT_FILE = '/srv/vlab-checkpoint-marker';
const MINUTES = 25 * 60_000;

let fixture: TestlabManager;

beforeAll(async () => {
  fixture = await startTestlabManager('lab-computers', COMPUTERS);
}, 20 * 60_000);

afterAll(async () => {
  if (fixture === undefined) return;
  // The manager's warnings and errors, for whoever reads a failure.
  for (const r of fixture.records.filter((r) => r.level === 'warn' || r.level === 'error'))
    console.info(`[manager ${r.level}] ${r.message} ${JSON.stringify(r.fields).slice(0, 400)}`);
  const left = await fixture.cleanup();
  expect(left).toEqual([]);
}, 10 * 60_000);

/** Runs `command` with OpenSSH from a client namespace as `login`, host key pinned to the manager's pin. */
async function sshFromClient(
  client: number,
  login: string,
  computer: string,
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const ip = fixture.lab.computer(computer).ip;
  const pins = await fixture.manager.hostKeys.get(pinId(fixture, computer));
  expect(pins.length).toBeGreaterThan(0);
  const knownHosts = join(fixture.install.dir, `known_hosts.${computer}`);
  await writeFile(knownHosts, pins.map((key) => `${ip} ${key}\n`).join(''));
  const namespace = fixture.lab.clients[client];
  if (namespace === undefined) throw new Error(`the lab has no client ${client}`);
  const out = await namespace.exec('ssh', [
    '-F',
    '/dev/null',
    '-i',
    fixture.userKeyPath,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'ConnectTimeout=10',
    '-l',
    login,
    ip,
    command,
  ]);
  return { code: out.code, stdout: out.stdout, stderr: out.stderr };
}

/** The reservation's users, each as the registry says, log in over real SSH. */
async function usersLogIn(m: Manager, reservationId: string, on: string): Promise<void> {
  // The accounts, seen from outside the guest.
  expect([...(await fixture.harness(on).accounts())].sort()).toEqual(['alice', 'bob']);
  // bob logs in over real SSH with his registered key (host key: the manager's pin).
  const bob = await fixture.sshAs('bob', on, [
    'sh',
    '-c',
    'id -un; hostname; sudo -n true 2>/dev/null && echo admin || echo user',
  ]);
  expect(bob, bob.stderr).toMatchObject({ code: 0, stdout: `bob\n${on}\nuser\n` });
  // alice (admin, allowFrom client1) from client1, with OpenSSH.
  const alice = await sshFromClient(0, 'alice', on, 'id -un');
  expect(alice, alice.stderr).toMatchObject({ code: 0, stdout: 'alice\n' });
  // An admin gets admin rights: sudo, with the password the manager generated for her (os-linux's
  // rule is then `ALL`, not `NOPASSWD: ALL`), which she learns from the manager.
  const password = (await m.reservations.access(reservationId, 'alice')).password?.reveal();
  expect(password).toMatch(/^[A-Za-z0-9_-]+$/);
  const sudo = await sshFromClient(0, 'alice', on, `echo '${password}' | sudo -S -p '' id -u`);
  expect(sudo, `alice's sudo: ${sudo.stderr}`).toMatchObject({ code: 0, stdout: '0\n' });
  const noPassword = await sshFromClient(0, 'alice', on, 'sudo -n id -u');
  expect(noPassword.code).not.toBe(0);
  // The guest's firewall opens the login port to the union of the users' allowFrom (a port has
  // no user): bob's "anywhere" lets alice in from client2 too.
  const elsewhere = await sshFromClient(1, 'alice', on, 'id -un');
  expect(elsewhere, elsewhere.stderr).toMatchObject({ code: 0, stdout: 'alice\n' });
  // bob has no allowFrom, which means anywhere (docs/manager.md, LabUser.allowFrom): client2 too.
  const bobFromClient = await sshFromClient(1, 'bob', on, 'id -un');
  expect(bobFromClient, `bob (no allowFrom) from client2: ${bobFromClient.stderr}`).toMatchObject({
    code: 0,
    stdout: 'bob\n',
  });
}

async function request(
  m: Manager,
  requestId: string,
  more: { computer?: string; revision?: number; logins?: string[] } = {},
) {
  return m.reservations.request({
    requestId,
    image: LAB_IMAGE,
    minutes: 120,
    logins: more.logins ?? ['alice', 'bob'],
    ...(more.computer !== undefined ? { computer: more.computer } : {}),
    ...(more.revision !== undefined ? { revision: more.revision } : {}),
  });
}

async function ready(m: Manager, id: string) {
  const status = await reservationIn(m, id, ['ready', 'failed', 'ended']);
  expect(status.state, `${status.endReason}; events ${(await eventsOf(m, id)).join(', ')}`).toBe(
    'ready',
  );
  return status;
}

describe('the manager on lab computers', () => {
  it(
    'runs a reservation on a real computer: load, users log in over SSH, end, reclaim',
    async () => {
      const m = fixture.manager;
      // The seeded revision was found in the store at start: it is reservable.
      expect(await revisionsOf(m)).toMatchObject([{ revision: 1, state: 'production' }]);
      const requested = await request(m, 'life-1');
      expect(requested).toMatchObject({ state: 'pending', image: LAB_IMAGE, revision: 1 });
      const status = await ready(m, requested.id);
      const on = status.computer as string;
      expect(COMPUTERS).toContain(on);
      expect(await m.computers.get(on)).toMatchObject({
        state: 'reserved',
        loaded: { image: LAB_IMAGE, revision: 1 },
      });
      const steps = await eventsOf(m, requested.id);
      expect(steps).toContain('load:ok');
      expect(steps).toContain('reserve:ok');
      // Whatever fails below, the reservation ends (the next tests need the computer).
      try {
        await usersLogIn(m, requested.id, on);
      } finally {
        await m.reservations.end(requested.id, 'done for today');
      }

      const ended = await reservationIn(m, requested.id, ['ended', 'failed']);
      expect(ended).toMatchObject({ state: 'ended', endReason: 'done for today' });
      expect(await fixture.harness(on).accounts()).toEqual([]);
      expect(await m.computers.get(on)).toMatchObject({
        state: 'available',
        loaded: { image: LAB_IMAGE, revision: 1 },
      });
      const all = await eventsOf(m, requested.id);
      for (const step of ['post-reservation:ok', 'sanitize:ok', 'release:ok', 'ended:ok'])
        expect(all).toContain(step);
      // The account is gone: bob's key no longer logs in.
      const after = await fixture
        .sshAs('bob', on, ['true'])
        .then((r) => `exit ${r.code}`)
        .catch((error: unknown) => (error as Error).message);
      expect(after).not.toBe('exit 0');
    },
    MINUTES,
  );

  let checkpointFrom: { id: string; computer: string } | undefined;

  it(
    'captures an image: the new revision is test-loaded into production and serves on another computer',
    async () => {
      const m = fixture.manager;
      const [first, second] = COMPUTERS;
      const requested = await request(m, 'capture-image', { computer: first, logins: ['bob'] });
      await ready(m, requested.id);
      const text = `captured on ${first} at ${new Date().toISOString()}\n`;
      try {
        await fixture.writeAsRoot(first, MARKER, text);
        await m.reservations.capture(requested.id, { mode: 'image' });
      } catch (error) {
        await m.reservations.end(requested.id, 'the test failed');
        throw error;
      }
      const ended = await reservationIn(m, requested.id, ['ended', 'failed']);
      expect(ended, (await eventsOf(m, requested.id)).join(', ')).toMatchObject({
        state: 'ended',
        endReason: `captured as ${LAB_IMAGE} revision 2 (testing)`,
      });
      const steps = await eventsOf(m, requested.id);
      expect(steps).toContain('capture:ok');
      expect(steps).toContain('publish:ok');
      expect(steps).not.toContain('sanitize:ok');
      // newRevisionTest auto: loaded on a free computer, checked, in production.
      const revision = await revisionIn(m, 2, ['production', 'failed']);
      expect(revision).toMatchObject({ state: 'production', capturedFrom: first });
      expect(revision.sha256).toMatch(/^[0-9a-f]{64}$/);

      // A reservation of revision 2 on the other computer finds the captured file.
      const again = await request(m, 'capture-image-again', {
        computer: second,
        revision: 2,
        logins: ['bob'],
      });
      const status = await ready(m, again.id);
      expect(status).toMatchObject({ computer: second, revision: 2 });
      checkpointFrom = { id: again.id, computer: second };
      const read = await fixture.sshAs('bob', second, ['cat', MARKER]);
      expect(read, read.stderr).toMatchObject({ code: 0, stdout: text });
      // The captured computer was reclaimed: free, untainted, holding a production revision.
      const back = await computerWhere(
        m,
        first,
        (c) => c.state === 'available',
        'available after its reclaim',
      );
      expect(back.loaded?.image).toBe(LAB_IMAGE);
    },
    MINUTES,
  );

  it(
    'takes a checkpoint: the reservation goes on, its users still log in, the revision is proven',
    async () => {
      const m = fixture.manager;
      if (checkpointFrom === undefined) throw new Error('the capture test left no reservation');
      const { id, computer } = checkpointFrom;
      try {
        const text = `checkpoint of ${computer}\n`;
        await fixture.writeAsRoot(computer, CHECKPOINT_FILE, text);
        await m.reservations.capture(id, { mode: 'checkpoint' });
        const steps = await pollLong(
          async () => {
            const s = await eventsOf(m, id);
            const done =
              s.includes('publish:ok') && s.lastIndexOf('reserve:ok') > s.lastIndexOf('publish:ok');
            const failed = (await m.reservations.get(id))?.state === 'failed';
            return done || failed ? s : undefined;
          },
          async () => `reservation ${id}: events ${(await eventsOf(m, id)).join(', ')}`,
        );
        expect((await m.reservations.get(id))?.state, steps.join(', ')).toBe('ready');
        expect(steps.filter((s) => s === 'capture:ok')).toHaveLength(1);
        const newest = (await revisionsOf(m)).at(-1);
        expect(newest).toMatchObject({ revision: 3, capturedFrom: computer });
        expect(await m.computers.get(computer)).toMatchObject({
          state: 'reserved',
          loaded: { image: LAB_IMAGE, revision: 3 },
        });
        // The user logs in again (a fresh host key, re-pinned by the provisioner) and finds both files.
        const read = await fixture.sshAs('bob', computer, ['cat', MARKER, CHECKPOINT_FILE]);
        expect(read, read.stderr).toMatchObject({ code: 0 });
        expect(read.stdout.endsWith(text)).toBe(true);
        // The checkpoint revision is test-loaded elsewhere and goes into production.
        expect(await revisionIn(m, 3, ['production', 'failed'])).toMatchObject({
          state: 'production',
        });
      } finally {
        await m.reservations.end(id);
      }
      expect(await reservationIn(m, id, ['ended', 'failed'])).toMatchObject({ state: 'ended' });
      await computerWhere(m, computer, (c) => c.state === 'available', 'available after reclaim');
    },
    MINUTES,
  );

  it(
    'maintenance and reload: an admin takes a computer out, reloads it with revision 2, and it serves again',
    async () => {
      const m = fixture.manager;
      const on = COMPUTERS[1] as string;
      await computerWhere(m, on, (c) => c.state === 'available', 'available');
      expect(await m.computers.maintenance(on, 'checking the disk')).toMatchObject({
        state: 'maintenance',
        maintenanceReason: 'checking the disk',
      });
      const refused = await request(m, 'lab-maintenance-refused', { computer: on }).catch(
        (e: unknown) => e,
      );
      expect((refused as Error).message).toContain('checking the disk');
      // The reload loads revision 2 on the real machine and checks its stamp.
      expect((await m.computers.reload(on, { image: LAB_IMAGE, revision: 2 })).state).toBe(
        'loading',
      );
      const back = await computerWhere(m, on, (c) => c.state !== 'loading', 'reloaded');
      expect(back).toMatchObject({
        state: 'available',
        maintenanceReason: undefined,
        loaded: { image: LAB_IMAGE, revision: 2 },
        tainted: false,
      });
      expect(await fixture.harness(on).power()).toBe('on');
      // Served as is: the next reservation of revision 2 there reuses it without a load.
      const requested = await request(m, 'lab-after-reload', { computer: on, revision: 2 });
      try {
        expect(await reservationIn(m, requested.id, ['ready', 'failed'])).toMatchObject({
          state: 'ready',
        });
        const steps = await eventsOf(m, requested.id);
        expect(steps).toContain('node-status:ok');
        expect(steps).not.toContain('load:ok');
      } finally {
        await m.reservations.end(requested.id);
      }
      expect(await reservationIn(m, requested.id, ['ended', 'failed'])).toMatchObject({
        state: 'ended',
      });
    },
    MINUTES,
  );
});

describe('the lab config, broken', () => {
  it(
    'names line and key of a typo, and refuses a provisioner of a contract core does not speak',
    async () => {
      await fixture.stop();
      const { createSecretResolver } = await import('@vlab/core');
      const secrets = createSecretResolver({ env: { ...fixture.secretEnv } });
      const start = async (file: string, text: string): Promise<unknown> => {
        const configPath = await fixture.install.write(`lab/${file}`, text);
        const m = await createManager({ configPath, secrets }).catch((e: unknown) => e);
        if (!(m instanceof Error)) {
          await (m as Manager).close();
          return new Error(`${file}: the manager started`);
        }
        return m;
      };
      /** The 1-based line of the first line from `after` (1-based) on that holds `needle`. */
      const lineOf = (text: string, needle: string, after = 1) =>
        text.split('\n').findIndex((line, i) => i >= after - 1 && line.includes(needle)) + 1;

      // A typo in a computer's key (the manager's own schema).
      const typo = fixture.configText.replace('addresses:', 'adresses:');
      const error = await start('typo.yaml', typo);
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(
        new RegExp(
          `typo\\.yaml:${lineOf(typo, 'adresses:')}:\\d+: pools\\.0\\.computers\\.0\\.adresses: .*addresses`,
        ),
      );

      // A typo in the baremetal provisioner's settings (its own schema), at its place in the file.
      const settings = fixture.configText.replace('deployDisk: /dev', 'deployDsk: /dev');
      const error2 = await start('settings.yaml', settings);
      expect(isVlabError(error2, 'VLAB_ERR_CONFIG_INVALID'), String(error2)).toBe(true);
      // zod reports an unknown key at its object: the settings mapping (whose first key is
      // `store`), not the misspelt key's line; the key is named in the message.
      const message2 = (error2 as Error).message;
      expect(message2).toMatch(
        new RegExp(
          `settings\\.yaml:${lineOf(settings, 'store: {')}:\\d+: provisioners\\.bm\\.settings: `,
        ),
      );
      expect(message2).toContain('"deployDsk"');

      // The real baremetal provisioner, as a package of a contract range core does not speak.
      await fixture.install.addPackage('old-baremetal', {
        manifest: { version: '0.9.4' },
        files: {
          'index.js': `import baremetal from '@vlab/provisioner-baremetal';
export default { ...baremetal, version: '0.9.4', contract: '^0.9.0' };
`,
        },
      });
      const old = fixture.configText.replace(
        "package: '@vlab/provisioner-baremetal'",
        'package: old-baremetal',
      );
      const error3 = await start('old.yaml', old);
      expect(isVlabError(error3, 'VLAB_ERR_MODULE_CONTRACT_MISMATCH'), String(error3)).toBe(true);
      const message = (error3 as Error).message;
      expect(message).toContain('old-baremetal 0.9.4');
      expect(message).toContain('^0.9.0');
      expect(message).toContain(CONTRACT_VERSION);
      expect(message).toContain('provisioners.bm.package');
    },
    10 * 60_000,
  );
});
