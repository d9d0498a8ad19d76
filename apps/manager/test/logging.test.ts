import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger, type LogLevel, type LogSink, Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { pinoSink } from '../src/logging/pino-sink.js';
import { REDACTED_KEYS } from '../src/logging/redaction.js';

// The manager's default log sink (pino): the JSON shape, level filtering, redaction, readable
// lines, and the choice between them by whether stderr is a terminal.

/** A sink writing into memory, as stderr would get it. */
function capture(env: Record<string, string> = {}, isTTY = false) {
  let text = '';
  const sink: LogSink = pinoSink({
    env,
    output: {
      isTTY,
      write: (chunk: string) => {
        text += chunk;
      },
    },
  });
  return {
    sink,
    log: createLogger(sink),
    text: () => text,
    json: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

describe('pinoSink JSON lines', () => {
  it('writes one object per line: level, ISO time, the fields, msg', () => {
    const out = capture();
    out.sink({
      level: 'info',
      message: 'workflow step done',
      time: Date.UTC(2026, 10, 29, 18, 0, 0, 123),
      fields: { reservationId: 'r-1', computer: 'c1', step: 'load', durationMs: 12 },
    });
    out.log.error('second', { nested: { list: [1, 'two'] } });
    const lines = out.text().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0] as string)).toEqual({
      level: 'info',
      time: '2026-11-29T18:00:00.123Z',
      reservationId: 'r-1',
      computer: 'c1',
      step: 'load',
      durationMs: 12,
      msg: 'workflow step done',
    });
    const second = JSON.parse(lines[1] as string) as Record<string, unknown>;
    expect(Object.keys(second)).toEqual(['level', 'time', 'nested', 'msg']);
    expect(second).toMatchObject({ level: 'error', msg: 'second', nested: { list: [1, 'two'] } });
    expect(new Date(second['time'] as string).toISOString()).toBe(second['time']);
  });

  it('is the format in a pipe, and with VLAB_LOG_FORMAT=json on a terminal', () => {
    for (const out of [capture({}, false), capture({ VLAB_LOG_FORMAT: 'json' }, true)]) {
      out.log.info('hello', { a: 1 });
      expect(out.json()).toMatchObject([{ level: 'info', msg: 'hello', a: 1 }]);
    }
  });
});

describe('pinoSink levels', () => {
  const all: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const written = (env: Record<string, string>): string[] => {
    const out = capture(env);
    for (const level of all) out.log[level](`at ${level}`);
    return out.json().map((line) => String(line['level']));
  };

  it('writes from VLAB_LOG_LEVEL up, info by default', () => {
    expect(written({})).toEqual(['info', 'warn', 'error']);
    expect(written({ VLAB_LOG_LEVEL: 'debug' })).toEqual(['debug', 'info', 'warn', 'error']);
    expect(written({ VLAB_LOG_LEVEL: 'info' })).toEqual(['info', 'warn', 'error']);
    expect(written({ VLAB_LOG_LEVEL: ' WARN ' })).toEqual(['warn', 'error']);
    expect(written({ VLAB_LOG_LEVEL: 'error' })).toEqual(['error']);
    expect(written({ VLAB_LOG_LEVEL: '' })).toEqual(['info', 'warn', 'error']);
  });

  it('says first when VLAB_LOG_LEVEL or VLAB_LOG_FORMAT is not understood, and uses the default', () => {
    const out = capture({ VLAB_LOG_LEVEL: 'verbose', VLAB_LOG_FORMAT: 'xml' });
    out.log.debug('dropped');
    out.log.info('kept');
    expect(out.json()).toMatchObject([
      {
        level: 'warn',
        msg: 'VLAB_LOG_LEVEL is not understood; using the default',
        variable: 'VLAB_LOG_LEVEL',
        value: 'verbose',
        expected: ['debug', 'info', 'warn', 'error'],
        used: 'info',
      },
      {
        level: 'warn',
        variable: 'VLAB_LOG_FORMAT',
        value: 'xml',
        expected: ['json', 'pretty'],
        used: 'json',
      },
      { level: 'info', msg: 'kept' },
    ]);
  });
});

