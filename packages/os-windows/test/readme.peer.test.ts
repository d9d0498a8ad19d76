import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateHostKey, parseStamp } from '@vlab/core';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { describe, expect, it } from 'vitest';
import { GUEST_PATHS } from '../src/paths.js';
import { startWindowsPeer, WindowsMachine } from './peer-kit.js';
import { CAPTURED_STAMP } from './peer-target.js';

// The README's example runs as it stands (only the import of @vlab/os-windows points at src/),
// in its own Node process, against the scripted Windows peer: a modelled Windows Server 2022
// freshly loaded from a captured image. Its settings come from the environment, as in
// production: the peer's port, the management key the peer accepts, a known_hosts file that pins
// the peer's host key, and a password directory of the test's own.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
// Windows Server's complexity rule: three character classes, and not the account name.
const ALICE_PASSWORD = 'Readme-Example-2026!';

describe('README example', () => {
  it('loads, reserves and sanitizes a Windows computer on the scripted peer', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    const dir = await mkdtemp(join(tmpdir(), 'vlab-os-windows-readme-'));
    const machine = new WindowsMachine({ hostKeys: 'shared', version: 'Windows Server 2022' });
    machine.fs.writeFile(GUEST_PATHS.stamp, CAPTURED_STAMP);
    const key = generateHostKey('vlab-management');
    await using peer = await startWindowsPeer({
      user: 'Administrator',
      authorizedKeys: [key.publicKey],
      machine,
    });
    try {
      const hostId = `[${peer.host}]:${peer.port}`;
      const keyFile = join(dir, 'id_ed25519');
      const knownHosts = join(dir, 'known_hosts');
      const passwordDir = join(dir, 'windows-admin');
      await writeFile(keyFile, key.privateKey.reveal(), { mode: 0o600 });
      await writeFile(knownHosts, `${hostId} ${peer.hostKey}\n`);
      const firstHostKey = peer.hostKey;

      const out = await runReadmeExample({
        packageDir: PACKAGE_DIR,
        packageName: '@vlab/os-windows',
        example,
        timeoutMs: 90_000,
        env: {
          HOST: peer.host,
          PORT: String(peer.port),
          KEY_FILE: keyFile,
          KNOWN_HOSTS: knownHosts,
          PASSWORD_DIR: passwordDir,
          ALICE_PASSWORD,
        },
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(peer.internalErrors).toEqual([]);

      // What the example prints.
      expect(out.stdout).toContain('postLoad true ready\n');
      expect(out.stdout).toContain(
        [
          '[',
          "  { login: 'alice', protocol: 'rdp', host: '127.0.0.1', port: 3389 },",
          "  { login: 'alice', protocol: 'ssh', host: '127.0.0.1', port: 22 }",
          ']',
        ].join('\n'),
      );
      expect(out.stdout).toMatch(/info reservation account removed \{.*"login":"alice"/);

      // The machine afterwards: this computer, named, without alice, her profile or her rules.
      const stamp = parseStamp(machine.fs.readText(GUEST_PATHS.stamp) ?? '', 'win21');
      expect(stamp).toMatchObject({
        image: 'win2022',
        revision: 1,
        state: 'ready',
        computer: 'win21',
      });
      expect(machine.computerName).toBe('lab-win-21');
      expect(machine.findUser('alice')).toBeUndefined();
      expect(machine.profiles.filter((p) => /alice/i.test(p.localPath))).toEqual([]);
      expect(machine.firewallRules.filter((r) => r.name.startsWith('vlab-users'))).toEqual([]);
      expect(machine.fs.exists(GUEST_PATHS.reservation)).toBe(false);

      // The generated administrator password: kept first, mode 0600, what the machine has now,
      // and never printed.
      const passwordFile = join(passwordDir, 'win21');
      expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
      const password = (await readFile(passwordFile, 'utf8')).trimEnd();
      expect(password).toMatch(/^.{24}$/);
      expect(machine.findUser('Administrator')?.password).toBe(password);
      expect(out.stdout).toContain(`"keptIn":${JSON.stringify(passwordFile)}`);
      for (const secret of [password, ALICE_PASSWORD]) {
        expect(out.stdout).not.toContain(secret);
        expect(out.stderr).not.toContain(secret);
      }

      // postLoad made new host keys and pinned them, through trustHostKeys, in the example's
      // known_hosts file in place of the first one: exactly the keys the machine's sshd has now.
      const served = machine
        .hostKeys()
        .map((k) => `${hostId} ${(k.publicKey ?? '').trim().split(' ').slice(0, 2).join(' ')}`);
      const pins = (await readFile(knownHosts, 'utf8')).trim().split('\n');
      expect(pins.sort()).toEqual(served.sort());
      expect(pins).toContain(`${hostId} ${peer.hostKey}`);
      expect(pins).not.toContain(`${hostId} ${firstHostKey}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
