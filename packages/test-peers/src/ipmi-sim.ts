import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, freeUdpPort } from './free-port.js';
import { descendants, forgetAtExit, isAlive, killAtExit, signalAll } from './process-tree.js';

/** A user of the simulated BMC. */
export interface IpmiSimUser {
  readonly name: string;
  readonly password: string;
  /** The highest privilege the user may have. Default: `admin`. */
  readonly privilege?: 'user' | 'operator' | 'admin';
}

/** Options of {@link startIpmiSim}. */
export interface IpmiSimOptions {
  /**
   * The BMC's users (user numbers 2, 3, … in order; user 1 is the disabled anonymous one).
   * Default: one administrator `vlab` with a random 16-character password.
   */
  readonly users?: readonly IpmiSimUser[];
  /** Power state when the simulator starts. Default: `off`. */
  readonly power?: 'on' | 'off';
  /** Sessions each user may hold at once (ipmi_sim's max-session field). Default: 16. */
  readonly maxSessionsPerUser?: number;
  /** More `lan.conf` lines, added inside the MC block after the power hook. */
  readonly extraConfig?: readonly string[];
  /** How long ipmi_sim may take to answer an ASF ping on its port. Default: 15000 ms. */
  readonly startTimeoutMs?: number;
  /** The ipmi_sim binary. Default: `$VLAB_IPMI_SIM` or `/usr/bin/ipmi_sim`. */
  readonly ipmiSimPath?: string;
}

/** A running OpenIPMI `ipmi_sim` started by {@link startIpmiSim}. */
export interface IpmiSim extends AsyncDisposable {
  readonly host: '127.0.0.1';
  /** The UDP port of its LAN channel (RMCP / RMCP+). */
  readonly port: number;
  /** Its users, as configured. */
  readonly users: readonly IpmiSimUser[];
  /** The first user's name and password, for the common case. */
  readonly username: string;
  readonly password: string;
  /** The temp dir holding lan.conf, the command file, the power hook and its state files. */
  readonly dir: string;
  /** The pid of ipmi_sim (it changes on `restart`). */
  readonly pid: number;
  /**
   * What the chassis_control hook recorded as the power state. ipmi_sim asks the hook for the
   * power state on every Get Chassis Status, so this is exactly what the BMC reports.
   */
  powerState(): Promise<'on' | 'off'>;
  /** Sets the recorded power state, as if the machine had been switched by hand. */
  setPowerState(state: 'on' | 'off'): Promise<void>;
  /** The last boot device the hook was given (`pxe`, `default`, `cdrom`, `bios`, `none`), if any. */
  bootDevice(): Promise<string | undefined>;
  /** Every hook call that changes something, oldest first, as `<ms since epoch> <operation…>` (e.g. `… set power 1`); reads are not logged. */
  hookCalls(): Promise<string[]>;
  /** Forgets the hook calls recorded so far. */
  clearHookCalls(): Promise<void>;
  /** What ipmi_sim wrote to stdout and stderr so far. */
  log(): string;
  /** Kills ipmi_sim (SIGKILL) and starts it again on the same port: every session is lost. */
  restart(): Promise<void>;
  /** Stops ipmi_sim and removes the temp dir. */
  stop(): Promise<void>;
}

/** Whether an ASF presence ping to `port` is answered within `ms` (ipmi_sim answers them). */
function pingAnswered(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (value: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('error', () => done(false));
    socket.on('message', (message) => done(message.length >= 12 && message[8] === 0x40));
    // RMCP header (class ASF), IANA 4542, Presence Ping, tag 0x17, reserved, length 0.
    const ping = Buffer.from([6, 0, 0xff, 6, 0, 0, 0x11, 0xbe, 0x80, 0x17, 0, 0]);
    socket.send(ping, port, '127.0.0.1', (error) => {
      if (error) done(false);
    });
  });
}

/**
 * The chassis_control hook (ipmi_lan(5)): ipmi_sim runs it through popen with the device
 * argument and then the operation appended (`get power`, `set power 1`, `set boot pxe`, …).
 * It records the power state and the boot device in files beside it and logs every change.
 */
