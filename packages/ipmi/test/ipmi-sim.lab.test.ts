import { createSocket } from 'node:dgram';
import { setTimeout as delay } from 'node:timers/promises';
import { isVlabError, Secret } from '@vlab/core';
import { type IpmiSim, startIpmiSim } from '@vlab/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpmiClient } from '../src/index.js';
import { PayloadType } from '../src/protocol/constants.js';
import {
  CIPHER_SUITES,
  deriveSessionKeys,
  kuidFromPassword,
  macEqual,
  rakp2AuthCode,
  sessionIntegrityKey,
} from '../src/protocol/crypto.js';
import { decodeRequest, decodeResponse } from '../src/protocol/message.js';
import { parseDatagram, peekPayloadType, unprotect } from '../src/protocol/packet.js';
import {
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
} from '../src/protocol/rakp.js';
import { ipmitoolChecked } from './lab.fixture.js';
import { startUdpProxy } from './udp-proxy.fixture.js';

// Against the real OpenIPMI ipmi_sim (2.0.33), started here on loopback with a chassis_control
// power hook. ipmi_sim speaks cipher suites 0–3 and refuses 17, so these tests run suite 3;
// every command is cross-checked with the real ipmitool (-C 3) against the same simulator.

const ADMIN = { name: 'admin', password: 'Adm1n-pass-ipmi' };
const OPERATOR = { name: 'oper', password: 'op3rator', privilege: 'operator' as const };
const READER = { name: 'reader', password: 'r3ader', privilege: 'user' as const };

let sim: IpmiSim;

beforeAll(async () => {
  sim = await startIpmiSim({ users: [ADMIN, OPERATOR, READER, ...extraUsers(6)] });
});

afterAll(async () => {
  await sim?.stop();
});

function extraUsers(count: number) {
  return Array.from({ length: count }, (_, i) => ({ name: `user${i}`, password: `pw-${i}-x` }));
}

function admin() {
  return { port: sim.port, username: ADMIN.name, password: ADMIN.password };
}

function target(overrides: Record<string, unknown> = {}) {
  return {
    host: '127.0.0.1',
    port: sim.port,
    username: ADMIN.name,
    password: new Secret(ADMIN.password, 'ipmi_sim admin'),
    cipherSuites: [3] as const,
    ...overrides,
  };
}

async function until<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const stop = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > stop) return value;
    await delay(50);
  }
}

