import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpmiClient } from '../src/index.js';
import { AppCmd, ChassisCmd, NetFn } from '../src/protocol/constants.js';
import { ipmitool, ipmitoolChecked } from './lab.fixture.js';
import { startTestBmc, type TestBmc } from './test-bmc.fixture.js';

// ipmi_sim has no SHA-256, and no other BMC runs here. So cipher suite 17 gets the best
// evidence available: the package's own BMC core (the BMC side of the same I/O-free protocol
// code) on a loopback port, and the real ipmitool 1.8.19 (an independent implementation of
// RAKP-HMAC-SHA256, HMAC-SHA256-128 and AES-CBC-128) opening sessions against it. Then this
// package's client does the same. This is not proof against a real BMC (see the README).

const USER = { name: 'admin', password: 'Sha256-Passw0rd' };
let bmc: TestBmc;

beforeAll(async () => {
  bmc = await startTestBmc({ users: [USER], cipherSuites: [17] });
});

afterAll(async () => {
  await bmc?.close();
});

const creds = () => ({ port: bmc.port, username: USER.name, password: USER.password });

describe('the real ipmitool -I lanplus -C 17 against the package’s BMC core', () => {
  it('opens a session and reads the power status', async () => {
    bmc.endpoint.chassis.powerOn = false;
    const before = bmc.endpoint.sessionsEstablished;
    expect(await ipmitoolChecked(creds(), 17, ['chassis', 'power', 'status'])).toMatch(
      /Chassis Power is off/,
    );
    expect(bmc.endpoint.sessionsEstablished).toBe(before + 1);
    bmc.endpoint.chassis.powerOn = true;
    expect(await ipmitoolChecked(creds(), 17, ['chassis', 'power', 'status'])).toMatch(
      /Chassis Power is on/,
    );
  });

  it('runs mc info (Get Device ID)', async () => {
    const info = await ipmitoolChecked(creds(), 17, ['mc', 'info']);
    expect(info).toMatch(/Firmware Revision\s*:\s*1\.02/);
    expect(info).toMatch(/IPMI Version\s*:\s*2\.0/);
    expect(info).toMatch(/Manufacturer ID\s*:\s*4542/);
    expect(info).toMatch(/Product ID\s*:\s*5905/);
  });

  it('switches power and sets the boot device; every command arrived intact', async () => {
    bmc.endpoint.chassis.powerOn = false;
    await ipmitoolChecked(creds(), 17, ['chassis', 'power', 'on']);
    expect(bmc.endpoint.chassis.powerOn).toBe(true);
    await ipmitoolChecked(creds(), 17, ['chassis', 'bootdev', 'pxe', 'options=persistent,efiboot']);
    expect(bmc.endpoint.chassis.bootFlags.slice(0, 2)).toEqual([0x80 | 0x40 | 0x20, 0x04]);
    // ipmitool closes its session at exit: the BMC saw Close Session and holds none.
    const closes = bmc.endpoint.log.filter(
      (l) => l.netFn === NetFn.APP && l.cmd === AppCmd.CLOSE_SESSION,
    );
    expect(closes.length).toBeGreaterThanOrEqual(2);
    expect(bmc.endpoint.activeSessionCount).toBe(0);
  });

  it('is refused with a wrong password (ipmitool checks the RAKP 2 code too)', async () => {
    const out = await ipmitool({ ...creds(), password: 'wrong-password' }, 17, [
      'chassis',
      'power',
      'status',
    ]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/RAKP 2 HMAC is invalid|Unable to establish/);
  });
});

describe('this package’s client with cipher suite 17 against the same BMC core', () => {
  it('opens a suite-17 session, switches power and sets the boot device', async () => {
    const client = new IpmiClient();
    const target = client.bmc({
      host: '127.0.0.1',
      port: bmc.port,
      username: USER.name,
      password: USER.password,
      cipherSuites: [17],
    });
    await target.power('off');
    expect(await target.powerStatus()).toBe('off');
    expect(await target.cipherSuite()).toBe(17);
    await target.power('on');
    expect(bmc.endpoint.chassis.powerOn).toBe(true);
    await target.setBootDevice('disk', { persistent: true });
    expect(await target.bootFlags()).toMatchObject({
      valid: true,
      persistent: true,
      efi: false,
      device: 'disk',
    });
    // What this client set, ipmitool -C 17 reads.
    expect(await ipmitoolChecked(creds(), 17, ['chassis', 'bootparam', 'get', '5'])).toMatch(
      /Boot Device Selector : Force Boot from default Hard-Drive/,
    );
    const device = await target.deviceId();
    expect(device).toMatchObject({ manufacturerId: 4542, productId: 0x1711, ipmiVersion: '2.0' });
    const status = bmc.endpoint.log.filter(
      (l) => l.netFn === NetFn.CHASSIS && l.cmd === ChassisCmd.GET_CHASSIS_STATUS,
    );
    expect(status.length).toBeGreaterThan(0);
    // close() ends the session with Close Session: the BMC holds none afterwards.
    expect(bmc.endpoint.activeSessionCount).toBe(1);
    await client.close();
    expect(bmc.endpoint.activeSessionCount).toBe(0);
  });

  it('is refused with VLAB_ERR_IPMI_PASSWORD_WRONG for a wrong password', async () => {
    await using client = new IpmiClient();
    const error = await client
      .bmc({
        host: '127.0.0.1',
        port: bmc.port,
        username: USER.name,
        password: 'nope',
        cipherSuites: [17],
      })
      .powerStatus()
      .catch((e: unknown) => e);
    expect(isVlabError(error, 'VLAB_ERR_IPMI_PASSWORD_WRONG')).toBe(true);
  });

  it('also serves suite 3 to ipmitool (the BMC side of the SHA-1 code)', async () => {
    const both = await startTestBmc({ users: [USER], cipherSuites: [3, 17] });
    try {
      expect(
        await ipmitoolChecked({ ...creds(), port: both.port }, 3, ['chassis', 'power', 'status']),
      ).toMatch(/Chassis Power is off/);
    } finally {
      await both.close();
    }
  });
});