function hookScript(dir: string): string {
  // Reads use shell builtins only (ipmi_sim runs the hook on every Get Chassis Status, so a
  // fork per read would dominate the BMC's answer time); only changes are logged, with a time.
  return `#!/bin/sh
# Written by @vlab/test-peers startIpmiSim: the chassis_control power hook of ipmi_sim.
# Called as: hook.sh <device> get|set <what> [value]
dir='${dir}'
shift
case "$1 $2" in
  "get power") p=0; [ -f "$dir/power" ] && read -r p < "$dir/power"; echo "power:$p" ;;
  "get boot") b=default; [ -f "$dir/boot" ] && read -r b < "$dir/boot"; echo "boot:$b" ;;
  "set power") echo "$3" > "$dir/power" ;;
  "set shutdown") echo 0 > "$dir/power" ;;
  "set boot") echo "$3" > "$dir/boot" ;;
  *) : ;;
esac
case "$1" in
  set) echo "$(date +%s%3N) $*" >> "$dir/hook.log" ;;
esac
exit 0
`;
}

function lanConf(
  dir: string,
  port: number,
  serialPort: number,
  users: readonly IpmiSimUser[],
  options: IpmiSimOptions,
): string {
  const sessions = options.maxSessionsPerUser ?? 16;
  const quote = (value: string): string =>
    `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  return [
    '# written by @vlab/test-peers startIpmiSim',
    'name "vlabsim"',
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr 127.0.0.1 ${port}`,
    '    priv_limit admin',
    '    allowed_auths_callback none md5',
    '    allowed_auths_user none md5',
    '    allowed_auths_operator none md5',
    '    allowed_auths_admin none md5',
    '    guid a123456789abcdefa123456789abcdef',
    '  endlan',
    // Chassis Control needs a VM-codec system channel, or it answers 0xCC (prior-art §6);
    // nothing ever connects to it.
    `  serial 15 127.0.0.1 ${serialPort} codec VM`,
    `  chassis_control "${join(dir, 'hook.sh')} vlab0"`,
    ...(options.extraConfig ?? []).map((line) => `  ${line}`),
    // User 1 is the anonymous user; keep it disabled.
    'user 1 false "" "" user 1 none md5',
    ...users.map(
      (user, index) =>
        `user ${index + 2} true ${quote(user.name)} ${quote(user.password)} ${user.privilege ?? 'admin'} ${sessions} none md5`,
    ),
    '',
  ].join('\n');
}

const COMMANDS = [
  'mc_setbmc 0x20',
  'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02',
  'mc_enable 0x20',
  '',
].join('\n');

function randomPassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let out = '';
  for (let i = 0; i < 16; i += 1) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/**
 * Starts OpenIPMI's `ipmi_sim` on 127.0.0.1 and a free UDP port, with its own lan.conf, command
 * file, users and a chassis_control power hook that records the power state and boot device in
 * files of a temp dir. Resolves once the port answers an ASF ping. If ipmi_sim is missing or
 * does not start, rejects with the reason and its output: tests fail loudly, never skip.
 */