describe('sessions with ipmi_sim', () => {
  it('opens a cipher suite 3 session and reads the chassis and device', async () => {
    await using client = new IpmiClient();
    const bmc = client.bmc(target());
    await sim.setPowerState('off');
    expect(await bmc.powerStatus()).toBe('off');
    expect(await bmc.cipherSuite()).toBe(3);
    const device = await bmc.deviceId();
    // Cross-check with ipmitool's mc info against the same simulator.
    const info = await ipmitoolChecked(admin(), 3, ['mc', 'info']);
    expect(info).toMatch(
      new RegExp(`Firmware Revision\\s*:\\s*${device.firmwareRevision.replace('.', '\\.')}`),
    );
    expect(info).toMatch(
      new RegExp(`IPMI Version\\s*:\\s*${device.ipmiVersion.replace('.', '\\.')}`),
    );
    expect(info).toMatch(new RegExp(`Manufacturer ID\\s*:\\s*${device.manufacturerId}\\b`));
    expect(info).toMatch(new RegExp(`Product ID\\s*:\\s*${device.productId}\\b`));
  });

  it('falls back from the default preference (17, then 3) to suite 3', async () => {
    await using client = new IpmiClient();
    const bmc = client.bmc(target({ cipherSuites: undefined }));
    await bmc.chassisStatus();
    expect(await bmc.cipherSuite()).toBe(3);
  });

  it('answers the ASF presence ping', async () => {
    await using client = new IpmiClient();
    const pong = await client.bmc(target()).ping();
    expect(pong.ipmi).toBe(true);
  });

  it('refuses suite 17 alone with VLAB_ERR_IPMI_CIPHER_UNSUPPORTED', async () => {
    await using client = new IpmiClient();
    const error = await client
      .bmc(target({ cipherSuites: [17] }))
      .chassisStatus()
      .catch((e: unknown) => e);
    expect(isVlabError(error, 'VLAB_ERR_IPMI_CIPHER_UNSUPPORTED')).toBe(true);
    expect((error as Error).message).toContain(`127.0.0.1:${sim.port}`);
    expect((error as Error).message).toMatch(/invalid authentication algorithm/);
  });

  it('fails a wrong password with VLAB_ERR_IPMI_PASSWORD_WRONG, without the password anywhere', async () => {
    await using client = new IpmiClient();
    const secret = 'WrongPassw0rd-xyz';
    const error = await client
      .bmc(target({ password: secret }))
      .chassisStatus()
      .catch((e: unknown) => e);
    expect(isVlabError(error, 'VLAB_ERR_IPMI_PASSWORD_WRONG')).toBe(true);
    const text = `${(error as Error).message}\n${JSON.stringify(error)}\n${(error as Error).stack}`;
    expect(text).not.toContain(secret);
    expect(text).not.toContain(ADMIN.password);
    expect((error as { details: Record<string, unknown> }).details['bmc']).toBe(
      `127.0.0.1:${sim.port}`,
    );
  });

  it('fails an unknown user with VLAB_ERR_IPMI_USER_UNKNOWN', async () => {
    await using client = new IpmiClient();
    const error = await client
      .bmc(target({ username: 'nobody' }))
      .chassisStatus()
      .catch((e: unknown) => e);
    expect(isVlabError(error, 'VLAB_ERR_IPMI_USER_UNKNOWN')).toBe(true);
    expect((error as Error).message).toContain('nobody');
  });

  it('runs a user-level session that may read the chassis but not switch it (0xD4)', async () => {
    // ipmi_sim 2.0.33 does not hold a user to its max privilege at session set-up (it grants
    // Set Session Privilege Level 4 to a "user" account), so VLAB_ERR_IPMI_PRIVILEGE_REFUSED is
    // tested against the package's own BMC core (client-session.test.ts). The session at the
    // user's level is enforced: Chassis Control answers "insufficient privilege".
    await using client = new IpmiClient();
    const reader = client.bmc(
      target({ username: READER.name, password: READER.password, privilege: 'user' }),
    );
    expect(['on', 'off']).toContain(await reader.powerStatus());
    const denied = await reader.power('on').catch((e: unknown) => e);
    expect(isVlabError(denied, 'VLAB_ERR_IPMI_COMPLETION_CODE')).toBe(true);
    expect((denied as { details: Record<string, unknown> }).details).toMatchObject({
      completionCode: 0xd4,
      bmc: `127.0.0.1:${sim.port}`,
    });
  });

  it('times out with VLAB_ERR_IPMI_NO_RESPONSE when nothing listens', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    const port = silent.address().port;
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    await using client = new IpmiClient({
      retry: { initialTimeoutMs: 200, timeoutIncrementMs: 100 },
    });
    const started = Date.now();
    const error = await client
      .bmc(target({ port }))
      .powerStatus({ timeoutMs: 1500 })
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(isVlabError(error, 'VLAB_ERR_IPMI_NO_RESPONSE')).toBe(true);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    // The call's own deadline ended it: the retry schedule (10 attempts, 6.5 s here) would fail
    // "after 10 attempt(s)" instead.
    expect((error as Error).message).toMatch(/before the deadline/);
    expect(took).toBeGreaterThanOrEqual(1400);
    // Not the client's 20 s default timeout either; 10 s leaves a loaded machine 8.5 s of slack.
    expect(took).toBeLessThan(10_000);
  });

  it('aborts a call mid-way with VLAB_ERR_OP_CANCELLED, and the session still works after', async () => {
    // Each abort happens at a known point of the exchange, seen by the proxy, never after a
    // delay. The client's first retransmission is 10 s away, so while a call waits none of its
    // own timers runs: only the abort can end it early.
    await using proxy = await startUdpProxy(sim.port);
    const lines: string[] = [];
    await using client = new IpmiClient({
      retry: { initialTimeoutMs: 10_000, maxTimeoutMs: 10_000 },
      debug: (line) => lines.push(line),
    });
    const bmc = client.bmc(target({ port: proxy.port }));
    const logins = () => lines.filter((line) => line.includes('login: RAKP 1')).length;

    // 1. Mid-login: ipmi_sim's Open Session reply reaches the proxy, which holds it (and anything
    // after it) and aborts then, so the login cannot have finished.
    const early = new AbortController();
    proxy.faults = {
      holdToClient: (reply) => {
        if (!early.signal.aborted) {
          if (peekPayloadType(reply) !== PayloadType.OPEN_SESSION_RESPONSE) return false;
          early.abort(new Error('operator pressed stop'));
        }
        return true;
      },
    };
    const first = await bmc.chassisStatus({ signal: early.signal }).catch((e: unknown) => e);
    expect(isVlabError(first, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    // Get Channel Authentication Capabilities (IPMI 1.5 framing), Open Session, and no RAKP 1.
    expect(
      proxy.captured.filter((c) => c.to === 'bmc').map((c) => peekPayloadType(c.data)),
    ).toEqual([undefined, PayloadType.OPEN_SESSION_REQUEST]);
    expect(proxy.held.toClient).toBe(1);
    // The held reply arrives late and is ignored; the next call sets a session up.
    proxy.release();
    expect(['on', 'off']).toContain(await bmc.powerStatus());
    expect(logins()).toBe(1);

    // 2. Mid-call inside that session, every reply now lost: abort when the first is dropped.
    const stop = new AbortController();
    let abortedAt = 0;
    proxy.faults = {
      dropToClient: () => {
        if (!stop.signal.aborted) {
          abortedAt = performance.now();
          stop.abort();
        }
        return true;
      },
    };
    const requestsBefore = proxy.stats.toBmc;
    const error = await bmc.powerStatus({ signal: stop.signal }).catch((e: unknown) => e);
    const settledMs = performance.now() - abortedAt;
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect(proxy.stats.droppedToClient).toBe(1);
    // One request, not re-sent: the abort ended the call, not a retransmission or the deadline.
    expect(proxy.stats.toBmc - requestsBefore).toBe(1);
    // Honoured at once, not at the client's next timer (10 s away) nor after its retry schedule
    // or 20 s timeout; 5 s is slack for a loaded machine that still separates the two.
    expect(settledMs).toBeLessThan(5000);
    proxy.faults = {};

    // An already-aborted signal fails at once, before anything is sent.
    const sent = proxy.stats.toBmc;
    const gone = AbortSignal.abort();
    expect(
      isVlabError(
        await bmc.powerStatus({ signal: gone }).catch((e: unknown) => e),
        'VLAB_ERR_OP_CANCELLED',
      ),
    ).toBe(true);
    expect(proxy.stats.toBmc).toBe(sent);
    // The session survived the abort: the next call is answered in it, without a new login.
    expect(['on', 'off']).toContain(await bmc.powerStatus());
    expect(logins()).toBe(1);
  });

  it('runs many sessions over one socket, concurrently', async () => {
    const second = await startIpmiSim({ users: extraUsers(6) });
    try {
      await using client = new IpmiClient();
      const targets = [
        ...extraUsers(6).map((u) => target({ username: u.name, password: u.password })),
        ...extraUsers(6).map((u) =>
          target({ port: second.port, username: u.name, password: u.password }),
        ),
      ];
      const bmcs = targets.map((t) => client.bmc(t));
      const rounds = await Promise.all(
        bmcs.map(async (bmc) => {
          const states: string[] = [];
          for (let i = 0; i < 5; i += 1) states.push(await bmc.powerStatus());
          return states;
        }),
      );
      expect(rounds.flat().every((s) => s === 'on' || s === 'off')).toBe(true);
      expect(client.socketCount).toBe(1);
      expect(new Set(await Promise.all(bmcs.map((b) => b.cipherSuite())))).toEqual(new Set([3]));
    } finally {
      await second.stop();
    }
  });

  it('sets the session up again after the BMC lost it (ipmi_sim restarted)', async () => {
    const lines: string[] = [];
    await using client = new IpmiClient({
      retry: { initialTimeoutMs: 200, timeoutIncrementMs: 100 },
      debug: (line) => lines.push(line),
    });
    const bmc = client.bmc(target());
    await bmc.chassisStatus();
    await sim.restart();
    lines.length = 0;
    expect(['on', 'off']).toContain(await bmc.powerStatus());
    // The new ipmi_sim ignores the old session: after reestablishAfterTimeouts (3) unanswered
    // attempts the client logs in again and the request goes on in the new session, rather than
    // running out its retry schedule. Counted from the client's debug lines, not a clock.
    const status = / netFn 0x00 cmd 0x01 /;
    const relogin = lines.findIndex((l) => l.includes('setting the session up again'));
    expect(relogin).toBeGreaterThan(0);
    expect(lines.slice(0, relogin).filter((l) => status.test(l)).length).toBe(3);
    const rakp1 = lines.findIndex((l, i) => i > relogin && l.includes('login: RAKP 1'));
    expect(rakp1).toBeGreaterThan(relogin);
    expect(lines.slice(rakp1).some((l) => status.test(l))).toBe(true);
  });

  // Which datagrams the proxy loses follows from its seed and the order datagrams pass it, and a
  // loaded machine changes that order (a slow reply brings a retransmission, which shifts every
  // later draw), so the test must pass whichever datagrams are lost, not for one lucky sequence.
  // A login restarts at Open Session when any RAKP message is lost, and a try gets through
  // 0.8⁶ ≈ 26 % of the time at this loss; the attempt budget counts those restarts, so with 12
  // about 3 % of logins (and 0.16 % of calls, 15 % of runs) fail in the sans-IO simulation.
  // 40 attempts within the default 20 s timeout: no failure in 50 000 simulated calls, the
  // slowest 14 s with 60 ms each way.
  it('survives 20 % loss each way: 100 of 100 power-status calls within their deadline', {
    timeout: 180_000,
  }, async () => {
    const proxy = await startUdpProxy(sim.port, { loss: 0.2, duplicate: 0.02, jitterMs: 5 }, 2024);
    try {
      await using client = new IpmiClient({
        // Loopback answers in a few ms; short waits keep the test quick.
        retry: {
          initialTimeoutMs: 100,
          timeoutIncrementMs: 50,
          maxTimeoutMs: 400,
          maxAttempts: 40,
        },
      });
      const bmc = client.bmc(target({ port: proxy.port }));
      let ok = 0;
      for (let i = 0; i < 100; i += 1) {
        // The deadline is the client's (the default 20 s timeout): a call not answered in time
        // rejects with NO_RESPONSE and fails the test.
        const state = await bmc.powerStatus({ timeoutMs: 20_000 });
        if (state === 'on' || state === 'off') ok += 1;
      }
      expect(ok).toBe(100);
      expect(proxy.stats.droppedToBmc + proxy.stats.droppedToClient).toBeGreaterThan(20);
    } finally {
      await proxy.close();
    }
  });
});

describe('power control through the chassis_control hook', () => {
  it('powers on and off; what vlab sets ipmitool reads, and the other way round', async () => {
    await using client = new IpmiClient();
    const bmc = client.bmc(
      target({ username: OPERATOR.name, password: OPERATOR.password, privilege: 'operator' }),
    );
    await bmc.power('off');
    expect(await sim.powerState()).toBe('off');
    expect(await ipmitoolChecked(admin(), 3, ['chassis', 'power', 'status'])).toMatch(
      /Chassis Power is off/,
    );
    expect(await bmc.power('on')).toEqual({ action: 'on', confirmedBy: 'reply' });
    expect(await sim.powerState()).toBe('on');
    expect(await ipmitoolChecked(admin(), 3, ['chassis', 'power', 'status'])).toMatch(
      /Chassis Power is on/,
    );
    await ipmitoolChecked(admin(), 3, ['chassis', 'power', 'off']);
    expect(await bmc.powerStatus()).toBe('off');
    await ipmitoolChecked(admin(), 3, ['chassis', 'power', 'on']);
    expect(await bmc.powerStatus()).toBe('on');
  });

  it('power-cycles: the hook sees off, then on about a second later', async () => {
    await using client = new IpmiClient();
    const bmc = client.bmc(target());
    await bmc.power('on');
    await sim.clearHookCalls();
    expect(await bmc.power('cycle')).toEqual({ action: 'cycle', confirmedBy: 'reply' });
    const calls = await until(
      () => sim.hookCalls(),
      (lines) => lines.some((l) => l.endsWith('set power 1')),
    );
    const sets = calls.filter((l) => l.includes('set power'));
    expect(sets.map((l) => l.split(' ').slice(1).join(' '))).toEqual([
      'set power 0',
      'set power 1',
    ]);
    const [off, on] = sets.map((l) => Number(l.split(' ')[0]));
    expect((on ?? 0) - (off ?? 0)).toBeGreaterThanOrEqual(500);
    expect(await bmc.powerStatus()).toBe('on');
  });

  it('never re-sends a power cycle whose reply was lost, and says so', async () => {
    const proxy = await startUdpProxy(sim.port);
    try {
      // The status read after the lost reply is held at the proxy until ipmi_sim's hook has
      // switched power back on: it must see the finished cycle (power on, as before), whatever
      // the machine's load did to ipmi_sim's answer or its one-second cycle timer.
      const lose = loseChassisControlReply(proxy, { holdToBmcAfter: true });
      await using client = new IpmiClient({
        retry: { singleShotTimeoutMs: 1500 },
        debug: lose.debug,
      });
      const bmc = client.bmc(target({ port: proxy.port }));
      await bmc.power('on');
      await sim.clearHookCalls();
      lose.arm();
      const cycled = until(
        () => sim.hookCalls(),
        (lines) => lines.some((l) => l.endsWith('set power 1')),
      ).finally(() => proxy.release());
      const error = await bmc.power('cycle').catch((e: unknown) => e);
      await cycled;
      expect(isVlabError(error, 'VLAB_ERR_IPMI_OUTCOME_UNKNOWN')).toBe(true);
      expect((error as Error).message).toMatch(/not sent again/);
      expect(lose.dropped()).toBe(1);
      // The client sent Chassis Control once (its debug lines), and exactly one cycle ran.
      expect(lose.sent()).toBe(1);
      const sets = (await sim.hookCalls()).filter((l) => l.includes('set power'));
      expect(sets.map((l) => l.split(' ').slice(1).join(' '))).toEqual([
        'set power 0',
        'set power 1',
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('confirms a soft shutdown by the chassis status when its reply is lost', async () => {
    const proxy = await startUdpProxy(sim.port);
    try {
      const lose = loseChassisControlReply(proxy);
      await using client = new IpmiClient({
        retry: { singleShotTimeoutMs: 800 },
        debug: lose.debug,
      });
      const bmc = client.bmc(target({ port: proxy.port }));
      await bmc.power('on');
      await sim.clearHookCalls();
      lose.arm();
      expect(await bmc.power('soft')).toEqual({ action: 'soft', confirmedBy: 'chassis-status' });
      expect(lose.dropped()).toBe(1);
      expect(await sim.powerState()).toBe('off');
      expect((await sim.hookCalls()).filter((l) => l.includes('set shutdown')).length).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});

describe('boot device', () => {
  it('sets PXE and disk; the hook and ipmitool see them, and vlab reads what ipmitool set', async () => {
    await using client = new IpmiClient();
    const bmc = client.bmc(target());
    await bmc.setBootDevice('pxe', { persistent: true, efi: true });
    expect(await sim.bootDevice()).toBe('pxe');
    const param = await ipmitoolChecked(admin(), 3, ['chassis', 'bootparam', 'get', '5']);
    expect(param).toMatch(/Boot Device Selector : Force PXE/);
    // ipmi_sim keeps only the device: the valid, persistent and EFI bits read back clear.
    expect(param).toMatch(/Boot Flag Invalid/);
    const flags = await bmc.bootFlags();
    expect(flags).toMatchObject({ device: 'pxe', valid: false, persistent: false, efi: false });

    await ipmitoolChecked(admin(), 3, ['chassis', 'bootdev', 'disk']);
    expect(await sim.bootDevice()).toBe('default');
    expect((await bmc.bootFlags()).device).toBe('disk');

    await bmc.setBootDevice('bios');
    expect(await sim.bootDevice()).toBe('bios');
  });
});

describe('cross-check: decoding ipmitool’s own suite-3 session with ipmi_sim', () => {
  it('derives the same keys and verifies every in-session packet both ways', async () => {
    const proxy = await startUdpProxy(sim.port);
    try {
      await ipmitoolChecked({ ...admin(), port: proxy.port }, 3, ['chassis', 'power', 'status']);
      const packets = proxy.captured.map((c) => ({ ...c, type: peekPayloadType(c.data) }));
      const find = (type: number) => packets.find((p) => p.type === type)?.data;
      const payload = (data: Buffer | undefined) => {
        const parsed = data === undefined ? undefined : parseDatagram(data);
        if (parsed?.kind !== 'v20') throw new Error('missing RMCP+ packet');
        return parsed.body;
      };
      // One handshake: the first packet of each set-up type.
      const open = decodeOpenSessionRequest(payload(find(PayloadType.OPEN_SESSION_REQUEST)));
      const opened = decodeOpenSessionResponse(payload(find(PayloadType.OPEN_SESSION_RESPONSE)));
      const rakp1 = decodeRakp1(payload(find(PayloadType.RAKP1)));
      const rakp2 = decodeRakp2(payload(find(PayloadType.RAKP2)));
      expect(open.algorithms).toEqual({ auth: 1, integrity: 1, confidentiality: 1 });
      const params = {
        suite: CIPHER_SUITES[3],
        kuid: kuidFromPassword(Buffer.from(ADMIN.password)),
        consoleSessionId: open.consoleSessionId,
        bmcSessionId: opened.bmcSessionId,
        consoleRandom: rakp1.consoleRandom,
        bmcRandom: rakp2.bmcRandom,
        bmcGuid: rakp2.bmcGuid,
        role: rakp1.role,
        username: rakp1.username,
      };
      // ipmi_sim's RAKP 2 code matches ours: both ends computed the same HMAC.
      expect(macEqual(rakp2AuthCode(params), rakp2.authCode)).toBe(true);
      const keys = deriveSessionKeys(CIPHER_SUITES[3], sessionIntegrityKey(params));
      const inSession = packets.filter((p) => p.type === PayloadType.IPMI);
      let requests = 0;
      let responses = 0;
      for (const packet of inSession) {
        const parsed = parseDatagram(packet.data, 12);
        if (parsed.kind !== 'v20' || !parsed.authenticated) continue;
        const clear = unprotect(parsed, keys);
        expect(clear, `packet to ${packet.to} verifies and decrypts`).toBeDefined();
        if (clear === undefined) continue;
        if (packet.to === 'bmc') {
          decodeRequest(clear);
          requests += 1;
        } else {
          decodeResponse(clear);
          responses += 1;
        }
      }
      // Set Session Privilege, Get Chassis Status, Close Session, and their replies at least.
      expect(requests).toBeGreaterThanOrEqual(3);
      expect(responses).toBeGreaterThanOrEqual(3);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * Loses the reply to the next Chassis Control once armed. The packets are encrypted, so the
 * client's debug line for sending netFn 0x00 cmd 0x02 says when the next reply is the one. With
 * `holdToBmcAfter`, everything to the BMC after that Chassis Control request is held until
 * `proxy.release()`, however long the BMC takes to answer it.
 */
function loseChassisControlReply(
  proxy: Awaited<ReturnType<typeof startUdpProxy>>,
  options: { readonly holdToBmcAfter?: boolean } = {},
) {
  let armed = false;
  let counting = false;
  let next = false;
  let holding = false;
  let dropped = 0;
  let sent = 0;
  proxy.faults = {
    dropToClient: () => {
      if (!next) return false;
      next = false;
      armed = false;
      dropped += 1;
      return true;
    },
    holdToBmc: () => {
      if (holding) return true;
      // Nothing else is in flight: the first datagram once `next` is set is the request itself.
      if (next && options.holdToBmcAfter === true) holding = true;
      return false;
    },
  };
  return {
    arm: () => {
      armed = true;
      counting = true;
    },
    dropped: () => dropped,
    /** Chassis Control requests the client sent since it was armed. */
    sent: () => sent,
    debug: (line: string) => {
      if (!/sent netFn 0x00 cmd 0x02 /.test(line)) return;
      if (counting) sent += 1;
      if (armed) next = true;
    },
  };
}
