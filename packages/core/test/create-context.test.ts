import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Communicator, RunResult } from '../src/communicator.js';
import type { ComputerRef } from '../src/context.js';
import {
  createComputerContext,
  createOperationContext,
  createProvisionerContext,
} from '../src/create-context.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import { createLogger, type LogRecord, silentLogger } from '../src/logger.js';
import type { OsModule } from '../src/os-module.js';
import type { PowerProbe } from '../src/power.js';
import type { ProgressEvent } from '../src/progress.js';
import { createSecretResolver } from '../src/secret.js';

const computer: ComputerRef = {
  name: 'node12',
  hostname: 'node12.lab',
  addresses: { management: '10.0.0.12' },
  credentials: {},
  attributes: {},
};

function unused(): never {
  throw new Error('not used by this test');
}

function fakeCommunicator(): Communicator {
  const result: RunResult = { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  return {
    computer: computer.name,
    shell: 'posix',
    run: async () => result,
    runChecked: async () => result,
    put: async () => {},
    get: async () => Buffer.alloc(0),
    getStream: unused,
    waitUntilReachable: async () => {},
    trustHostKeys: async () => {},
  };
}

function fakeProbe(): PowerProbe {
  return { status: async () => 'on' };
}

function fakeOs(): OsModule {
  return {
    name: 'os-fake',
    family: 'linux',
    capabilities: { endStates: ['off'], features: [] },
    postLoad: unused,
    reserve: unused,
    sanitize: unused,
    postReservation: unused,
    preCapture: unused,
    isResponding: async () => true,
    waitForResponse: async () => {},
    shutdown: async () => {},
    reboot: async () => {},
    readStamp: async () => undefined,
  };
}

describe('createOperationContext', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires the signal at the deadline with a VLAB_ERR_OP_TIMEOUT naming the phase and computer', () => {
    const ctx = createComputerContext({
      log: silentLogger,
      deadline: Date.now() + 1000,
      phase: 'load',
      computer,
    });
    vi.advanceTimersByTime(999);
    expect(ctx.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(ctx.signal.aborted).toBe(true);
    const reason: unknown = ctx.signal.reason;
    expect(isVlabError(reason, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    const error = reason as VlabError;
    expect(error.computer).toBe('node12');
    expect(error.message).toContain('load did not finish by its deadline');
    expect(error.message).toContain('node12');
    expect(error.details['phase']).toBe('load');
  });

  it('is aborted at once when the deadline already passed', () => {
    const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() - 5 });
    vi.advanceTimersByTime(0);
    expect(ctx.signal.aborted).toBe(true);
    expect(isVlabError(ctx.signal.reason, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect(ctx.phase).toBe('operation');
  });

  it('starts aborted with the caller reason when the caller signal already fired', () => {
    const ctx = createOperationContext({
      log: silentLogger,
      deadline: Date.now() + 1000,
      signal: AbortSignal.abort('gone'),
    });
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBe('gone');
  });

  it('propagates a caller abort with the same reason, and a parent abort to its children', () => {
    const controller = new AbortController();
    const ctx = createOperationContext({
      log: silentLogger,
      deadline: Date.now() + 10_000,
      signal: controller.signal,
    });
    const child = ctx.child({ phase: 'a' });
    const grandchild = child.child({ phase: 'b' });
    const reason = new Error('stop');
    controller.abort(reason);
    expect(ctx.signal.reason).toBe(reason);
    expect(child.signal.reason).toBe(reason);
    expect(grandchild.signal.reason).toBe(reason);
    // The deadline timers were cleared: no later timeout replaces the reason.
    vi.advanceTimersByTime(20_000);
    expect(grandchild.signal.reason).toBe(reason);
  });

  it("propagates the parent's timeout to a child with the same reason", () => {
    const ctx = createOperationContext({
      log: silentLogger,
      deadline: Date.now() + 1000,
      phase: 'load',
    });
    const child = ctx.child({ phase: 'copy' });
    vi.advanceTimersByTime(1000);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(ctx.signal.reason);
  });

  it("never gives a child a later deadline than its parent's", () => {
    const deadline = Date.now() + 1000;
    const ctx = createOperationContext({ log: silentLogger, deadline, phase: 'load' });
    expect(ctx.child({ phase: 'later', deadline: deadline + 60_000 }).deadline).toBe(deadline);
    expect(ctx.child({ phase: 'none' }).deadline).toBe(deadline);
    expect(ctx.child({ phase: 'earlier', deadline: deadline - 400 }).deadline).toBe(deadline - 400);
  });

  it("fires a child's earlier deadline naming the child phase, leaving the parent running", () => {
    const ctx = createOperationContext({
      log: silentLogger,
      deadline: Date.now() + 10_000,
      phase: 'load',
    });
    const child = ctx.child({ phase: 'ssh', deadline: Date.now() + 100 });
    vi.advanceTimersByTime(100);
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as VlabError).message).toContain('load/ssh did not finish');
    expect(ctx.signal.aborted).toBe(false);
  });

  it('does not abort a detached child when the parent aborts; its own deadline still applies', () => {
    const controller = new AbortController();
    const ctx = createOperationContext({
      log: silentLogger,
      deadline: Date.now() + 1000,
      signal: controller.signal,
      phase: 'load',
    });
    const detached = ctx.child({
      phase: 'cleanup',
      deadline: Date.now() + 5000,
      detached: true,
    });
    // A detached child may outlive the parent's deadline.
    expect(detached.deadline).toBe(Date.now() + 5000);
    controller.abort('stop');
    vi.advanceTimersByTime(1000);
    expect(ctx.signal.aborted).toBe(true);
    expect(detached.signal.aborted).toBe(false);
    vi.advanceTimersByTime(4000);
    expect(detached.signal.aborted).toBe(true);
    expect(isVlabError(detached.signal.reason, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
  });

  // Bug (create-context.ts, deadlineSignal): the timer is clamped to MAX_TIMER_MS (2^31-1 ms,
  // about 24.8 days) and never re-armed, so a deadline further away than that fires early with
  // VLAB_ERR_OP_TIMEOUT while remainingMs() still reports days left.
  it('does not fire before a deadline more than 24.8 days away', () => {
    const day = 24 * 3600 * 1000;
    const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() + 30 * day });
    vi.advanceTimersByTime(25 * day);
    expect(ctx.remainingMs()).toBe(5 * day);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('refuses a detached child without a deadline', () => {
    const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() + 1000 });
    expect(() => ctx.child({ phase: 'cleanup', detached: true })).toThrow(TypeError);
  });

  it('counts remainingMs down to 0, never below', () => {
    const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() + 1500 });
    expect(ctx.remainingMs()).toBe(1500);
    vi.advanceTimersByTime(500);
    expect(ctx.remainingMs()).toBe(1000);
    vi.advanceTimersByTime(5000);
    expect(ctx.remainingMs()).toBe(0);
  });

  it('binds the child phase into its log records', () => {
    const records: LogRecord[] = [];
    const ctx = createOperationContext({
      log: createLogger((record) => records.push(record), { computer: 'node12' }),
      deadline: Date.now() + 1000,
      phase: 'capture',
    });
    ctx.child({ phase: 'upload' }).log.info('hello');
    expect(records[0]?.fields).toEqual({ computer: 'node12', phase: 'capture/upload' });
  });

  it('sends progress events carrying the phase and computer, for children too', () => {
    const events: ProgressEvent[] = [];
    const ctx = createComputerContext({
      log: silentLogger,
      deadline: Date.now() + 1000,
      phase: 'load',
      computer,
      progress: (event) => events.push(event),
    });
    ctx.progress.report({ done: 1 });
    ctx.child({ phase: 'copy' }).progress.report({ done: 2, total: 4, message: 'copying' });
    expect(events.map((e) => [e.phase, e.computer, e.done, e.total, e.message])).toEqual([
      ['load', 'node12', 1, undefined, undefined],
      ['load/copy', 'node12', 2, 4, 'copying'],
    ]);
  });

  it('hands the given secret resolver to children', async () => {
    const secrets = createSecretResolver({ env: { TOKEN: 't0k3n' } });
    const ctx = createOperationContext({ log: silentLogger, deadline: Date.now() + 1000, secrets });
    const child = ctx.child({ phase: 'x' });
    expect(child.secrets).toBe(secrets);
    expect((await child.secrets.resolve({ env: 'TOKEN' })).reveal()).toBe('t0k3n');
  });
});

