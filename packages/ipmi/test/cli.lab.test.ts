import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type IpmiSim, startIpmiSim } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../src/cli-main.js';
import { ipmitoolChecked } from './lab.fixture.js';

// The vlab-ipmi command against the real ipmi_sim (cipher suite 3; -C 3 as ipmi_sim refuses 17).

let sim: IpmiSim;

beforeAll(async () => {
  sim = await startIpmiSim();
});

afterAll(async () => {
  await sim?.stop();
});

async function cli(
  args: readonly string[],
  env: Record<string, string> = { IPMI_PASSWORD: sim.password },
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readFile: async (path) => (await import('node:fs/promises')).readFile(path, 'utf8'),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

const base = () => ['-H', '127.0.0.1', '-p', String(sim.port), '-U', sim.username, '-C', '3'];
const admin = () => ({ port: sim.port, username: sim.username, password: sim.password });

describe('vlab-ipmi against ipmi_sim', () => {
  it('power on / status / off / cycle / reset / soft, with the password from $IPMI_PASSWORD', async () => {
    expect(await cli([...base(), '-E', 'power', 'on'])).toMatchObject({
      code: 0,
      stdout: 'Chassis Power Control: Up/On\n',
    });
    expect(await sim.powerState()).toBe('on');
    expect((await cli([...base(), '-E', 'power', 'status'])).stdout).toBe('Chassis Power is on\n');
    expect((await cli([...base(), '-E', 'power', 'off'])).code).toBe(0);
    expect(await sim.powerState()).toBe('off');
    expect(await ipmitoolChecked(admin(), 3, ['chassis', 'power', 'status'])).toMatch(/is off/);
    await sim.setPowerState('on');
    await sim.clearHookCalls();
    expect((await cli([...base(), '-E', 'power', 'cycle'])).stdout).toBe(
      'Chassis Power Control: Cycle\n',
    );
    expect((await cli([...base(), '-E', 'power', 'reset'])).code).toBe(0);
    expect((await sim.hookCalls()).some((line) => line.endsWith('set reset 1'))).toBe(true);
    expect((await cli([...base(), '-E', 'power', 'soft'])).code).toBe(0);
    expect((await sim.hookCalls()).some((line) => line.endsWith('set shutdown 1'))).toBe(true);
  });

  it('bootdev pxe --persistent --efi, with the password from a file', async () => {
    const file = join(sim.dir, 'password.txt');
    await writeFile(file, `${sim.password}\n`, { mode: 0o600 });
    const out = await cli([...base(), '-f', file, 'bootdev', 'pxe', '--persistent', '--efi'], {});
    expect(out).toMatchObject({ code: 0, stdout: 'Set Boot Device to pxe (persistent, EFI)\n' });
    expect(await sim.bootDevice()).toBe('pxe');
    expect((await cli([...base(), '-f', file, 'bootdev', 'disk'], {})).code).toBe(0);
    expect(await sim.bootDevice()).toBe('default');
  });

  it('mc info, as text and as JSON', async () => {
    const text = await cli([...base(), '-E', 'mc', 'info']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Firmware Revision\s*: 9\.08/);
    expect(text.stdout).toMatch(/Manufacturer ID\s*: 4753/);
    const json = await cli([...base(), '-E', '--json', 'mc', 'info']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ipmiVersion: '2.0', manufacturerId: 4753 });
  });

  it('never takes the password from argv, and says what to use', async () => {
    const out = await cli([...base(), '-P', 'secret', 'power', 'status']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/never taken from the command line/);
    const none = await cli([...base(), 'power', 'status'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/exactly one of -E/);
  });

  it('exits 1 with the error code for a wrong password, without printing it', async () => {
    const out = await cli([...base(), '-E', 'power', 'status'], {
      IPMI_PASSWORD: 'wrong-Passw0rd',
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/VLAB_ERR_IPMI_PASSWORD_WRONG/);
    expect(out.stderr).not.toContain('wrong-Passw0rd');
  });

  it('runs as a program (the bin entry), exit code and output included', async () => {
    const entry = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', entry, ...base(), '-E', 'power', 'status'],
          { env: { ...process.env, IPMI_PASSWORD: sim.password }, timeout: 30_000 },
          (error, stdout, stderr) =>
            resolve({
              code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
              stdout,
              stderr,
            }),
        );
      },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Chassis Power is (on|off)\n$/);
    expect(result.code).toBe(0);
  });
});
