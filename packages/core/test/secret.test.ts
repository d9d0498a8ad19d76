import { Console } from 'node:console';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretResolver, redact, Secret } from '../src/secret.js';
import { rejection } from './rejection.js';

const VALUE = 'hunter2-Zq9!';

describe('Secret', () => {
  const secret = new Secret(VALUE, 'bmc password of node12');

  it('never shows its value when printed', () => {
    const forms = [
      String(secret),
      `${secret}`,
      `password=${secret}`,
      JSON.stringify({ s: secret }),
      JSON.stringify([secret]),
      inspect(secret),
      inspect({ nested: { s: secret } }, { depth: 10 }),
      format('%s', secret),
      format('%o', secret),
      format('%O', secret),
      format('%j', { s: secret }),
      format(secret),
      secret.toString(),
    ];
    for (const form of forms) {
      expect(form).not.toContain(VALUE);
      expect(form).toContain('[redacted]');
    }
    expect(JSON.stringify({ s: secret })).toBe('{"s":"[redacted]"}');
    // Even without custom inspection, the value lives in a private field inspect cannot see.
    expect(inspect(secret, { customInspect: false, showHidden: true })).not.toContain(VALUE);
  });

  it('never shows its value through a real console', () => {
    let output = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output += chunk.toString('utf8');
        callback();
      },
    });
    const console = new Console({ stdout: stream, stderr: stream, colorMode: false });
    console.log(secret);
    console.log('pw %s', secret);
    console.log({ user: 'admin', password: secret, list: [secret] });
    console.error('failed with', secret);
    console.dir({ deep: { deeper: { secret } } }, { depth: null });
    expect(output).not.toContain(VALUE);
    // console.dir skips custom inspection; the private value still stays hidden.
    expect(output.split('[redacted]').length - 1).toBe(5);
    expect(output).toContain("label: 'bmc password of node12'");
  });

  it('names its label, but not its value, in util.inspect', () => {
    expect(inspect(secret)).toBe('Secret(bmc password of node12) [redacted]');
    expect(new Secret('x').label).toBe('secret');
  });

  it('does not expose its value through its own properties', () => {
    expect(Object.values(secret)).not.toContain(VALUE);
    expect(Object.keys(secret)).toEqual(['label']);
    expect({ ...secret }).toEqual({ label: 'bmc password of node12' });
  });

  it('gives the value only through reveal()', () => {
    expect(secret.reveal()).toBe(VALUE);
  });

  it('recognises secrets by their brand, also from a second copy of the package', () => {
    expect(Secret.isSecret(secret)).toBe(true);
    const secondCopy = {
      reveal: () => 'other',
      [Symbol.for('vlab.secret')]: true,
    };
    expect(Secret.isSecret(secondCopy)).toBe(true);
    expect(Secret.isSecret({ reveal: () => VALUE })).toBe(false);
    expect(Secret.isSecret({ [Symbol('vlab.secret')]: true })).toBe(false);
    expect(Secret.isSecret(VALUE)).toBe(false);
    expect(Secret.isSecret(null)).toBe(false);
    expect(Secret.isSecret(undefined)).toBe(false);
  });
});

