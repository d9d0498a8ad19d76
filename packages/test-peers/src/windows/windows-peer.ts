/**
 * The scripted Windows peer: an SSH server (ssh2) on 127.0.0.1 that answers exec requests the way
 * Windows' OpenSSH server does when its default shell is cmd.exe and the command starts
 * powershell.exe: it decodes `-EncodedCommand`, parses the script with the real PowerShell grammar
 * and runs it against a modelled Windows machine, with only the commands it models.
 *
 * Sources: cmd.exe's messages and its 8191-character command line limit
 * (https://learn.microsoft.com/troubleshoot/windows-client/shell-experience/command-line-string-limitation),
 * powershell.exe's -EncodedCommand (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe?view=powershell-5.1).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type * as Ssh2 from 'ssh2';
import ssh2 from 'ssh2';
import { basicCommands } from './commands/basic-commands.js';
import { machineCommands } from './commands/model-commands.js';
import {
  type CommandDefinition,
  CommandTable,
  type ProcessInfo,
  type ProcessTable,
  type WindowsSession,
} from './interpreter/command.js';
import { executeScript } from './interpreter/exec.js';
import { WindowsMachine } from './model/windows-machine.js';

/** cmd.exe's longest command line (characters). */
export const CMD_MAX_COMMAND_LINE = 8191;

const POWERSHELL_PREFIX = 'powershell.exe -NoProfile -NonInteractive -EncodedCommand ';

/** Options of {@link startWindowsPeer}. */
export interface WindowsPeerOptions {
  /** The one account that may log in. */
  readonly user: string;
  /** Accepts password authentication with this password. */
  readonly password?: string;
  /** OpenSSH public key lines (`ssh-ed25519 AAAA… comment`) accepted for `user`. */
  readonly authorizedKeys?: readonly string[];
  /** The modelled Windows (default: a new WindowsMachine with the process-wide shared host key files). */
  readonly machine?: WindowsMachine;
  /** Commands besides the basic ones (Write-Output, ConvertTo-Json, taskkill.exe …). */
  readonly commands?: readonly CommandDefinition[];
}

/** One exec request as the peer saw it. */
export interface ExecRecord {
  readonly pid: number;
  /** The raw exec command line. */
  readonly commandLine: string;
  /** The decoded script, when it was a powershell.exe -EncodedCommand line. */
  readonly script: string | undefined;
  /** The exit status sent, or 'killed' (taskkill: status 1), once it ended. */
  outcome: number | 'killed' | undefined;
}

/** A command start, as reported to tests. */
export interface CommandStart {
  readonly pid: number;
  readonly name: string;
}

/**
 * Events of `peer.events`: 'exec' (ExecRecord) when an exec starts, 'command' (CommandStart) when
 * a modelled command starts, 'exit' (ExecRecord) when an exec ended, 'internal-error' (Error) on a
 * bug of the peer itself.
 */
export interface WindowsPeer extends AsyncDisposable {
  readonly host: '127.0.0.1';
  readonly port: number;
  /**
   * The public key sshd presents now (the machine's ed25519 host key, else its first), OpenSSH
   * one-line format (`ssh-ed25519 AAAA…`), for known_hosts. Changes when sshd restarts with new keys.
   */
  readonly hostKey: string;
  readonly user: string;
  /** The modelled Windows. */
  readonly state: WindowsMachine;
  readonly events: EventEmitter;
  /** Every decoded script, in exec order. */
  readonly scripts: readonly string[];
  /** Every raw exec command line, in order. */
  readonly commandLines: readonly string[];
  readonly execs: readonly ExecRecord[];
  /** Errors of the peer itself (should stay empty). */
  readonly internalErrors: readonly Error[];
  /**
   * Resolves when a command of that name (case-insensitive) starts. Each call claims the next
   * start not claimed before, so a start that happened before the call still counts.
   */
  whenCommandStarts(name: string): Promise<CommandStart>;
  /** Ends every SSH connection (the listener stays). */
  dropConnections(): void;
  /** Resolves once the peer accepts TCP connections (after the machine is on again). */
  whenAccepting(): Promise<void>;
  /** Ends everything: connections, execs, the listener. */
  close(): Promise<void>;
}

