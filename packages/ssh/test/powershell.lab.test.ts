import { isVlabError, Secret } from '@vlab/core';
import { POWERSHELL_HOSTILE_VALUES, startWindowsPeer, type WindowsPeer } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryHostKeyStore } from '../src/host-key.js';
import { SshCommunicator } from '../src/ssh-communicator.js';
import { SshPool } from '../src/ssh-pool.js';
import type { SshTarget } from '../src/target.js';
import { waitForSsh } from '../src/wait-for-ssh.js';

// The PowerShell dialect end to end: real SSH to @vlab/test-peers' scripted Windows peer, which
// decodes -EncodedCommand, parses it with PowerShell's grammar and runs what it models.
const PASSWORD = 'Adm1n pass';
let peer: WindowsPeer;
let pool: SshPool;
let target: SshTarget;
let windows: SshCommunicator;

beforeAll(async () => {
  peer = await startWindowsPeer({ user: 'Administrator', password: PASSWORD });
  const store = new MemoryHostKeyStore({ [`[${peer.host}]:${peer.port}`]: [peer.hostKey] });
  pool = new SshPool({ hostKeys: store });
  target = {
    host: peer.host,
    port: peer.port,
    user: 'Administrator',
    auth: { kind: 'password', password: new Secret(PASSWORD, 'administrator password') },
    computer: 'win-1',
    shell: 'powershell',
  };
  windows = new SshCommunicator(pool.client(target));
});

afterAll(async () => {
  await pool?.close();
  await peer?.close();
});

/** The execs the peer still runs, as `pid script` lines. */
function stillRunning(): string[] {
  return peer.execs
    .filter((exec) => exec.outcome === undefined)
    .map((exec) => `${exec.pid} ${exec.script}`);
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('the PowerShell dialect against the scripted Windows peer', () => {
  it('speaks PowerShell and answers the default probe', async () => {
    expect(windows.shell).toBe('powershell');
    expect(await waitForSsh(pool.client(target), { timeoutMs: 20_000 })).toBe(1);
  });

  it('hands every hostile value to the script as the same string', async () => {
    for (const value of POWERSHELL_HOSTILE_VALUES.filter((v) => v.length <= 1000)) {
      const result = await windows.runChecked([
        'param($A) [Console]::Out.Write($A.Length.ToString() + ":" + $A)',
        value,
      ]);
      expect(result.stdout.toString(), JSON.stringify(value.slice(0, 40))).toBe(
        `${value.length}:${value}`,
      );
    }
  });

  it('carries secrets on stdin, never on a command line', async () => {
    const secret = "p'w$(x)“d";
    const before = peer.commandLines.length;
    const result = await windows.runChecked(
      [
        '$in = [Console]::In.ReadToEnd() | ConvertFrom-Json\n[Console]::Out.Write($in.password.Length)',
      ],
      { stdin: JSON.stringify({ password: secret }) },
    );
    expect(result.stdout.toString()).toBe(String(secret.length));
    const lines = peer.commandLines.slice(before);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toContain(secret);
      expect(
        Buffer.from(line.split(' ').at(-1) as string, 'base64').toString('utf16le'),
      ).not.toContain(secret);
    }
  });

  it('reports exit codes: the script’s own, 1 for a terminating error with its message', async () => {
    expect((await windows.run(['exit 3'])).code).toBe(3);
    const failed = await windows.run(["throw 'the disk is on fire'"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr.toString()).toContain('the disk is on fire');
    expect(failed.stderr.toString()).not.toContain('vlab-pid:');
    const error = await rejection(windows.runChecked(["throw 'no'"]));
    expect(isVlabError(error, 'VLAB_ERR_COMMAND_FAILED')).toBe(true);
  });

  it('refuses a line over 8191 characters before anything is sent', async () => {
    const before = peer.commandLines.length;
    const error = await rejection(windows.run(['param($A) $A', 'x'.repeat(10 * 1024)]));
    expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
    expect(peer.commandLines.length).toBe(before);
  });

  it('refuses sudo, and put as root, on Windows', async () => {
    expect(
      isVlabError(
        await rejection(windows.run(['hostname'], { sudo: true })),
        'VLAB_ERR_ARGUMENT_INVALID',
      ),
    ).toBe(true);
    const put = await rejection(windows.put('/C:/ProgramData/vlab/x', 'x', { sudo: true }));
    expect(isVlabError(put, 'VLAB_ERR_ARGUMENT_INVALID')).toBe(true);
  });

  it('ends the process tree with taskkill on abort, and settles after it', async () => {
    const controller = new AbortController();
    const before = peer.commandLines.length;
    const running = rejection(
      windows.run(['Start-Sleep -Seconds 600'], { signal: controller.signal }),
    );
    const started = await peer.whenCommandStarts('Start-Sleep');
    controller.abort();
    const error = await running;
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    const scripts = peer.scripts.slice(before);
    const kill = scripts.find((script) => script.includes('taskkill.exe /T /F /PID'));
    expect(kill, 'a taskkill script reached the peer').toBeDefined();
    expect(kill).toContain(`'${started.pid}'`);
    expect(peer.execs.find((exec) => exec.pid === started.pid)?.outcome).toBe('killed');
    expect(stillRunning()).toEqual([]);
  });

  it('ends the process tree on a timeout too', async () => {
    const running = rejection(windows.run(['Start-Sleep -Seconds 600'], { timeoutMs: 1500 }));
    const started = await peer.whenCommandStarts('Start-Sleep');
    const error = await running;
    expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect(peer.execs.find((exec) => exec.pid === started.pid)?.outcome).toBe('killed');
    expect(stillRunning()).toEqual([]);
  });

  it('comes back after a reboot ended the connection under a running command', async () => {
    // The server ends the connection cleanly; until ssh2 emits its close, the socket is no longer
    // writable and ssh2 throws on a new channel. The pool must open another connection, not pick
    // this one again in a loop that never yields (it froze the process, timers and all).
    const running = windows.run(['Start-Sleep -Seconds 600']).catch((error: unknown) => error);
    await peer.whenCommandStarts('Start-Sleep');
    const booted = peer.state.bootId;
    peer.state.reboot();
    // Ended by the shutdown: an exit status if it still got out, else the connection was lost.
    const ended = await running;
    if (isVlabError(ended)) expect(ended.code).toBe('VLAB_ERR_CONNECTION_LOST');
    else expect((ended as { code: number }).code).not.toBe(0);
    await windows.waitUntilReachable({ timeoutMs: 30_000 });
    expect((await windows.run(['exit 4'])).code).toBe(4);
    expect(peer.state.bootId).not.toBe(booted);
  });
});
