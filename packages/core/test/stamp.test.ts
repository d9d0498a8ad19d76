import { describe, expect, it } from 'vitest';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import { createLogger, type LogRecord } from '../src/logger.js';
import {
  capturedStamp,
  IMAGE_STAMP_PATHS,
  type ImageStamp,
  parseStamp,
  readyStamp,
  serializeStamp,
  stampToPrepare,
  taintedStamp,
} from '../src/stamp.js';

const when = new Date('2030-01-01T00:00:00.000Z');
const later = new Date('2030-01-02T12:00:00.000Z');

function thrown(fn: () => void): VlabError {
  try {
    fn();
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

const valid = {
  schema: 1,
  image: 'alma9',
  revision: 3,
  state: 'captured',
  capturedAt: when.toISOString(),
  tainted: false,
};

describe('stamp life cycle', () => {
  it('makes a captured stamp, a ready one over it and a tainted one', () => {
    const captured = capturedStamp({ image: 'alma9', revision: 3 }, when);
    expect(captured).toEqual(valid);
    const ready = readyStamp(captured, 'node12', later);
    expect(ready).toEqual({
      ...valid,
      state: 'ready',
      computer: 'node12',
      readyAt: later.toISOString(),
    });
    expect(captured.state).toBe('captured');
    const tainted = taintedStamp(ready);
    expect(tainted).toEqual({ ...ready, tainted: true });
    expect(ready.tainted).toBe(false);
  });

  it('has fixed paths', () => {
    expect(IMAGE_STAMP_PATHS.posix).toBe('/etc/vlab/image-stamp.json');
    expect(IMAGE_STAMP_PATHS.windows).toBe('C:\\ProgramData\\vlab\\image-stamp.json');
  });
});

describe('serializeStamp / parseStamp', () => {
  it('writes the keys in one order, whatever order the object has', () => {
    const stamp = readyStamp(capturedStamp({ image: 'alma9', revision: 3 }, when), 'node12', later);
    const shuffled = Object.fromEntries(Object.entries(stamp).reverse()) as unknown as ImageStamp;
    expect(serializeStamp(shuffled)).toBe(serializeStamp(stamp));
    expect(Object.keys(JSON.parse(serializeStamp(stamp)))).toEqual([
      'schema',
      'image',
      'revision',
      'state',
      'capturedAt',
      'computer',
      'readyAt',
      'tainted',
    ]);
  });

  it('round-trips every stage', () => {
    const captured = capturedStamp({ image: 'alma9', revision: 3 }, when);
    const stamps: ImageStamp[] = [
      captured,
      readyStamp(captured, 'node12', later),
      taintedStamp(readyStamp(captured, 'node12', later)),
    ];
    for (const stamp of stamps) {
      const text = serializeStamp(stamp);
      expect(text.endsWith('}\n')).toBe(true);
      expect(text.endsWith('\n\n')).toBe(false);
      expect(parseStamp(text)).toEqual(stamp);
    }
  });

  it('writes pretty JSON with one trailing newline', () => {
    const text = serializeStamp(capturedStamp({ image: 'alma9', revision: 3 }, when));
    expect(text).toBe(`${JSON.stringify(valid, null, 2)}\n`);
  });

  it('accepts CRLF and surrounding whitespace', () => {
    expect(parseStamp(`  ${JSON.stringify(valid)}\r\n`)).toEqual(valid);
  });

  it('rejects text that is not JSON, naming the computer', () => {
    const error = thrown(() => parseStamp('{"schema":1,', 'node12'));
    expect(error.code).toBe('VLAB_ERR_STAMP_INVALID');
    expect(error.message).toContain('not JSON');
    expect(error.computer).toBe('node12');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    ['null', null, 'is not an object'],
    ['a string', 'alma9', 'is not an object'],
    ['a number', 3, 'is not an object'],
    ['an array', [valid], 'unknown schema'],
    ['a missing schema', { ...valid, schema: undefined }, 'unknown schema'],
    ['schema 2', { ...valid, schema: 2 }, 'unknown schema'],
    ['schema "1"', { ...valid, schema: '1' }, 'unknown schema'],
    ['a missing image', { ...valid, image: undefined }, 'no image name'],
    ['an empty image', { ...valid, image: '' }, 'no image name'],
    ['a numeric image', { ...valid, image: 7 }, 'no image name'],
    ['a missing revision', { ...valid, revision: undefined }, 'no integer revision'],
    ['a fractional revision', { ...valid, revision: 1.5 }, 'no integer revision'],
    ['a string revision', { ...valid, revision: '3' }, 'no integer revision'],
    ['an unknown state', { ...valid, state: 'loading' }, 'state other than captured or ready'],
    ['a missing state', { ...valid, state: undefined }, 'state other than captured or ready'],
    ['a missing capturedAt', { ...valid, capturedAt: undefined }, 'no capturedAt'],
    ['a numeric capturedAt', { ...valid, capturedAt: 0 }, 'no capturedAt'],
    ['a missing tainted flag', { ...valid, tainted: undefined }, 'no tainted flag'],
    ['a string tainted flag', { ...valid, tainted: 'false' }, 'no tainted flag'],
  ])('rejects %s with VLAB_ERR_STAMP_INVALID', (_label, value, problem) => {
    const error = thrown(() => parseStamp(JSON.stringify(value), 'node12'));
    expect(error.code).toBe('VLAB_ERR_STAMP_INVALID');
    expect(error.message).toContain(`the image stamp `);
    expect(error.message).toContain(problem);
    expect(error.computer).toBe('node12');
  });
});

describe('stampToPrepare', () => {
  const computer = {
    name: 'c1',
    hostname: 'c1',
    addresses: { management: '192.0.2.1' },
    credentials: {},
    attributes: {},
  };
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record));

  it("takes the machine's stamp as it is", () => {
    const found = readyStamp(capturedStamp({ image: 'img', revision: 3 }, when), 'c1', later);
    expect(
      stampToPrepare(
        { computer, log, image: { name: 'other', revision: 1, osFamily: 'linux' } },
        found,
      ),
    ).toBe(found);
  });

  it("makes a captured stamp of the context's image for an image without one, and says so", () => {
    records.length = 0;
    const stamp = stampToPrepare(
      { computer, log, image: { name: 'img', revision: 3, osFamily: 'linux' } },
      undefined,
    );
    expect(stamp).toMatchObject({ image: 'img', revision: 3, state: 'captured', tainted: false });
    expect(records).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'the image has no stamp: taking it as a fresh image',
      }),
    ]);
  });

  it('refuses when there is neither a stamp nor an image in the context', () => {
    const error = thrown(() => stampToPrepare({ computer, log, image: undefined }, undefined));
    expect(error.code).toBe('VLAB_ERR_STAMP_INVALID');
    expect(error.computer).toBe('c1');
  });
});