describe('pinoSink redaction', () => {
  it.each(REDACTED_KEYS)('never prints a field named %s, as a field or nested', (key) => {
    const value = `hunter2-${key}`;
    const out = capture({ VLAB_LOG_LEVEL: 'debug' });
    out.log.debug('with secrets', {
      [key]: value,
      request: { headers: { [key]: value } },
      list: [{ deep: { [key]: { nested: value } } }],
      kept: 'visible',
    });
    expect(out.text()).not.toContain('hunter2');
    expect(out.json()).toEqual([
      expect.objectContaining({
        [key]: '[redacted]',
        request: { headers: { [key]: '[redacted]' } },
        list: [{ deep: { [key]: '[redacted]' } }],
        kept: 'visible',
      }),
    ]);
  });

  it('prints a Secret anywhere in the fields as [redacted], through the Logger or straight to the sink', () => {
    const secret = new Secret('s3cret-value-42', 'bmc password of c1');
    const fields = {
      harmless: secret,
      a: { b: { c: { d: { e: [secret, { f: secret }] } } } },
      error: new Error('failed'),
    };
    const out = capture({ VLAB_LOG_LEVEL: 'debug' });
    out.log.info('through the logger', fields);
    out.sink({ level: 'warn', message: 'straight', time: Date.now(), fields });
    const [logged, straight] = out.json();
    expect(out.text()).not.toContain('s3cret-value-42');
    expect(logged).toMatchObject({
      harmless: '[redacted]',
      a: { b: { c: { d: { e: ['[redacted]', { f: '[redacted]' }] } } } },
    });
    expect(straight).toMatchObject({
      harmless: '[redacted]',
      a: { b: { c: { d: { e: ['[redacted]', { f: '[redacted]' }] } } } },
    });
  });

  it('redacts in readable lines too', () => {
    const out = capture({ VLAB_LOG_FORMAT: 'pretty' });
    out.log.info('pretty secrets', { token: 'tok-123456', key: new Secret('tok-abcdef') });
    expect(out.text()).not.toContain('tok-');
    expect(out.text()).toContain('[redacted]');
  });
});

describe('pinoSink readable lines', () => {
  it('writes one readable line per record with VLAB_LOG_FORMAT=pretty, colored only on a terminal', () => {
    const plain = capture({ VLAB_LOG_FORMAT: 'pretty' }, false);
    plain.log.info('workflow step done', { reservationId: 'r-1', computer: 'c1', step: 'load' });
    plain.log.warn('workflow step failed', { step: 'load', errorCode: 'VLAB_ERR_X' });
    const lines = plain.text().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] INFO: workflow step done \{"reservationId":"r-1","computer":"c1","step":"load"\}$/,
    );
    expect(lines[1]).toMatch(/\] WARN: workflow step failed \{.*"errorCode":"VLAB_ERR_X"/);
    expect(plain.text()).not.toContain(ESC);

    const tty = capture({}, true);
    tty.log.info('on a terminal', { computer: 'c1' });
    expect(tty.text()).toContain(ESC);
    expect(tty.text().replace(ANSI, '')).toMatch(/\] INFO: on a terminal \{"computer":"c1"\}\n$/);

    const noColor = capture({ NO_COLOR: '1' }, true);
    noColor.log.info('on a terminal, no color');
    expect(noColor.text()).toMatch(/\] INFO: on a terminal, no color\n$/);
  });
});

describe('the default output, stderr', () => {
  const run = promisify(execFile);
  const child = fileURLToPath(new URL('./log-child.ts', import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const env = (more: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const {
      VLAB_LOG_LEVEL: _level,
      VLAB_LOG_FORMAT: _format,
      NO_COLOR: _noColor,
      ...rest
    } = process.env;
    return { ...rest, ...more };
  };
  /** The child's stderr on a pseudo-terminal (`script` gives the terminal's output on its stdout). */
  const onTerminal = async (more?: Record<string, string>): Promise<string> => {
    const { stdout } = await run('script', ['-qfec', `node --import tsx ${child}`, '/dev/null'], {
      cwd,
      env: env(more),
    });
    return stdout;
  };
  const inPipe = async (more?: Record<string, string>): Promise<string> => {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', child], {
      cwd,
      env: env(more),
    });
    expect(stdout).toBe('');
    return stderr;
  };

  it('is readable and colored on a terminal', async () => {
    const text = await onTerminal();
    expect(text).toContain(ESC);
    expect(text.replace(ANSI, '')).toMatch(
      /^\[[^\]]+\] INFO: hello from the child \{"reservationId":"r-1","computer":"c1","password":"\[redacted\]","key":"\[redacted\]"\}\r\n$/,
    );
    expect(text).not.toContain('child-secret');
  });

  it('is JSON in a pipe', async () => {
    const text = await inPipe();
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({
      level: 'info',
      reservationId: 'r-1',
      computer: 'c1',
      password: '[redacted]',
      key: '[redacted]',
      msg: 'hello from the child',
    });
    expect(text).not.toContain('child-secret');
  });

  it('follows VLAB_LOG_FORMAT either way', async () => {
    const json = await onTerminal({ VLAB_LOG_FORMAT: 'json' });
    expect(JSON.parse(json)).toMatchObject({ level: 'info', msg: 'hello from the child' });
    const pretty = await inPipe({ VLAB_LOG_FORMAT: 'pretty' });
    expect(pretty).toMatch(/^\[[^\]]+\] INFO: hello from the child \{.*\}\n$/);
    expect(pretty).not.toContain(ESC);
  });
});