describe('createSecretResolver', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vlab-secret-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an environment variable', async () => {
    const resolver = createSecretResolver({ env: { BMC_PASSWORD: VALUE } });
    const secret = await resolver.resolve({ env: 'BMC_PASSWORD' });
    expect(Secret.isSecret(secret)).toBe(true);
    expect(secret.reveal()).toBe(VALUE);
    expect(secret.label).toBe('env BMC_PASSWORD');
  });

  it('reads process.env by default', async () => {
    const name = `VLAB_TEST_SECRET_${process.pid}`;
    process.env[name] = VALUE;
    try {
      expect((await createSecretResolver().resolve({ env: name })).reveal()).toBe(VALUE);
    } finally {
      delete process.env[name];
    }
  });

  it('fails with VLAB_ERR_SECRET_UNRESOLVED naming an unset or empty variable', async () => {
    const resolver = createSecretResolver({ env: { EMPTY: '', OTHER: VALUE } });
    for (const name of ['MISSING', 'EMPTY']) {
      const error = await rejection(resolver.resolve({ env: name }));
      expect(error.code).toBe('VLAB_ERR_SECRET_UNRESOLVED');
      expect(error.message).toContain(name);
      expect(error.message).not.toContain(VALUE);
    }
  });

  it('reads a file and strips one trailing newline', async () => {
    const resolver = createSecretResolver();
    const cases: [string, string][] = [
      ['plain', VALUE],
      ['lf', `${VALUE}\n`],
      ['crlf', `${VALUE}\r\n`],
    ];
    for (const [name, content] of cases) {
      const path = join(dir, name);
      await writeFile(path, content);
      const secret = await resolver.resolve({ file: path });
      expect(secret.reveal()).toBe(VALUE);
      expect(secret.label).toBe(`file ${path}`);
    }
    const twoNewlines = join(dir, 'two');
    await writeFile(twoNewlines, `${VALUE}\n\n`);
    expect((await resolver.resolve({ file: twoNewlines })).reveal()).toBe(`${VALUE}\n`);
    const inner = join(dir, 'inner');
    await writeFile(inner, `line1\nline2\n`);
    expect((await resolver.resolve({ file: inner })).reveal()).toBe('line1\nline2');
  });

  it('fails with VLAB_ERR_SECRET_UNRESOLVED naming a missing file, with its errno code', async () => {
    const path = join(dir, 'does-not-exist');
    const error = await rejection(createSecretResolver().resolve({ file: path }));
    expect(error.code).toBe('VLAB_ERR_SECRET_UNRESOLVED');
    expect(error.message).toContain(path);
    expect(error.message).toContain('ENOENT');
  });

  it('does not leak anything a failing reader says into the message', async () => {
    const resolver = createSecretResolver({
      readFile: async () => {
        throw Object.assign(new Error(`parse error near ${VALUE}`), { code: 'EACCES' });
      },
    });
    const error = await rejection(resolver.resolve({ file: '/run/secrets/bmc' }));
    expect(error.code).toBe('VLAB_ERR_SECRET_UNRESOLVED');
    expect(error.message).toContain('/run/secrets/bmc');
    expect(error.message).toContain('EACCES');
    expect(error.message).not.toContain(VALUE);
    expect(JSON.stringify(error.details)).not.toContain(VALUE);
  });
});

describe('redact', () => {
  it('replaces every occurrence of each value', () => {
    const a = new Secret('alpha');
    const b = new Secret('beta');
    expect(redact('alpha beta alpha gamma', [a, b])).toBe('[redacted] [redacted] [redacted] gamma');
  });

  it('treats regex metacharacters literally', () => {
    const hostile = new Secret('a.*b$(c)[d]|e+?^\\');
    const text = `x a.*b$(c)[d]|e+?^\\ y aXXb`;
    expect(redact(text, [hostile])).toBe('x [redacted] y aXXb');
    const dollar = new Secret('$&');
    expect(redact('pre $& post', [dollar])).toBe('pre [redacted] post');
  });

  it('handles unicode values', () => {
    const secret = new Secret('pässwörd🔑密码');
    expect(redact('login pässwörd🔑密码 ok', [secret])).toBe('login [redacted] ok');
  });

  it('leaves the text alone for an empty secret', () => {
    expect(redact('nothing to hide', [new Secret('')])).toBe('nothing to hide');
  });

  // Bug (secret.ts, redact): secrets are replaced in the order given, so when one value contains
  // another ('hunter2' inside 'hunter2-long'), the shorter one is replaced first and the rest of
  // the longer secret ('-long') stays in the text. Replacing longer values first fixes it.
  it('redacts the whole of a secret that contains another secret', () => {
    const short = new Secret('hunter2');
    const long = new Secret('hunter2-long');
    expect(redact('pw=hunter2-long', [short, long])).toBe('pw=[redacted]');
  });

  it('accepts any iterable of secrets', () => {
    const set = new Set([new Secret('one'), new Secret('two')]);
    expect(redact('one two three', set)).toBe('[redacted] [redacted] three');
    expect(redact('one', [])).toBe('one');
  });
});
