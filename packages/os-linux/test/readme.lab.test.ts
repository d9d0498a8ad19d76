import { fileURLToPath } from 'node:url';
import { parseStamp } from '@vlab/core';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { startLab } from '@vlab/testlab';
import { describe, expect, it } from 'vitest';
import { userKeyPair } from './lab.fixture.js';

// The README's example runs as it stands (only the import of @vlab/os-linux points at src/),
// against a fresh lab computer: its image has no stamp yet, so postLoad takes it as a fresh
// image of the context's image, and pins the new host keys into the lab's known_hosts file.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('README example', () => {
  it('loads, reserves and sanitizes a lab computer', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    await using lab = await startLab({ computers: 1 });
    await using key = await userKeyPair('alice@readme');
    const c1 = lab.computer('c1');
    const out = await runReadmeExample({
      packageDir: PACKAGE_DIR,
      packageName: '@vlab/os-linux',
      example,
      timeoutMs: 120_000,
      env: {
        HOST: c1.ip,
        KEY_FILE: lab.managementKey.path,
        KNOWN_HOSTS: c1.knownHostsPath,
        ALICE_KEY: key.publicKey,
      },
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('postLoad true ready\n');
    expect(out.stdout).toContain(
      `[ { login: 'alice', protocol: 'ssh', host: '${c1.ip}', port: 22 } ]`,
    );
    expect(out.stdout).toMatch(/info reservation account removed \{.*"login":"alice"/);
    // The pin in the lab's known_hosts is the new key: OpenSSH with StrictHostKeyChecking=yes
    // gets in, and the machine carries the ready stamp, without alice.
    const stamp = parseStamp(await c1.sshChecked('cat /etc/vlab/image-stamp.json'), 'c1');
    expect(stamp).toMatchObject({
      image: 'debian-12',
      revision: 1,
      state: 'ready',
      computer: 'node12',
    });
    expect(await c1.sshChecked('getent passwd alice || echo gone')).toBe('gone\n');
  });
});