describe('createProvisionerContext', () => {
  it("binds the computer's name into the log records of the context and its children", () => {
    const records: LogRecord[] = [];
    const ctx = createProvisionerContext({
      log: createLogger((record) => records.push(record)),
      deadline: Date.now() + 60_000,
      computer,
      communicator: fakeCommunicator(),
      power: fakeProbe(),
      os: fakeOs(),
    });
    ctx.log.info('parent');
    ctx.child({ phase: 'step' }).log.info('child');
    expect(records.map((r) => r.fields['computer'])).toEqual([computer.name, computer.name]);
  });

  it("a child with its parent's deadline times out with the parent's error", async () => {
    const ctx = createProvisionerContext({
      log: silentLogger,
      deadline: Date.now() + 30,
      phase: 'load',
      computer,
      communicator: fakeCommunicator(),
      power: fakeProbe(),
      os: fakeOs(),
    });
    const child = ctx.child({ phase: 'copy' });
    await new Promise((resolve) => child.signal.addEventListener('abort', resolve, { once: true }));
    expect(child.signal.reason).toBe(ctx.signal.reason);
    expect((child.signal.reason as VlabError).message).toContain('load did not finish');
  });

  it('keeps os, communicator, power and computer in a child, and lets the child override power', () => {
    const os = fakeOs();
    const communicator = fakeCommunicator();
    const power = fakeProbe();
    const image = { name: 'alma9', revision: 3, osFamily: 'linux' };
    const ctx = createProvisionerContext({
      log: silentLogger,
      deadline: Date.now() + 60_000,
      phase: 'capture',
      computer,
      image,
      communicator,
      power,
      os,
    });
    const child = ctx.child({ phase: 'preCapture' });
    expect(child.os).toBe(os);
    expect(child.communicator).toBe(communicator);
    expect(child.power).toBe(power);
    expect(child.computer).toBe(computer);
    expect(child.image).toBe(image);
    expect(child.phase).toBe('capture/preCapture');

    const otherPower = fakeProbe();
    const overridden = ctx.child({ phase: 'preCapture', power: otherPower });
    expect(overridden.power).toBe(otherPower);
    expect(overridden.communicator).toBe(communicator);
    expect(overridden.os).toBe(os);
    // The override reaches the grandchildren but not the parent.
    expect(overridden.child({ phase: 'shutdown' }).power).toBe(otherPower);
    expect(ctx.power).toBe(power);
  });
});
