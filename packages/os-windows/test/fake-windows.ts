// A unit-test stand-in for a Windows machine: a communicator that recognises each of the module's
// scripts by its code and answers from a few maps. It interprets no PowerShell (the scripted peer
// of @vlab/test-peers does, in the peer tests); it lets unit tests drive whole operations and see
// every argument vector and stdin the module sends.
import {
  type Communicator,
  createLogger,
  createOsContext,
  type LogRecord,
  type OsContext,
  type PowerState,
  type RunOptions,
  type RunResult,
  type SecretResolver,
} from '@vlab/core';
import { PS, type ScriptName } from '../src/scripts.js';

/** One command the module sent. */
export interface SentCommand {
  readonly name: ScriptName | undefined;
  readonly argv: readonly string[];
  readonly stdin: string | undefined;
}

const NAMES = new Map<string, ScriptName>(
  Object.entries(PS).map(([name, code]) => [code, name as ScriptName]),
);
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu';

export class FakeWindows implements Communicator {
  readonly computer = 'win1';
  readonly shell = 'powershell' as const;
  readonly sent: SentCommand[] = [];
  readonly files = new Map<string, string>();
  readonly registry = new Map<string, string>();
  readonly users = new Map<string, { sid: string; admin: boolean }>();
  readonly rules = new Map<string, string[]>();
  power: PowerState = 'on';
  bootTime = '1';
  activeName = 'WIN-GENERIC';
  pendingName = 'WIN-GENERIC';
  trusted: string[] = [];
  sysprepExit = 0;
  #sid = 1000;

  constructor() {
    this.registry.set('ImageState', 'IMAGE_STATE_COMPLETE');
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const stdin = options.stdin === undefined ? undefined : String(options.stdin);
    const name = NAMES.get(argv[0] ?? '');
    this.sent.push({ name, argv: [...argv], stdin });
    // Each argument binds to one of the script's param() names: as many as it declares.
    const declared = /^param\(([^)]*)\)/.exec(argv[0] ?? '')?.[1]?.split(',').length ?? 0;
    if (argv.length - 1 !== declared)
      throw new Error(
        `${name} declares ${declared} parameters but got ${argv.length - 1} arguments`,
      );
    const input = stdin === undefined ? {} : (JSON.parse(stdin) as Record<string, unknown>);
    const [a = '', b = ''] = argv.slice(1);
    const ok = (stdout = '') => ({ code: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) });
    const exit = (code: number) => ({
      code,
      stdout: Buffer.alloc(0),
      stderr: Buffer.from('vlab-pid:4000\r\n'),
    });
    switch (name) {
      case 'readFile':
        return this.files.has(a) ? ok(`${this.files.get(a)}\r\n`) : exit(3);
      case 'writeFile':
        this.files.set(a, String(input['text']));
        return ok();
      case 'removePaths': {
        let n = 0;
        for (const p of input['paths'] as string[]) if (this.files.delete(p)) n += 1;
        return ok(`${n}\r\n`);
      }
      case 'readRegistry':
        return this.registry.has(b) ? ok(`${this.registry.get(b)}\r\n`) : exit(3);
      case 'writeRegistry': {
        const [, , , value = ''] = argv.slice(1);
        if (this.registry.get(b) === value) return ok();
        this.registry.set(b, value);
        return ok('changed\r\n');
      }
      case 'facts':
        return ok(
          `${JSON.stringify({
            imageState: this.registry.get('ImageState'),
            activeName: this.activeName,
            pendingName: this.pendingName,
            bootTime: this.bootTime,
            connection: '192.0.2.1 50000 192.0.2.10 22',
            architecture: 'AMD64',
          })}\r\n`,
        );
      case 'bootTime':
        return ok(`${this.bootTime}\r\n`);
      case 'probe':
        return ok('vlab-ok\r\n');
      case 'listUsers':
        return ok(JSON.stringify([...this.users].map(([n, u]) => ({ name: n, sid: u.sid }))));
      case 'applyUser': {
        this.#sid += 1;
        const sid = this.users.get(a)?.sid ?? `S-1-5-21-1-2-3-${this.#sid}`;
        this.users.set(a, { sid, admin: input['admin'] === true });
        return ok(`${sid}\r\n`);
      }
      case 'userSessions':
        return exit(1);
      case 'removeUser':
        this.users.delete(a);
        return ok();
      case 'setFirewallRule': {
        const addresses = input['addresses'] as string[];
        const rule = String(input['name']);
        if (addresses.length === 0) return ok(this.rules.delete(rule) ? 'removed\r\n' : '');
        const existed = this.rules.has(rule);
        this.rules.set(rule, addresses);
        return ok(existed ? 'updated\r\n' : 'created\r\n');
      }
      case 'closeBuiltInRules':
      case 'resetFirewall':
      case 'clearEventLogs':
      case 'removeHostKeys':
        return ok('0\r\n');
      case 'hostKeys':
        return ok(`${HOST_KEY}\r\n`);
      case 'newHostKeys':
        return ok(`${HOST_KEY} new\r\n`);
      case 'renameComputer':
        this.pendingName = a;
        return ok();
      case 'reboot':
        this.bootTime = String(Number(this.bootTime) + 1);
        this.activeName = this.pendingName;
        return ok();
      case 'shutdown':
        this.power = 'off';
        return ok();
      case 'sysprep':
        if (this.sysprepExit !== 0) return exit(this.sysprepExit);
        this.registry.set('ImageState', 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE');
        if (a === '/shutdown') this.power = 'off';
        if (a === '/reboot') this.bootTime = String(Number(this.bootTime) + 1);
        return ok();
      case 'sysprepLogs':
        return ok(
          JSON.stringify({
            err: [
              '2026-11-29 10:00:00, Error SYSPRP Package Foo was installed for a user, but not provisioned for all users.',
            ],
            act: ['Info ok', 'Error SYSPRP failed 0x80073cf2'],
          }),
        );
      case undefined:
        throw new Error(
          `the module sent code that is not one of its scripts: ${argv[0]?.slice(0, 80)}`,
        );
      default:
        return ok();
    }
  }

  async runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    return this.run(argv, options);
  }
  async put(): Promise<void> {
    throw new Error('os-windows writes files through scripts, never put');
  }
  async get(): Promise<Buffer> {
    throw new Error('os-windows reads files through scripts, never get');
  }
  // biome-ignore lint/correctness/useYield: never called.
  async *getStream(): AsyncIterable<Uint8Array> {
    throw new Error('not used');
  }
  async waitUntilReachable(): Promise<void> {}
  async trustHostKeys(keys: readonly string[]): Promise<void> {
    this.trusted = [...keys];
  }
}

/** A context over `machine`, its log records collected in `records`. */
export function contextOf(
  machine: FakeWindows,
  records: LogRecord[] = [],
  options: { hostname?: string; secrets?: SecretResolver } = {},
): OsContext {
  return createOsContext({
    log: createLogger((record) => records.push(record)),
    deadline: Date.now() + 30_000,
    phase: 'test',
    computer: {
      name: 'win1',
      hostname: options.hostname ?? 'win1.lab.example',
      addresses: { management: '192.0.2.10' },
      credentials: {},
      attributes: {},
    },
    image: { name: 'win2022', revision: 1, osFamily: 'windows' },
    communicator: machine,
    power: {
      status: async () => machine.power,
      bootId: async () => machine.bootTime,
    },
    ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
  });
}
