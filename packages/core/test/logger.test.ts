import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { coreError } from '../src/errors/core-errors.js';
import { createLogger, type LogRecord, silentLogger } from '../src/logger.js';
import { Secret } from '../src/secret.js';

const VALUE = 's3cr3t-value';

function capture(bindings?: Record<string, unknown>) {
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record), bindings);
  return { log, records };
}

function only(records: readonly LogRecord[]): LogRecord {
  expect(records).toHaveLength(1);
  return records[0] as LogRecord;
}

describe('createLogger', () => {
  it('writes level, message, time and fields', () => {
    const { log, records } = capture();
    const before = Date.now();
    log.debug('d');
    log.info('i', { a: 1 });
    log.warn('w');
    log.error('e');
    expect(records.map((r) => [r.level, r.message])).toEqual([
      ['debug', 'd'],
      ['info', 'i'],
      ['warn', 'w'],
      ['error', 'e'],
    ]);
    expect(records[1]?.fields).toEqual({ a: 1 });
    expect(records[0]?.fields).toEqual({});
    for (const record of records) {
      expect(record.time).toBeGreaterThanOrEqual(before);
      expect(record.time).toBeLessThanOrEqual(Date.now());
    }
  });

  it('redacts a Secret at the top level and inside nested objects and arrays', () => {
    const { log, records } = capture();
    const secret = new Secret(VALUE, 'bmc password');
    log.info('connecting', {
      password: secret,
      bmc: { user: 'admin', auth: { password: secret } },
      list: [1, secret, [secret, { inner: secret }]],
    });
    const record = only(records);
    expect(record.fields).toEqual({
      password: '[redacted]',
      bmc: { user: 'admin', auth: { password: '[redacted]' } },
      list: [1, '[redacted]', ['[redacted]', { inner: '[redacted]' }]],
    });
    expect(inspect(record, { depth: null })).not.toContain(VALUE);
  });

  it('redacts a Secret from a second copy of the package (branded object)', () => {
    const { log, records } = capture();
    const foreign = { reveal: () => VALUE, [Symbol.for('vlab.secret')]: true };
    log.info('x', { nested: { foreign } });
    expect(only(records).fields).toEqual({ nested: { foreign: '[redacted]' } });
  });

  it('redacts Secrets in bindings too', () => {
    const { log, records } = capture({ token: new Secret(VALUE) });
    log.child({ nested: { key: new Secret(VALUE) } }).info('x');
    expect(only(records).fields).toEqual({ token: '[redacted]', nested: { key: '[redacted]' } });
  });

  // Bug (logger.ts, scrub): `if (depth > 6 || ...) return value` hands back any object more than
  // 6 levels below `fields` uncopied and unscrubbed, so a Secret nested deeper than that reaches
  // the sink as the Secret object itself instead of '[redacted]'.
  it('redacts a Secret at any depth (deeper than 7 levels)', () => {
    const { log, records } = capture();
    let deep: unknown = { password: new Secret(VALUE) };
    for (let i = 0; i < 10; i++) deep = { next: deep };
    log.info('deep', { deep });
    let cursor: unknown = only(records).fields['deep'];
    for (let i = 0; i < 10; i++) cursor = (cursor as { next: unknown }).next;
    expect((cursor as { password: unknown }).password).toBe('[redacted]');
  });

  it('copies fields instead of keeping the caller objects', () => {
    const { log, records } = capture();
    const fields = { nested: { a: 1 }, list: [1, 2] };
    log.info('x', fields);
    fields.nested.a = 2;
    fields.list.push(3);
    expect(only(records).fields).toEqual({ nested: { a: 1 }, list: [1, 2] });
  });

  it('merges child bindings over parent bindings, and call fields over both', () => {
    const { log, records } = capture({ computer: 'node12', module: 'os-linux' });
    const child = log.child({ phase: 'load' });
    const grandchild = child.child({ phase: 'load/copy', attempt: 1 });
    child.info('a');
    grandchild.info('b', { attempt: 2, bytes: 10 });
    log.info('c');
    expect(records.map((r) => r.fields)).toEqual([
      { computer: 'node12', module: 'os-linux', phase: 'load' },
      { computer: 'node12', module: 'os-linux', phase: 'load/copy', attempt: 2, bytes: 10 },
      { computer: 'node12', module: 'os-linux' },
    ]);
  });

  it('turns errors in fields into {name, message, code}', () => {
    const { log, records } = capture();
    const vlab = coreError('VLAB_ERR_COMMAND_FAILED', 'dd failed', { computer: 'node12' });
    const plain = new TypeError('bad input');
    log.error('failed', { error: vlab, nested: { errors: [plain] } });
    const fields = only(records).fields;
    expect(fields['error']).toEqual({
      name: 'VlabError',
      message: vlab.message,
      code: 'VLAB_ERR_COMMAND_FAILED',
    });
    expect(fields['nested']).toEqual({
      errors: [{ name: 'TypeError', message: 'bad input', code: undefined }],
    });
    expect(fields['error']).not.toBeInstanceOf(Error);
  });

  it('turns Buffers and Uint8Arrays into a byte count', () => {
    const { log, records } = capture();
    log.info('read', {
      stdout: Buffer.from('hello'),
      chunk: new Uint8Array(3),
      nested: { empty: Buffer.alloc(0) },
    });
    expect(only(records).fields).toEqual({
      stdout: '<5 bytes>',
      chunk: '<3 bytes>',
      nested: { empty: '<0 bytes>' },
    });
  });

  it('keeps primitives as they are', () => {
    const { log, records } = capture();
    log.info('x', { s: 'a', n: 1, b: false, u: undefined, z: null });
    expect(only(records).fields).toEqual({ s: 'a', n: 1, b: false, u: undefined, z: null });
  });

  it('does not loop forever on a circular field', () => {
    const { log, records } = capture();
    const circular: Record<string, unknown> = { name: 'loop' };
    circular['self'] = circular;
    log.info('x', { circular });
    const fields = only(records).fields;
    expect((fields['circular'] as Record<string, unknown>)['name']).toBe('loop');
  });

  it('silentLogger drops everything', () => {
    expect(() => silentLogger.child({ a: 1 }).error('x', { s: new Secret(VALUE) })).not.toThrow();
  });
});
