import { setTimeout as delay } from 'node:timers/promises';
import { type RunOutput, run } from './exec.js';

/** How to reach a computer's BMC over RMCP+ (IPMI v2.0 lanplus). @public */
export interface BmcAddress {
  readonly host: '127.0.0.1';
  /** UDP port of the BMC's LAN channel. */
  readonly port: number;
  /** An administrator account of the BMC. */
  readonly user: string;
  readonly password: string;
  /** The cipher suite to use: 3 (ipmi_sim has no SHA-256, so not ipmitool's default 17). */
  readonly cipherSuite: 3;
}

/**
 * `lan.conf` of a computer's ipmi_sim: one LAN channel on 127.0.0.1, one admin user, the power
 * program as `chassis_control` hook with the computer's directory as device argument (the
 * simulator appends `get power`, `set power 1` … after it), and the VM-codec serial line without
 * which chassis power commands answer 0xCC.
 */
export function lanConf(options: {
  readonly name: string;
  readonly bmc: BmcAddress;
  readonly serialPort: number;
  readonly guid: string;
  readonly powerProgram: string;
  readonly computerDir: string;
}): string {
  for (const value of [options.powerProgram, options.computerDir, options.bmc.password]) {
    if (/["\s\\]/.test(value))
      throw new Error(`lan.conf value must not hold quotes or spaces: ${value}`);
  }
  return [
    `# @vlab/testlab BMC of ${options.name}`,
    `name "${options.name}"`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${options.bmc.host} ${options.bmc.port}`,
    '    priv_limit admin',
    '    allowed_auths_callback none md5 straight',
    '    allowed_auths_user none md5 straight',
    '    allowed_auths_operator none md5 straight',
    '    allowed_auths_admin none md5 straight',
    `    guid ${options.guid}`,
    '  endlan',
    `  chassis_control "${options.powerProgram} ${options.computerDir}"`,
    `  serial 15 127.0.0.1 ${options.serialPort} codec VM`,
    '  user 1 false "" "" user 10 none',
    `  user 2 true "${options.bmc.user}" "${options.bmc.password}" admin 10 none md5 straight`,
    '',
  ].join('\n');
}

/** The simulator's command file: one BMC management controller. */
export const CMDS_EMU = [
  'mc_setbmc 0x20',
  'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02',
  'mc_enable 0x20',
  '',
].join('\n');

/** Runs `ipmitool -I lanplus -C 3` against `bmc`. */
export function ipmitool(
  bmc: BmcAddress,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<RunOutput> {
  return run(
    'ipmitool',
    [
      '-I',
      'lanplus',
      '-C',
      String(bmc.cipherSuite),
      '-H',
      bmc.host,
      '-p',
      String(bmc.port),
      '-U',
      bmc.user,
      // The password from the environment, never in argv (where ps shows it).
      '-E',
      // A hook under load (many guests booting on two cores) can take over a second: wait
      // 3 s per try, 4 tries. Power and boot commands are idempotent, so a retry is harmless.
      '-N',
      '3',
      '-R',
      '4',
      ...args,
    ],
    { timeoutMs, env: { IPMI_PASSWORD: bmc.password } },
  );
}

/** The chassis power as the BMC reports it over RMCP+. */
export async function bmcPower(bmc: BmcAddress): Promise<'on' | 'off'> {
  const out = await ipmitool(bmc, ['power', 'status']);
  const state = /Chassis Power is (on|off)/.exec(out.stdout)?.[1];
  if (out.code !== 0 || state === undefined) {
    throw new Error(
      `BMC ${bmc.host}:${bmc.port} did not report power (ipmitool exit ${out.code}): ${out.stderr.trim() || out.stdout.trim()}`,
    );
  }
  return state as 'on' | 'off';
}

/** Resolves once the BMC answers `power status`; rejects with the last error after `timeoutMs`. */
export async function waitForBmc(bmc: BmcAddress, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await bmcPower(bmc);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(100);
    }
  }
}
