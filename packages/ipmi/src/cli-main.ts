import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isVlabError, Secret } from '@vlab/core';
import { IpmiClient } from './client.js';
import type { BootDevice, PowerAction } from './protocol/commands.js';
import { BootDeviceSelector } from './protocol/constants.js';
import type { CipherSuiteId } from './protocol/crypto.js';

/** Where the CLI reads and writes; the real process by default, something else in tests. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readFile: (path: string) => Promise<string>;
}

const USAGE = `Usage: vlab-ipmi -H <host> -U <user> (-E | -f <file>) [options] <command>

Commands (as ipmitool names them):
  power status | on | off | cycle | reset | soft
  bootdev pxe | disk | bios | cdrom | safe | diag | floppy | none [--persistent] [--efi]
  mc info
  chassis status

Options:
  -H, --host <host>        BMC host name or address (required)
  -p, --port <port>        UDP port (default 623)
  -U, --user <name>        user name (required)
  -E, --env-password       read the password from $IPMI_PASSWORD (as ipmitool -E does)
      --password-env <var> read the password from this environment variable
  -f, --password-file <f>  read the password from the first line of this file
  -C, --cipher <n[,n]>     cipher suites to offer, in order (default 17,3)
  -L, --privilege <level>  user | operator | administrator (default administrator)
  -t, --timeout <ms>       timeout of each command, session set-up included (default 20000)
      --json               print the result as JSON
  -v, --verbose            print protocol events to stderr
  -h, --help               print this help

The password is never taken from the command line: argv is visible to every local user.
Exit codes: 0 success, 1 the BMC or the network failed (the error code is printed), 2 usage.`;

class UsageError extends Error {}

const POWER_ACTIONS: readonly string[] = ['status', 'on', 'off', 'cycle', 'reset', 'soft'];

async function readPassword(
  values: Record<string, string | boolean | undefined>,
  io: CliIo,
): Promise<Secret> {
  const sources = [values['env-password'], values['password-env'], values['password-file']].filter(
    (value) => value !== undefined && value !== false,
  );
  if (sources.length !== 1) {
    throw new UsageError('give the password with exactly one of -E, --password-env or -f');
  }
  if (typeof values['password-file'] === 'string') {
    const path = values['password-file'];
    let text: string;
    try {
      text = await io.readFile(path);
    } catch (error) {
      throw new UsageError(`cannot read the password file ${path}: ${(error as Error).message}`);
    }
    return new Secret(text.split(/\r?\n/)[0] ?? '', `password from ${path}`);
  }
  const name =
    typeof values['password-env'] === 'string' ? values['password-env'] : 'IPMI_PASSWORD';
  const value = io.env[name];
  if (value === undefined) throw new UsageError(`the environment variable ${name} is not set`);
  return new Secret(value, `password from $${name}`);
}

function parseSuites(text: string | undefined): CipherSuiteId[] | undefined {
  if (text === undefined) return undefined;
  const suites = text.split(',').map((part) => Number(part.trim()));
  if (!suites.every((suite) => suite === 3 || suite === 17)) {
    throw new UsageError(`-C takes 3 and/or 17 (comma-separated), not "${text}"`);
  }
  return suites as CipherSuiteId[];
}

/**
 * The `vlab-ipmi` command: parses `argv` (without `node` and the script), runs one command
 * against one BMC, prints the result like ipmitool does (or JSON) and returns the exit code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    if (argv.some((arg) => arg === '-P' || arg.startsWith('--password='))) {
      throw new UsageError(
        'the password is never taken from the command line; use -E ($IPMI_PASSWORD), --password-env or -f',
      );
    }
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: 'string', short: 'H' },
        port: { type: 'string', short: 'p' },
        user: { type: 'string', short: 'U' },
        'env-password': { type: 'boolean', short: 'E' },
        'password-env': { type: 'string' },
        'password-file': { type: 'string', short: 'f' },
        cipher: { type: 'string', short: 'C' },
        privilege: { type: 'string', short: 'L' },
        timeout: { type: 'string', short: 't' },
        persistent: { type: 'boolean' },
        efi: { type: 'boolean' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.stderr(`vlab-ipmi: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const words = parsed.positionals;
  if (values['help'] === true) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }

  let run: (client: IpmiClient) => Promise<string | object>;
  let target: Parameters<IpmiClient['bmc']>[0];
  let timeoutMs: number | undefined;
  try {
    const host = values['host'];
    const user = values['user'];
    if (typeof host !== 'string') throw new UsageError('-H <host> is required');
    if (typeof user !== 'string') throw new UsageError('-U <user> is required');
    const port = values['port'] === undefined ? undefined : Number(values['port']);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new UsageError(`-p takes a UDP port, not "${String(values['port'])}"`);
    }
    if (values['timeout'] !== undefined) {
      timeoutMs = Number(values['timeout']);
      if (!(timeoutMs > 0))
        throw new UsageError(`-t takes milliseconds, not "${String(values['timeout'])}"`);
    }
    const privilege = values['privilege'];
    if (
      privilege !== undefined &&
      !['user', 'operator', 'administrator'].includes(String(privilege))
    ) {
      throw new UsageError(`-L takes user, operator or administrator, not "${String(privilege)}"`);
    }
    const cipherSuites = parseSuites(values['cipher'] as string | undefined);
    const password = await readPassword(values, io);
    target = {
      host,
      username: user,
      password,
      ...(port === undefined ? {} : { port }),
      ...(cipherSuites === undefined ? {} : { cipherSuites }),
      ...(privilege === undefined
        ? {}
        : { privilege: privilege as 'user' | 'operator' | 'administrator' }),
    };
    run = command(words, values, timeoutMs, target);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`vlab-ipmi: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }

  const client = new IpmiClient({
    ...(values['verbose'] === true ? { debug: (line: string) => io.stderr(`${line}\n`) } : {}),
  });
  try {
    const result = await run(client);
    if (values['json'] === true) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout(`${typeof result === 'string' ? result : JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    if (isVlabError(error)) {
      io.stderr(`vlab-ipmi: ${error.message}\n`);
      if (values['json'] === true) {
        io.stdout(
          `${JSON.stringify({ error: { code: error.code, summary: error.summary, details: error.details } }, null, 2)}\n`,
        );
      }
      return 1;
    }
    throw error;
  } finally {
    await client.close();
  }
}

function command(
  words: readonly string[],
  values: Record<string, string | boolean | undefined>,
  timeoutMs: number | undefined,
  target: Parameters<IpmiClient['bmc']>[0],
): (client: IpmiClient) => Promise<string | object> {
  const json = values['json'] === true;
  const call = timeoutMs === undefined ? {} : { timeoutMs };
  const [verb, arg, ...rest] = words;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (verb === 'power') {
    if (arg === undefined || !POWER_ACTIONS.includes(arg)) {
      throw new UsageError(`power takes one of ${POWER_ACTIONS.join(', ')}`);
    }
    if (arg === 'status') {
      return async (client) => {
        const state = await client.bmc(target).powerStatus(call);
        return json ? { power: state } : `Chassis Power is ${state}`;
      };
    }
    const action = arg as PowerAction;
    return async (client) => {
      const result = await client.bmc(target).power(action, call);
      if (json) return result;
      const words: Record<string, string> = {
        on: 'Up/On',
        off: 'Down/Off',
        cycle: 'Cycle',
        reset: 'Reset',
        soft: 'Soft',
      };
      const note =
        result.confirmedBy === 'reply' ? '' : ' (reply lost; the chassis status confirms it)';
      return `Chassis Power Control: ${words[action] ?? action}${note}`;
    };
  }
  if (verb === 'bootdev') {
    if (arg === undefined || !Object.hasOwn(BootDeviceSelector, arg)) {
      throw new UsageError(`bootdev takes one of ${Object.keys(BootDeviceSelector).join(', ')}`);
    }
    const device = arg as BootDevice;
    return async (client) => {
      await client.bmc(target).setBootDevice(device, {
        ...call,
        persistent: values['persistent'] === true,
        efi: values['efi'] === true,
      });
      const how = [values['persistent'] === true ? 'persistent' : 'next boot only']
        .concat(values['efi'] === true ? ['EFI'] : [])
        .join(', ');
      return json
        ? {
            bootDevice: device,
            persistent: values['persistent'] === true,
            efi: values['efi'] === true,
          }
        : `Set Boot Device to ${device} (${how})`;
    };
  }
  if (verb === 'mc' && arg === 'info') {
    return async (client) => {
      const id = await client.bmc(target).deviceId(call);
      if (json) return id;
      return [
        `Device ID                 : ${id.deviceId}`,
        `Device Revision           : ${id.deviceRevision}`,
        `Firmware Revision         : ${id.firmwareRevision}`,
        `IPMI Version              : ${id.ipmiVersion}`,
        `Manufacturer ID           : ${id.manufacturerId}`,
        `Product ID                : ${id.productId} (0x${id.productId.toString(16).padStart(4, '0')})`,
        `Device Available          : ${id.deviceAvailable ? 'yes' : 'no'}`,
        `Provides Device SDRs      : ${id.providesDeviceSdrs ? 'yes' : 'no'}`,
      ].join('\n');
    };
  }
  if (verb === 'chassis' && arg === 'status') {
    return async (client) => {
      const status = await client.bmc(target).chassisStatus(call);
      if (json) return status;
      return [
        `System Power         : ${status.powerOn ? 'on' : 'off'}`,
        `Power Overload       : ${status.powerOverload}`,
        `Power Interlock      : ${status.interlock ? 'active' : 'inactive'}`,
        `Main Power Fault     : ${status.powerFault}`,
        `Power Control Fault  : ${status.powerControlFault}`,
        `Power Restore Policy : ${status.restorePolicy}`,
      ].join('\n');
    };
  }
  throw new UsageError(
    verb === undefined ? 'no command given' : `unknown command: ${words.join(' ')}`,
  );
}

/** The real process's I/O. */
export const processIo: CliIo = {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFile(path, 'utf8'),
};
