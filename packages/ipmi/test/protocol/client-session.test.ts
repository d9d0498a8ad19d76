import { describe, expect, it } from 'vitest';
import { AppCmd, ChassisCmd, NetFn, PayloadType } from '../../src/protocol/constants.js';
import { encodeV20, parseDatagram, peekPayloadType } from '../../src/protocol/packet.js';
import { decodeOpenSessionResponse, encodeOpenSessionResponse } from '../../src/protocol/rakp.js';
import { SimulatedLink } from './sim.fixture.js';

// The sans-IO client session against the sans-IO BMC, over a simulated link with a fake clock.
// Everything is deterministic (seeded), so each scenario is repeatable byte by byte.

const ADMIN = { name: 'admin', password: 's3cret' };
const creds = (password = 's3cret', username = 'admin') => ({
  username: Buffer.from(username),
  password: Buffer.from(password),
});
const STATUS = { netFn: NetFn.CHASSIS, cmd: ChassisCmd.GET_CHASSIS_STATUS };

function payloadTypes(datagrams: readonly Buffer[]): number[] {
  return datagrams.map((d) => peekPayloadType(d) ?? -1);
}

describe('session set-up', () => {
  it.each([3, 17] as const)('opens a session with cipher suite %i and runs a command', (suite) => {
    const link = new SimulatedLink(
      { ...creds(), cipherSuites: [suite] },
      { users: [ADMIN], cipherSuites: [suite] },
    );
    link.bmc.chassis.powerOn = true;
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({ type: 'response', completionCode: 0 });
    const event = link.result(id);
    if (event?.type !== 'response') throw new Error('no response');
    expect(event.data[0]).toBe(0x01);
    expect(link.events).toContainEqual(
      expect.objectContaining({ type: 'established', cipherSuite: suite }),
    );
    expect(link.client.phase).toBe('active');
    // The exchange: auth caps (v1.5), Open Session, RAKP 1, RAKP 3, Set Privilege, the command.
    expect(payloadTypes(link.sent.toBmc)).toEqual([
      -1,
      PayloadType.OPEN_SESSION_REQUEST,
      PayloadType.RAKP1,
      PayloadType.RAKP3,
      PayloadType.IPMI,
      PayloadType.IPMI,
    ]);
    expect(link.bmc.log.map((l) => l.cmd)).toEqual([
      AppCmd.SET_SESSION_PRIVILEGE_LEVEL,
      ChassisCmd.GET_CHASSIS_STATUS,
    ]);
    // Session sequence numbers start at 1 and go up by one per packet.
    expect(link.bmc.log.map((l) => l.sequence)).toEqual([1, 2]);
  });

  it('drops login replies that answer another console session or an earlier step', () => {
    const link = new SimulatedLink(
      { ...creds(), cipherSuites: [3] },
      { users: [ADMIN], cipherSuites: [3] },
    );
    let injected = false;
    // Just before the real Open Session Response, two forged ones arrive: one for another
    // console session, one with the tag of another step. Taking either would send a RAKP 1 for
    // the wrong BMC session id.
    link.filterToClient = (data) => {
      if (injected || peekPayloadType(data) !== PayloadType.OPEN_SESSION_RESPONSE) return true;
      injected = true;
      const packet = parseDatagram(data);
      if (packet.kind !== 'v20') throw new Error('not RMCP+');
      const real = decodeOpenSessionResponse(packet.body);
      for (const forged of [
        { ...real, consoleSessionId: 0x11223344, bmcSessionId: 0x55667788 },
        { ...real, tag: (real.tag + 1) & 0xff, bmcSessionId: 0x55667788 },
      ]) {
        const payload = encodeOpenSessionResponse(forged);
        link.client.receive(
          encodeV20({
            payloadType: PayloadType.OPEN_SESSION_RESPONSE,
            sessionId: 0,
            sequence: 0,
            payload,
          }),
          link.now,
        );
      }
      return true;
    };
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(injected).toBe(true);
    expect(link.result(id)?.type).toBe('response');
    const rakp1s = link.sent.toBmc.filter((d) => peekPayloadType(d) === PayloadType.RAKP1);
    expect(rakp1s).toHaveLength(1);
  });

  it('falls back along the preference list when the BMC refuses a suite', () => {
    const link = new SimulatedLink(
      { ...creds(), cipherSuites: [17, 3] },
      { users: [ADMIN], cipherSuites: [3] },
    );
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)?.type).toBe('response');
    expect(link.client.cipherSuite).toBe(3);
  });

  it('fails with VLAB_ERR_IPMI_CIPHER_UNSUPPORTED when no offered suite is accepted', () => {
    const link = new SimulatedLink(
      { ...creds(), cipherSuites: [17] },
      { users: [ADMIN], cipherSuites: [3] },
    );
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    const event = link.result(id);
    expect(event).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_CIPHER_UNSUPPORTED' },
    });
    if (event?.type === 'error')
      expect(event.error.details).toMatchObject({ bmc: 'sim:623', cipherSuites: [17] });
  });

  it('fails with VLAB_ERR_IPMI_PASSWORD_WRONG and never shows the password', () => {
    const link = new SimulatedLink(creds('not-the-password'), { users: [ADMIN] });
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    const event = link.result(id);
    expect(event).toMatchObject({ type: 'error', error: { code: 'VLAB_ERR_IPMI_PASSWORD_WRONG' } });
    if (event?.type !== 'error') throw new Error('expected an error');
    const everything = `${event.error.message} ${JSON.stringify(event.error.details)} ${event.error.stack}`;
    expect(everything).not.toContain('not-the-password');
    expect(everything).toContain('sim:623');
  });

  it('fails with VLAB_ERR_IPMI_USER_UNKNOWN for a user the BMC does not have', () => {
    const link = new SimulatedLink(creds('s3cret', 'nobody'), { users: [ADMIN] });
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_USER_UNKNOWN' },
    });
  });

  it('fails with VLAB_ERR_IPMI_PRIVILEGE_REFUSED when the user may not be administrator', () => {
    const link = new SimulatedLink(creds(), { users: [{ ...ADMIN, privilege: 'operator' }] });
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_PRIVILEGE_REFUSED' },
    });
  });

  it('uses the BMC key Kg for the session keys when one is set', () => {
    const kg = Buffer.from('0123456789abcdefghij');
    const ok = new SimulatedLink({ ...creds(), kg }, { users: [ADMIN], kg });
    const a = ok.send(STATUS);
    ok.runUntil(() => ok.result(a) !== undefined);
    expect(ok.result(a)?.type).toBe('response');

    const wrong = new SimulatedLink(
      { ...creds(), kg: Buffer.from('wrong') },
      { users: [ADMIN], kg },
    );
    const b = wrong.send(STATUS);
    wrong.runUntil(() => wrong.result(b) !== undefined);
    expect(wrong.result(b)).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_SESSION_REFUSED' },
    });
  });
});

