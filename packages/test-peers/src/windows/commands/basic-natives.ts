/**
 * Native programs of Windows, as documented on Microsoft Learn:
 * - hostname: https://learn.microsoft.com/windows-server/administration/windows-commands/hostname
 *   (prints the computer name; any argument is an error: "sethostname: Use the Network Control Panel Applet to set hostname.")
 * - whoami: https://learn.microsoft.com/windows-server/administration/windows-commands/whoami
 *   (no arguments: `domain\user` in lowercase; for a local account the domain is the computer name)
 * - taskkill: https://learn.microsoft.com/windows-server/administration/windows-commands/taskkill
 *   (/PID, /T tree, /F force, /FI "USERNAME eq <name>"; success, "not found" and "no tasks" lines and
 *   exit code 128 as taskkill.exe prints them)
 */
import { defineNative, type NativeResult } from '../interpreter/command.js';
import { notModelled } from '../interpreter/errors.js';

export const hostnameExe = defineNative({
  names: ['hostname.exe', 'hostname'],
  source: 'https://learn.microsoft.com/windows-server/administration/windows-commands/hostname',
  run(call): NativeResult {
    if (call.positional.length > 0) {
      return {
        stdout: '',
        stderr: 'sethostname: Use the Network Control Panel Applet to set hostname.\r\n',
        exitCode: 1,
      };
    }
    return { stdout: `${call.session.machine.computerName}\r\n`, stderr: '', exitCode: 0 };
  },
});

export const whoamiExe = defineNative({
  names: ['whoami.exe', 'whoami'],
  source: 'https://learn.microsoft.com/windows-server/administration/windows-commands/whoami',
  run(call): NativeResult {
    if (call.positional.length > 0)
      throw notModelled(`whoami with arguments (${call.positional.join(' ')})`);
    const { machine, user } = call.session;
    return {
      stdout: `${machine.computerName.toLowerCase()}\\${user.toLowerCase()}\r\n`,
      stderr: '',
      exitCode: 0,
    };
  },
});

export const taskkillExe = defineNative({
  names: ['taskkill.exe', 'taskkill'],
  source: 'https://learn.microsoft.com/windows-server/administration/windows-commands/taskkill',
  run(call): NativeResult {
    const args = call.positional.map(String);
    let tree = false;
    let force = false;
    const pids: string[] = [];
    const filters: string[] = [];
    for (let i = 0; i < args.length; i += 1) {
      const arg = (args[i] ?? '').toLowerCase();
      if (arg === '/t' || arg === '-t') tree = true;
      else if (arg === '/f' || arg === '-f') force = true;
      else if ((arg === '/pid' || arg === '-pid') && i + 1 < args.length) {
        pids.push(args[i + 1] ?? '');
        i += 1;
      } else if ((arg === '/fi' || arg === '-fi') && i + 1 < args.length) {
        filters.push(args[i + 1] ?? '');
        i += 1;
      } else throw notModelled(`the taskkill argument '${args[i]}'`);
    }
    if (filters.length > 0) {
      if (pids.length > 0 || filters.length > 1)
        throw notModelled('taskkill with /FI and other selections');
      const filter = /^\s*USERNAME\s+eq\s+(.+?)\s*$/i.exec(filters[0] ?? '');
      if (filter === null) throw notModelled(`the taskkill filter '${filters[0]}'`);
      if (!force) throw notModelled('taskkill without /F');
      const wanted = (filter[1] ?? '').toLowerCase();
      const matches = call.session.processes.list().filter((process) => {
        const user = process.user.toLowerCase();
        return user === wanted || user.endsWith(`\\${wanted}`) || wanted.endsWith(`\\${user}`);
      });
      if (matches.length === 0) {
        return {
          stdout: 'INFO: No tasks running with the specified criteria.\r\n',
          stderr: '',
          exitCode: 0,
        };
      }
      let stdout = '';
      for (const process of matches) {
        if (!call.session.processes.kill(process.pid, 'taskkill')) continue;
        stdout += tree
          ? `SUCCESS: The process with PID ${process.pid} (child process of PID ${process.parentPid}) has been terminated.\r\n`
          : `SUCCESS: The process with PID ${process.pid} has been terminated.\r\n`;
      }
      return { stdout, stderr: '', exitCode: 0 };
    }
    if (pids.length === 0) throw notModelled('taskkill without /PID');
    // Console processes ignore taskkill's WM_CLOSE; only /F ends them. Not modelled without /F.
    if (!force) throw notModelled('taskkill without /F');
    let stdout = '';
    let stderr = '';
    let failed = false;
    for (const text of pids) {
      const pid = /^\d+$/.test(text) ? Number(text) : Number.NaN;
      const process = call.session.processes.list().find((candidate) => candidate.pid === pid);
      if (process === undefined || !call.session.processes.kill(pid, 'taskkill')) {
        stderr += `ERROR: The process "${text}" not found.\r\n`;
        failed = true;
        continue;
      }
      stdout += tree
        ? `SUCCESS: The process with PID ${pid} (child process of PID ${process.parentPid}) has been terminated.\r\n`
        : `SUCCESS: The process with PID ${pid} has been terminated.\r\n`;
    }
    return { stdout, stderr, exitCode: failed ? 128 : 0 };
  },
});