export async function startIpmiSim(options: IpmiSimOptions = {}): Promise<IpmiSim> {
  const binary = options.ipmiSimPath ?? process.env['VLAB_IPMI_SIM'] ?? '/usr/bin/ipmi_sim';
  if (!existsSync(binary)) {
    throw new Error(
      `OpenIPMI ipmi_sim not found at ${binary}: install the Debian package openipmi (scripts/test.sh does) or set VLAB_IPMI_SIM`,
    );
  }
  const users = options.users ?? [{ name: 'vlab', password: randomPassword() }];
  const first = users[0];
  if (first === undefined) throw new Error('startIpmiSim: users is empty');
  for (const user of users) {
    if (Buffer.byteLength(user.name) > 16 || Buffer.byteLength(user.password) > 20) {
      throw new Error(`startIpmiSim: user "${user.name}": names have ≤ 16 bytes, passwords ≤ 20`);
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'vlab-ipmi-sim-'));
  const entry = killAtExit({ pid: 0, dir });
  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const confPath = join(dir, 'lan.conf');
  const commandsPath = join(dir, 'cmds.emu');

  const launch = async (): Promise<void> => {
    const started = spawn(binary, ['-c', confPath, '-f', commandsPath, '-s', dir, '-n', '-p'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const append = (chunk: string): void => {
      output = (output + chunk).slice(-64 * 1024);
    };
    started.stdout?.setEncoding('utf8');
    started.stderr?.setEncoding('utf8');
    started.stdout?.on('data', append);
    started.stderr?.on('data', append);
    let spawnError: Error | undefined;
    started.once('error', (error) => {
      spawnError = error;
    });
    entry.pid = started.pid ?? 0;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (spawnError !== undefined)
        throw new Error(`ipmi_sim could not be started: ${spawnError.message}`);
      if (started.exitCode !== null || started.signalCode !== null) {
        const how =
          started.exitCode === null
            ? `was killed by ${started.signalCode}`
            : `exited with code ${started.exitCode}`;
        throw new Error(`ipmi_sim ${how} while starting`);
      }
      if (await pingAnswered(port, 200)) break;
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(
          `ipmi_sim did not answer an ASF ping on UDP port ${port} within ${startTimeoutMs} ms`,
        );
      }
      await delay(20);
    }
    child = started;
  };

  try {
    await writeFile(join(dir, 'hook.sh'), hookScript(dir), { mode: 0o755 });
    await chmod(join(dir, 'hook.sh'), 0o755);
    await writeFile(join(dir, 'power'), options.power === 'on' ? '1\n' : '0\n');
    await writeFile(join(dir, 'hook.log'), '');
    await writeFile(commandsPath, COMMANDS);
    for (let attempt = 1; ; attempt += 1) {
      port = await freeUdpPort();
      const serialPort = await freePort();
      await writeFile(confPath, lanConf(dir, port, serialPort, users, options), { mode: 0o600 });
      output = '';
      try {
        await launch();
        break;
      } catch (error) {
        // Another process took a port between choosing and binding it: try new ones.
        if (attempt < 5 && /in use/i.test(output)) continue;
        throw new Error(
          `${(error as Error).message} (${binary} -c ${confPath} -f ${commandsPath} -s ${dir} -n -p); ipmi_sim output:\n${output.trim() || '(empty)'}`,
        );
      }
    }
  } catch (error) {
    if (entry.pid > 0) signalAll([entry.pid, ...descendants(entry.pid)], 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    forgetAtExit(entry);
    throw error;
  }

  const waitExit = async (proc: ChildProcess | undefined): Promise<void> => {
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await Promise.race([
      new Promise<void>((resolve) => proc.once('exit', () => resolve())),
      delay(5000),
    ]);
  };
  const killAll = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    const pids = [entry.pid, ...descendants(entry.pid)];
    signalAll(pids, signal);
    await waitExit(proc);
    for (let round = 0; round < 100 && pids.some(isAlive); round += 1) {
      await delay(20);
      if (round === 50) signalAll(pids.filter(isAlive), 'SIGKILL');
    }
  };
  let stopped = false;
  const sim: IpmiSim = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    users,
    username: first.name,
    password: first.password,
    dir,
    get pid() {
      return entry.pid;
    },
    async powerState() {
      const text = await readFile(join(dir, 'power'), 'utf8').catch(() => '0');
      return text.trim() === '1' ? 'on' : 'off';
    },
    async setPowerState(state) {
      await writeFile(join(dir, 'power'), state === 'on' ? '1\n' : '0\n');
    },
    async bootDevice() {
      const text = await readFile(join(dir, 'boot'), 'utf8').catch(() => undefined);
      return text?.trim();
    },
    async hookCalls() {
      const text = await readFile(join(dir, 'hook.log'), 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line.length > 0);
    },
    async clearHookCalls() {
      await writeFile(join(dir, 'hook.log'), '');
    },
    log: () => output,
    async restart() {
      await killAll('SIGKILL');
      output = '';
      try {
        await launch();
      } catch (error) {
        throw new Error(
          `${(error as Error).message} (restart on port ${port}); ipmi_sim output:\n${output.trim() || '(empty)'}`,
        );
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await killAll('SIGTERM');
      await rm(dir, { recursive: true, force: true });
      forgetAtExit(entry);
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
  return sim;
}
