// The scripted Windows peer over real SSH (ssh2's Client): the wire protocol of the design,
// exit codes, cmd.exe's limits and messages, taskkill, parse errors, power, and a clean close.
import { connect as tcpConnect } from 'node:net';
import type * as Ssh2 from 'ssh2';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { WindowsMachine } from '../src/windows/model/windows-machine.js';
import { ed25519KeyPair } from '../src/windows/ssh-key-pair.js';
import { startWindowsPeer, type WindowsPeer } from '../src/windows/windows-peer.js';
import { commandLine, wrapper } from './wrapper-script.js';

const USER = 'Administrator';
const PASSWORD = 'Pa55-w0rd!';

const peers: WindowsPeer[] = [];
const clients: Ssh2.Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end();
  for (const peer of peers.splice(0)) await peer.close();
});

async function start(
  options: Partial<Parameters<typeof startWindowsPeer>[0]> = {},
): Promise<WindowsPeer> {
  const peer = await startWindowsPeer({ user: USER, password: PASSWORD, ...options });
  peers.push(peer);
  return peer;
}

function login(
  peer: WindowsPeer,
  auth: Partial<Ssh2.ConnectConfig> = { password: PASSWORD },
): Promise<Ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    clients.push(client);
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve(client);
    });
    // After login, a dropped connection (power off, close) shows as 'close'; tests check that.
    client.on('error', (error) => {
      if (!ready) reject(error);
    });
    client.connect({
      host: peer.host,
      port: peer.port,
      username: USER,
      hostVerifier: (key: Buffer) =>
        key.equals(Buffer.from(peer.hostKey.split(' ')[1] ?? '', 'base64')),
      ...auth,
    });
  });
}

interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Starts an exec; `done` resolves when its channel closes. */
function exec(
  client: Ssh2.Client,
  command: string,
  stdin?: string,
): Promise<{ done: Promise<ExecResult> }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) {
        reject(error);
        return;
      }
      const result: ExecResult = { stdout: '', stderr: '', code: null };
      channel.on('data', (chunk: Buffer) => {
        result.stdout += chunk.toString('utf8');
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        result.stderr += chunk.toString('utf8');
      });
      channel.on('exit', (code: number | null) => {
        result.code = code;
      });
      const done = new Promise<ExecResult>((resolveDone) =>
        channel.on('close', () => resolveDone(result)),
      );
      if (stdin !== undefined) channel.end(stdin);
      else channel.end();
      resolve({ done });
    });
  });
}

async function run(client: Ssh2.Client, command: string, stdin?: string): Promise<ExecResult> {
  return (await exec(client, command, stdin)).done;
}

