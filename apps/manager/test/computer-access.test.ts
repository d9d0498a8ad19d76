import type { Communicator, OsModule, SecretResolver } from '@vlab/core';
import { silentLogger } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { parseManagerConfig } from '../src/config/config-file.js';
import { type CommandShell, ComputerAccess } from '../src/engine/computer-access.js';
import type { ProgressRecorder } from '../src/engine/progress-recorder.js';
import type { ComposedModules } from '../src/modules/compose-modules.js';

const CONFIG = `lab: demo
dataDir: /var/lib/vlab-test
osModules:
  linux: { package: '@vlab/os-linux' }
  windows: { package: '@vlab/os-windows' }
provisioners:
  bm: { package: '@vlab/provisioner-baremetal' }
computers:
  - { name: c1, provisioner: bm, hostname: c1.lab, addresses: { management: 10.0.0.1 } }
`;

const scope = { phase: 'reserve', timeoutMs: 60_000, signal: new AbortController().signal };

/** The manager's access to c1, with a factory that records each communicator it is asked for. */
function access(): { access: ComputerAccess; made: [string, CommandShell][] } {
  const made: [string, CommandShell][] = [];
  const { config } = parseManagerConfig(CONFIG, 'vlab.yaml');
  const modules = {
    osModules: new Map(),
    provisioners: new Map([['bm', {}]]),
  } as unknown as ComposedModules;
  const computerAccess = new ComputerAccess(config, modules, {
    communicators: async (computer, _secrets, shell) => {
      made.push([computer.name, shell]);
      return { computer: computer.name, shell } as unknown as Communicator;
    },
    secrets: {} as SecretResolver,
    log: silentLogger,
    progress: { sink: () => () => undefined } as unknown as ProgressRecorder,
  });
  return { access: computerAccess, made };
}

describe('the communicator of an OS module', () => {
  it('speaks the shell the OS module declares, posix when it declares none, one per shell', async () => {
    const { access: computers, made } = access();
    const windows = { family: 'windows', shell: 'powershell' } as unknown as OsModule;
    const linux = { family: 'linux' } as unknown as OsModule;

    const first = await computers.osContext('c1', windows, scope);
    expect(first.communicator.shell).toBe('powershell');
    expect((await computers.osContext('c1', linux, scope)).communicator.shell).toBe('posix');
    // Made once per computer and shell, then kept.
    expect((await computers.osContext('c1', windows, scope)).communicator).toBe(first.communicator);
    expect(made).toEqual([
      ['c1', 'powershell'],
      ['c1', 'posix'],
    ]);
  });
});