interface RunningExec {
  readonly info: ProcessInfo;
  readonly record: ExecRecord;
  kill(): void;
}

/** Starts a scripted Windows peer on 127.0.0.1 and a free port. */
export async function startWindowsPeer(options: WindowsPeerOptions): Promise<WindowsPeer> {
  // Shared host key files keep a default machine cheap (no RSA key generation per peer).
  const machine = options.machine ?? new WindowsMachine({ hostKeys: 'shared' });
  const table = new CommandTable([
    ...basicCommands,
    ...machineCommands,
    ...(options.commands ?? []),
  ]);
  const authorized = (options.authorizedKeys ?? []).map((line) => {
    const parsed = ssh2.utils.parseKey(line);
    if (parsed instanceof Error) throw new Error(`authorizedKeys: ${parsed.message}`);
    return parsed;
  });

  const events = new EventEmitter();
  const scripts: string[] = [];
  const commandLines: string[] = [];
  const execs: ExecRecord[] = [];
  const internalErrors: Error[] = [];
  const starts: CommandStart[] = [];
  const waiters: { name: string; resolve: (start: CommandStart) => void }[] = [];
  const claimed = new Set<CommandStart>();
  const running = new Map<number, RunningExec>();
  const sockets = new Set<Socket>();
  let nextPid = 4000;
  let nextParentPid = 3000;
  let closed = false;

  const recordStart = (start: CommandStart): void => {
    starts.push(start);
    events.emit('command', start);
    const waiter = waiters.find((w) => w.name === start.name.toLowerCase());
    if (waiter !== undefined) {
      waiters.splice(waiters.indexOf(waiter), 1);
      claimed.add(start);
      waiter.resolve(start);
    }
  };

  const processes: ProcessTable = {
    list: () => [...running.values()].map((exec) => exec.info),
    kill: (pid) => {
      const exec = running.get(pid);
      if (exec === undefined) return false;
      exec.kill();
      return true;
    },
  };

  const internalError = (error: unknown): void => {
    const wrapped = error instanceof Error ? error : new Error(String(error));
    internalErrors.push(wrapped);
    events.emit('internal-error', wrapped);
  };

  const handleExec = (
    channel: Ssh2.ServerChannel,
    commandLine: string,
    connection: { readonly parentPid: number; readonly env: ReadonlyMap<string, string> },
  ): void => {
    const { parentPid } = connection;
    commandLines.push(commandLine);
    let ended = false;
    const finish = (status: number): void => {
      if (ended) return;
      ended = true;
      try {
        channel.exit(status >>> 0);
        channel.end();
      } catch (error) {
        internalError(error);
      }
    };
    const refuse = (stderr: string): void => {
      const record: ExecRecord = { pid: 0, commandLine, script: undefined, outcome: 1 };
      execs.push(record);
      channel.stderr.write(stderr);
      finish(1);
      events.emit('exit', record);
    };
    if (commandLine.length > CMD_MAX_COMMAND_LINE) {
      refuse('The command line is too long.\r\n');
      return;
    }
    if (!commandLine.startsWith(POWERSHELL_PREFIX)) {
      const first = commandLine.startsWith('"')
        ? commandLine.slice(1).split('"')[0]
        : commandLine.trim().split(/\s+/)[0];
      if (
        (first ?? '').toLowerCase() === 'powershell.exe' ||
        (first ?? '').toLowerCase() === 'powershell'
      ) {
        refuse(
          `the Windows peer models only '${POWERSHELL_PREFIX}<base64>' command lines, not: ${commandLine.slice(0, 200)}\r\n`,
        );
        return;
      }
      refuse(
        `'${first ?? ''}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`,
      );
      return;
    }
    const encoded = commandLine.slice(POWERSHELL_PREFIX.length);
    const bytes = Buffer.from(encoded, 'base64');
    if (
      !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) ||
      bytes.toString('base64') !== encoded ||
      bytes.length % 2 !== 0
    ) {
      refuse(
        'Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.\r\n',
      );
      return;
    }
    const script = bytes.toString('utf16le');
    scripts.push(script);
    const pid = nextPid;
    nextPid += 4;
    const record: ExecRecord = { pid, commandLine, script, outcome: undefined };
    execs.push(record);

    // Bytes, decoded once whole: a chunk may end inside a multi-byte character.
    const stdinChunks: Buffer[] = [];
    let stdinDone = false;
    const stdinWaiters: (() => void)[] = [];
    channel.on('data', (chunk: Buffer) => {
      stdinChunks.push(chunk);
    });
    const stdinEnded = (): void => {
      stdinDone = true;
      for (const resolve of stdinWaiters.splice(0)) resolve();
    };
    channel.on('end', stdinEnded);
    const stdin = async (): Promise<string> => {
      if (!stdinDone) await new Promise<void>((resolve) => stdinWaiters.push(resolve));
      return Buffer.concat(stdinChunks).toString('utf8');
    };

    const controller = new AbortController();
    const end = (outcome: number | 'killed'): void => {
      if (record.outcome !== undefined) return;
      record.outcome = outcome;
      running.delete(pid);
      stdinEnded();
      finish(outcome === 'killed' ? 1 : outcome);
      events.emit('exit', record);
      // Windows acts on a Stop-Computer/Restart-Computer once the exec that asked has ended.
      machine.flushPendingPower();
    };
    running.set(pid, {
      info: { pid, parentPid, imageName: 'powershell.exe', user: options.user },
      record,
      kill: () => {
        controller.abort();
        end('killed');
      },
    });
    channel.on('close', () => {
      // The client closed the channel: Windows' sshd ends the process.
      if (record.outcome === undefined) {
        controller.abort();
        end('killed');
      }
    });
    const session: WindowsSession = {
      pid,
      parentPid,
      user: options.user,
      machine,
      signal: controller.signal,
      stdout: (text) => {
        if (!controller.signal.aborted && !ended) channel.write(text);
      },
      stderr: (text) => {
        if (!controller.signal.aborted && !ended) channel.stderr.write(text);
      },
      // What Windows' sshd gives a session: the user's environment and the SSH_* variables
      // (the OS module reads SSH_CONNECTION to learn the management address). Keys lowercase.
      env: new Map(
        [...machine.environmentFor(options.user), ...connection.env].map(([key, value]) => [
          key.toLowerCase(),
          value,
        ]),
      ),
      processes,
      commandStarted: (name) => recordStart({ pid, name }),
    };
    events.emit('exec', record);
    executeScript(script, table, session, stdin).then(
      (outcome) => end(outcome.kind === 'killed' ? 'killed' : outcome.code),
      (error: unknown) => {
        internalError(error);
        session.stderr(`vlab Windows peer internal error: ${(error as Error).message}\r\n`);
        end(1);
      },
    );
  };

  const onClient = (client: Ssh2.Connection, info: Ssh2.ClientInfo): void => {
    const parentPid = nextParentPid;
    nextParentPid += 4;
    const connection = {
      parentPid,
      env: new Map([
        ['SSH_CLIENT', `${info.ip} ${info.port} ${port}`],
        ['SSH_CONNECTION', `${info.ip} ${info.port} 127.0.0.1 ${port}`],
      ]),
    };
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      const methods: ('password' | 'publickey')[] = [];
      if (options.password !== undefined) methods.push('password');
      if (authorized.length > 0) methods.push('publickey');
      if (ctx.username !== options.user) {
        ctx.reject(methods);
        return;
      }
      if (
        ctx.method === 'password' &&
        options.password !== undefined &&
        ctx.password === options.password
      ) {
        ctx.accept();
        return;
      }
      if (ctx.method === 'publickey') {
        const key = authorized.find(
          (candidate) =>
            candidate.type === ctx.key.algo && candidate.getPublicSSH().equals(ctx.key.data),
        );
        if (key !== undefined) {
          if (ctx.signature === undefined) {
            ctx.accept();
            return;
          }
          if (ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
            ctx.accept();
            return;
          }
        }
      }
      ctx.reject(methods);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          try {
            handleExec(channel, info.command, connection);
          } catch (error) {
            internalError(error);
            channel.exit(1);
            channel.end();
          }
        });
        session.on('pty', (_accept, reject) => reject());
        session.on('shell', (_accept, reject) => reject());
        session.on('subsystem', (_accept, reject) => reject());
        session.on('env', (_accept, reject) => reject?.());
      });
      client.on('tcpip', (_accept, reject) => reject());
      client.on('request', (_accept, reject) => reject?.());
    });
  };

  /**
   * sshd as it starts: with the machine's host key files (C:\ProgramData\ssh\ssh_host_*_key),
   * generated first when there are none — Windows' OpenSSH service generates missing host keys
   * when it starts (the install docs' first start; modelled as every start). Connections already
   * open keep the keys they were made with, as with a real restart.
   */
  const startSshd = (): { server: Ssh2.Server; publicKey: string } => {
    if (machine.hostKeys().length === 0) machine.generateMissingHostKeys();
    const keys = machine.hostKeys();
    const preferred = keys.find((key) => key.type === 'ed25519') ?? keys[0];
    if (preferred?.publicKey == null) throw new Error('the machine has no readable host key');
    const server = new ssh2.Server({ hostKeys: keys.map((key) => key.privateKey) }, onClient);
    server.on('error', internalError);
    return { server, publicKey: preferred.publicKey.split(' ').slice(0, 2).join(' ') };
  };
  let sshd = startSshd();
  const onService = (name: string, action: string): void => {
    if (!closed && name.toLowerCase() === 'sshd' && action !== 'stop') sshd = startSshd();
  };
  machine.events.on('service', onService);

  const listener: NetServer = createServer((socket) => {
    if (machine.power !== 'on' || closed) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // As OpenSSH's sshd does for a session: without it every exec waits out delayed ACKs (~90 ms).
    socket.setNoDelay(true);
    sshd.server.injectSocket(socket);
  });
  listener.on('error', internalError);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const port = address.port;
  let listening = true;
  let closing: Promise<void> = Promise.resolve();
  let accepting: Promise<void> = Promise.resolve();

  /**
   * Ends every exec and connection. `graceful`: what was already written (an exec's exit status,
   * say) still leaves before the connection ends, as when Windows shuts down after the exec that
   * asked for it; otherwise the sockets are destroyed at once.
   */
  const dropConnections = (graceful = false): void => {
    for (const exec of [...running.values()]) exec.kill();
    for (const socket of sockets) {
      // Data stuck behind a client that does not read would hold a graceful end forever.
      if (!graceful || socket.writableLength > 0) socket.destroy();
      else {
        socket.once('finish', () => socket.destroy());
        socket.end();
      }
    }
  };

  // A powered-off machine answers nothing: drop all, stop listening; listen again when it is on.
  const onPower = (event: string): void => {
    if (closed) return;
    if (event === 'off' || event === 'reboot') {
      dropConnections(true);
      if (event === 'off' && listening) {
        listening = false;
        closing = new Promise((resolve) => listener.close(() => resolve()));
      }
    } else if (event === 'on') {
      // A new boot: sshd starts again, with the host key files as they are now.
      sshd = startSshd();
      if (listening) return;
      listening = true;
      accepting = closing.then(
        () =>
          new Promise<void>((resolve) => {
            if (closed) resolve();
            else listener.listen(port, '127.0.0.1', () => resolve());
          }),
      );
    }
  };
  machine.events.on('power', onPower);

  const peer: WindowsPeer = {
    host: '127.0.0.1',
    port,
    get hostKey() {
      return sshd.publicKey;
    },
    user: options.user,
    state: machine,
    events,
    scripts,
    commandLines,
    execs,
    internalErrors,
    whenCommandStarts(name) {
      const lower = name.toLowerCase();
      const earlier = starts.find(
        (start) => start.name.toLowerCase() === lower && !claimed.has(start),
      );
      if (earlier !== undefined) {
        claimed.add(earlier);
        return Promise.resolve(earlier);
      }
      return new Promise((resolve) => waiters.push({ name: lower, resolve }));
    },
    dropConnections: () => dropConnections(),
    whenAccepting: () => accepting,
    async close() {
      if (closed) return;
      closed = true;
      machine.events.off('power', onPower);
      machine.events.off('service', onService);
      const socketsClosed = [...sockets].map(
        (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
      );
      dropConnections(true);
      await Promise.all(socketsClosed);
      await accepting;
      await closing;
      await new Promise<void>((resolve) => {
        if (!listener.listening) resolve();
        else listener.close(() => resolve());
      });
      listening = false;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
  return peer;
}