describe('startWindowsPeer', () => {
  it('runs a wrapper script with arguments and JSON on stdin', async () => {
    const peer = await start({
      machine: new WindowsMachine({ computerName: 'WIN-PEER', hostKeys: 'shared' }),
    });
    const client = await login(peer);
    const code = [
      'param($Name)',
      '$in = [Console]::In.ReadToEnd() | ConvertFrom-Json',
      '[ordered]@{ name = $Name; host = (hostname.exe); secret = $in.secret.Length } | ConvertTo-Json -Compress',
    ].join('\n');
    const result = await run(
      client,
      commandLine(wrapper(code, ["o'brien ‘x’"])),
      '{"secret":"hunter2-secret"}',
    );
    expect(result).toEqual({
      stdout: '{"name":"o\\u0027brien ‘x’","host":"WIN-PEER","secret":14}\r\n',
      stderr: `vlab-pid:${peer.execs[0]?.pid}\r\n`,
      code: 0,
    });
    expect(peer.scripts).toEqual([wrapper(code, ["o'brien ‘x’"])]);
    // Secrets travel on stdin, never on a command line.
    expect(peer.commandLines.join('\n')).not.toContain('hunter2-secret');
  });

  it('gives each exec its own pid and passes exit codes', async () => {
    const peer = await start();
    const client = await login(peer);
    const [a, b, c] = await Promise.all([
      run(client, commandLine(wrapper('exit 3'))),
      run(client, commandLine(wrapper("throw 'failed on purpose'"))),
      run(client, commandLine(wrapper("'fine'"))),
    ]);
    expect(a.code).toBe(3);
    expect(b).toMatchObject({ code: 1, stdout: '' });
    expect(b.stderr).toMatch(/^vlab-pid:\d+\r\nfailed on purpose\r\n$/);
    expect(c).toMatchObject({ code: 0, stdout: 'fine\r\n' });
    const pids = [a, b, c].map((result) => result.stderr.split('\r\n')[0]);
    expect(new Set(pids).size).toBe(3);
  });

  it('enforces cmd.exe’s 8191-character command line limit', async () => {
    const peer = await start();
    const client = await login(peer);
    // 58 characters of prefix + base64 of 3049 UTF-16 characters (8132) = 8190, the longest
    // encoded command that fits (base64 comes in blocks of 4).
    const fits = `'x'${' '.repeat(3046)}`;
    expect(commandLine(fits)).toHaveLength(8190);
    expect(await run(client, commandLine(fits))).toEqual({ stdout: 'x\r\n', stderr: '', code: 0 });
    expect(commandLine(`${fits} `)).toHaveLength(8194);
    expect(await run(client, commandLine(`${fits} `))).toEqual({
      stdout: '',
      stderr: 'The command line is too long.\r\n',
      code: 1,
    });
    // The limit itself: 8191 characters reach cmd.exe, 8192 do not.
    expect((await run(client, 'x'.repeat(8191))).stderr).toMatch(
      /is not recognized as an internal/,
    );
    expect((await run(client, 'x'.repeat(8192))).stderr).toBe('The command line is too long.\r\n');
  });

  it('answers any other command as cmd.exe does', async () => {
    const peer = await start();
    const client = await login(peer);
    expect(await run(client, 'ls -la /')).toEqual({
      stdout: '',
      stderr:
        "'ls' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
      code: 1,
    });
    const other = await run(client, "powershell.exe -Command 'hostname'");
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('models only');
    expect(peer.scripts).toEqual([]);
  });

  it('reports a parse error as a ParserError, exit 1', async () => {
    const peer = await start();
    const client = await login(peer);
    const result = await run(client, commandLine('if (1 -eq 1 {'));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^At line:1 char:\d+\r\n/);
    expect(result.stderr).toContain('ParserError');
  });

  it('ends a running exec with taskkill at a known point', async () => {
    const peer = await start();
    const client = await login(peer);
    const sleeping = await exec(client, commandLine(wrapper('Start-Sleep -Seconds 300')));
    const started = await peer.whenCommandStarts('Start-Sleep');
    const kill = await run(
      client,
      commandLine(wrapper('param($Id) & taskkill.exe /T /F /PID $Id', [String(started.pid)])),
    );
    expect(kill.code).toBe(0);
    expect(kill.stdout).toMatch(
      new RegExp(
        `^SUCCESS: The process with PID ${started.pid} \\(child process of PID \\d+\\) has been terminated\\.\\r\\n$`,
      ),
    );
    const killed = await sleeping.done;
    expect(killed).toEqual({ stdout: '', stderr: `vlab-pid:${started.pid}\r\n`, code: 1 });
    expect(peer.execs.find((record) => record.pid === started.pid)?.outcome).toBe('killed');
  });

  it('taskkill of an unknown pid: taskkill’s error and exit 128', async () => {
    const peer = await start();
    const client = await login(peer);
    const result = await run(
      client,
      commandLine(wrapper('param($Id) & taskkill.exe /T /F /PID $Id', ['99999'])),
    );
    expect(result.code).toBe(128);
    expect(result.stderr).toMatch(/\r\nERROR: The process "99999" not found\.\r\n$/);
  });

  it('authenticates by password or public key, and only the configured user', async () => {
    const key = ed25519KeyPair();
    const peer = await start({ authorizedKeys: [key.public] });
    await login(peer, { privateKey: key.private });
    await expect(login(peer, { password: 'wrong' })).rejects.toThrow(/authentication/i);
    const stranger = ed25519KeyPair();
    await expect(login(peer, { privateKey: stranger.private })).rejects.toThrow(/authentication/i);
  });

  it('drops connections when the machine powers off and accepts again when it is on', async () => {
    const machine = new WindowsMachine({ hostKeys: 'shared' });
    const peer = await start({ machine });
    const client = await login(peer);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    machine.powerOff();
    await closed;
    await expect(login(peer)).rejects.toThrow(/ECONNREFUSED/);
    machine.powerOn();
    await peer.whenAccepting();
    const again = await login(peer);
    expect((await run(again, commandLine("'back'"))).stdout).toBe('back\r\n');
  });

  it('a Restart-Computer exec ends with its status, then the machine reboots and accepts again', async () => {
    const { machineCommands } = await import('../src/windows/commands/model-commands.js');
    const machine = new WindowsMachine({ hostKeys: 'shared' });
    const peer = await start({ machine, commands: machineCommands });
    const client = await login(peer);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const result = await run(client, commandLine(wrapper('Restart-Computer -Force')));
    expect(result).toMatchObject({ code: 0, stdout: '' });
    await closed;
    expect(machine.bootCount).toBe(2);
    await peer.whenAccepting();
    const again = await login(peer);
    expect((await run(again, commandLine('hostname.exe'))).stdout).toBe(
      `${machine.computerName}\r\n`,
    );
  });

  it('close() ends execs and connections and frees the port', async () => {
    // The peer's listener is the only TCP server here (vitest's own timers and sockets come and go).
    const listeners = (): number =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;
    // A closed server's handle goes in the close phase of the event loop: two turns later at most.
    const nextTurn = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    };
    await nextTurn();
    const before = listeners();
    const peer = await startWindowsPeer({ user: USER, password: PASSWORD });
    const client = await login(peer);
    const sleeping = await exec(client, commandLine('Start-Sleep -Seconds 300'));
    await peer.whenCommandStarts('Start-Sleep');
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await peer.close();
    const result = await sleeping.done;
    expect(result.code).not.toBe(0);
    await clientClosed;
    expect(peer.execs[0]?.outcome).toBe('killed');
    const refused = await new Promise<string>((resolve) => {
      const socket = tcpConnect({ host: peer.host, port: peer.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(peer.internalErrors).toEqual([]);
    await nextTurn();
    expect(listeners()).toBe(before);
  });
});

describe('ed25519KeyPair', () => {
  it('gives only keys ssh2 can read back (its generator alone fails about 3 in 1000)', () => {
    for (let i = 0; i < 2000; i += 1) {
      expect(ssh2.utils.parseKey(ed25519KeyPair().private)).not.toBeInstanceOf(Error);
    }
  });
});