describe('timeouts and retransmission', () => {
  it('gives up with VLAB_ERR_IPMI_NO_RESPONSE when the BMC never answers, within the deadline', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    link.bmcDown = true;
    const started = link.now;
    const id = link.send({ ...STATUS, deadline: link.now + 5000 });
    link.runUntil(() => link.result(id) !== undefined);
    const event = link.result(id);
    expect(event).toMatchObject({ type: 'error', error: { code: 'VLAB_ERR_IPMI_NO_RESPONSE' } });
    expect(link.now - started).toBe(5000);
    // 500 + 1000 + 1500 + 2000 ms = 5000 ms: four auth-caps attempts fit, then the deadline.
    expect(link.sent.toBmc.length).toBe(4);
    // Nothing keeps running afterwards.
    expect(link.client.nextTimer()).toBeUndefined();
    expect(link.client.phase).toBe('idle');
  });

  it('stops at maxAttempts when the deadline is far', () => {
    const link = new SimulatedLink(
      {
        ...creds(),
        retry: {
          initialTimeoutMs: 100,
          timeoutIncrementMs: 0,
          maxTimeoutMs: 100,
          maxAttempts: 3,
          singleShotTimeoutMs: 100,
        },
      },
      { users: [ADMIN] },
    );
    link.bmcDown = true;
    const id = link.send({ ...STATUS, deadline: link.now + 60_000 });
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_NO_RESPONSE' },
    });
    expect(link.sent.toBmc.length).toBe(3);
  });

  it('retransmits a safe request with a new rqSeq and session sequence number', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const first = link.send(STATUS);
    link.runUntil(() => link.result(first) !== undefined);
    let dropped = 0;
    link.filterToClient = () => dropped++ >= 1; // lose the next reply only
    const id = link.send(STATUS);
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)?.type).toBe('response');
    const statusCalls = link.bmc.log.filter((l) => l.cmd === ChassisCmd.GET_CHASSIS_STATUS);
    expect(statusCalls.length).toBe(3);
    expect(new Set(statusCalls.map((l) => l.sequence)).size).toBe(3);
  });

  it('never re-sends a power cycle whose reply was lost, and says it may have run', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const first = link.send(STATUS);
    link.runUntil(() => link.result(first) !== undefined);
    link.filterToClient = () => false; // every reply is lost from now on
    const id = link.send({
      netFn: NetFn.CHASSIS,
      cmd: ChassisCmd.CHASSIS_CONTROL,
      data: Buffer.of(0x02),
      retry: 'never',
    });
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({
      type: 'error',
      mayHaveRun: true,
      error: { code: 'VLAB_ERR_IPMI_NO_RESPONSE' },
    });
    expect(link.bmc.chassis.controls).toEqual([0x02]);
    link.advance(30_000);
    expect(link.bmc.chassis.controls).toEqual([0x02]);
  });

  it('re-sends a command the BMC answered "node busy" (0xC0): it did not run', () => {
    let busy = 2;
    const link = new SimulatedLink(creds(), {
      users: [ADMIN],
      onRequest: (request) =>
        request.cmd === ChassisCmd.CHASSIS_CONTROL && busy-- > 0
          ? { completionCode: 0xc0 }
          : undefined,
    });
    const id = link.send({
      netFn: NetFn.CHASSIS,
      cmd: ChassisCmd.CHASSIS_CONTROL,
      data: Buffer.of(0x02),
      retry: 'never',
    });
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({ type: 'response', completionCode: 0 });
    expect(link.bmc.chassis.controls).toEqual([0x02]);
  });

  it('reports other completion codes as they are, without retrying', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const id = link.send({ netFn: NetFn.APP, cmd: 0x77 });
    link.runUntil(() => link.result(id) !== undefined);
    expect(link.result(id)).toMatchObject({ type: 'response', completionCode: 0xc1 });
    expect(link.bmc.log.filter((l) => l.cmd === 0x77).length).toBe(1);
  });
});

