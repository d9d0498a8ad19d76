import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiClient } from '../src/cli/api-client.js';
import { connectLine } from '../src/cli/connect-line.js';

const run = promisify(execFile);
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vlab-connect-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A client whose manager answers the access of every reservation with `access`. */
function client(access: object, sshKey?: string): ApiClient {
  return {
    settings: {
      server: 'http://127.0.0.1:1',
      token: undefined,
      sshKey,
      knownHosts: join(dir, 'cli', 'known_hosts'),
    },
    call: async () => access,
  } as unknown as ApiClient;
}

/** The arguments `line` gives its program, as a POSIX shell splits and unquotes them. */
async function argumentsOf(line: string): Promise<string[]> {
  const { stdout } = await run('sh', [
    '-c',
    `show() { for a in "$@"; do printf '%s\\0' "$a"; done; }; show ${line.replace(/^ssh /, '')}`,
  ]);
  return stdout.split('\0').slice(0, -1);
}

describe('vlab connect', () => {
  it('pins the host keys the manager gives in its own known-hosts file, and names the key', async () => {
    const known = join(dir, 'cli', 'known_hosts');
    const line = await connectLine(
      client(
        {
          login: 'bob',
          protocol: 'ssh',
          host: '10.0.0.5',
          port: 22,
          hostKeys: [`${ED25519} root@c1`],
        },
        '/keys/bob',
      ),
      'r1',
    );
    expect(line).toBe(`ssh -i /keys/bob -o UserKnownHostsFile=${known} bob@10.0.0.5`);
    expect(await readFile(known, 'utf8')).toBe(`10.0.0.5 ${ED25519}\n`);
    expect((await stat(known)).mode & 0o777).toBe(0o600);
  });

  it("replaces a host's old keys (a reloaded computer), keeping the other hosts'", async () => {
    const known = join(dir, 'cli', 'known_hosts');
    await connectLine(
      client({ login: 'bob', protocol: 'ssh', host: '10.0.0.6', port: 22, hostKeys: [RSA] }),
      'r0',
    );
    await connectLine(
      client({ login: 'bob', protocol: 'ssh', host: '10.0.0.5', port: 22, hostKeys: [RSA] }),
      'r1',
    );
    const line = await connectLine(
      client({ login: 'bob', protocol: 'ssh', host: '10.0.0.5', port: 2222, hostKeys: [ED25519] }),
      'r2',
    );
    await connectLine(
      client({ login: 'bob', protocol: 'ssh', host: '10.0.0.5', port: 22, hostKeys: [ED25519] }),
      'r3',
    );
    expect(line).toBe(`ssh -o UserKnownHostsFile=${known} -p 2222 bob@10.0.0.5`);
    expect((await readFile(known, 'utf8')).split('\n')).toEqual([
      `10.0.0.6 ${RSA}`,
      `[10.0.0.5]:2222 ${ED25519}`,
      `10.0.0.5 ${ED25519}`,
      '',
    ]);
  });

  it('quotes every argument: a hostile key path reaches ssh as one argument, unchanged', async () => {
    for (const key of ["/k/'; rm -rf / #", '/k/two\nlines', '/k/clé ☃', '/k/$(id)`id`']) {
      const line = await connectLine(
        client({ login: 'bob', protocol: 'ssh', host: '10.0.0.5', port: 22, hostKeys: [] }, key),
        'r1',
      );
      expect(await argumentsOf(line)).toEqual(['-i', key, 'bob@10.0.0.5']);
    }
  });

  it('checks nothing it was not given, and gives an RDP reservation its address', async () => {
    expect(
      await connectLine(
        client({ login: 'bob', protocol: 'ssh', host: 'c1.lab', port: 22, hostKeys: [] }),
        'r1',
      ),
    ).toBe('ssh bob@c1.lab');
    await expect(stat(join(dir, 'cli', 'known_hosts'))).rejects.toThrow();
    expect(
      await connectLine(
        client({ login: 'bob', protocol: 'rdp', host: 'w1.lab', port: 3389, hostKeys: [] }),
        'r1',
      ),
    ).toBe('rdp w1.lab:3389 as bob');
  });
});