describe('loss, duplication and reordering (seeded)', () => {
  it('answers 100 of 100 status calls with 20 % loss each way, each within 20 s', () => {
    const link = new SimulatedLink(
      creds(),
      { users: [ADMIN] },
      { loss: 0.2, duplicate: 0.05, jitterMs: 30 },
      7,
    );
    let worst = 0;
    for (let i = 0; i < 100; i += 1) {
      const started = link.now;
      const id = link.send({ ...STATUS, deadline: link.now + 20_000 });
      link.runUntil(() => link.result(id) !== undefined);
      expect(link.result(id), `call ${i}`).toMatchObject({ type: 'response', completionCode: 0 });
      worst = Math.max(worst, link.now - started);
    }
    expect(worst).toBeLessThan(20_000);
  });

  it('ignores a replayed reply (duplicate sequence number)', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    const reply = link.sent.toClient.at(-1) as Buffer;
    const b = link.send(STATUS);
    // Replay the old reply first: its sequence number was seen, so it must not answer b.
    link.client.receive(reply, link.now);
    expect(link.client.takeEvents()).toEqual([]);
    link.runUntil(() => link.result(b) !== undefined);
    expect(link.result(b)?.type).toBe('response');
  });
});

describe('session lifetime', () => {
  it('sets the session up again when the BMC forgot it (rebooted)', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    link.bmc.dropSessions();
    const b = link.send(STATUS);
    link.runUntil(() => link.result(b) !== undefined);
    expect(link.result(b)?.type).toBe('response');
    expect(link.bmc.sessionsEstablished).toBe(2);
  });

  it('sets the session up again before use after sessionTimeoutMs of idleness', () => {
    const link = new SimulatedLink(
      { ...creds(), sessionTimeoutMs: 60_000 },
      { users: [ADMIN], sessionTimeoutMs: 60_000 },
    );
    link.enableBmcTimer();
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    link.advance(61_000);
    expect(link.bmc.sessionCount).toBe(0);
    const before = link.sent.toBmc.length;
    const b = link.send(STATUS);
    link.runUntil(() => link.result(b) !== undefined);
    expect(link.result(b)?.type).toBe('response');
    // No wasted attempt in the dead session: straight to Open Session (auth caps are known).
    expect(payloadTypes(link.sent.toBmc.slice(before))[0]).toBe(PayloadType.OPEN_SESSION_REQUEST);
  });

  it('keeps an idle session alive with Get Device ID every keepaliveMs', () => {
    const link = new SimulatedLink(
      { ...creds(), keepaliveMs: 25_000 },
      { users: [ADMIN], sessionTimeoutMs: 60_000 },
    );
    link.enableBmcTimer();
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    link.advance(180_000);
    expect(link.bmc.sessionCount).toBe(1);
    const keepalives = link.bmc.log.filter(
      (l) => l.netFn === NetFn.APP && l.cmd === AppCmd.GET_DEVICE_ID,
    );
    expect(keepalives.length).toBe(7);
    const b = link.send(STATUS);
    link.runUntil(() => link.result(b) !== undefined);
    expect(link.bmc.sessionsEstablished).toBe(1);
    // Keepalives are internal: no event for them.
    expect(link.events.filter((e) => e.type === 'response').length).toBe(2);
  });

  it('closes the session with Close Session and refuses work afterwards', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    link.client.close(link.now);
    link.runUntil(() => link.client.phase === 'closed');
    expect(link.bmc.sessionCount).toBe(0);
    expect(link.events.at(-1)).toEqual({ type: 'closed' });
    const b = link.send(STATUS);
    expect(link.result(b)).toMatchObject({
      type: 'error',
      error: { code: 'VLAB_ERR_IPMI_CLIENT_CLOSED' },
    });
  });

  it('forgets a cancelled request: its late reply answers nothing', () => {
    const link = new SimulatedLink(creds(), { users: [ADMIN] });
    const a = link.send(STATUS);
    link.runUntil(() => link.result(a) !== undefined);
    const b = link.send(STATUS);
    link.client.cancel(b);
    link.advance(5000);
    expect(link.result(b)).toBeUndefined();
    const c = link.send(STATUS);
    link.runUntil(() => link.result(c) !== undefined);
    expect(link.result(c)?.type).toBe('response');
  });
});
