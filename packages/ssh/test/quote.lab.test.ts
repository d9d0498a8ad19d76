import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshClient } from '../src/client.js';
import { type Lab, startLab } from './lab.fixture.js';

/** Runs a remote program that prints each of its arguments followed by NUL. */
const ECHO = ['sh', '-c', 'for a; do printf "%s\\0" "$a"; done', 'echo-args'];

function expected(args: readonly string[]): Buffer {
  return Buffer.concat(args.flatMap((arg) => [Buffer.from(arg, 'utf8'), Buffer.from([0])]));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const CORPUS = [
  "'; rm -rf / #",
  '$(reboot)',
  '`reboot`',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax on purpose
  '${IFS}$HOME$0$$$?$!$@$*',
  'line one\nline two\r\n',
  '\t leading and trailing \t',
  '"double" \'single\' `back`',
  "'",
  "''",
  '"',
  '\\',
  '\\\\n\\x00\\0',
  '!!',
  '!$',
  '-n',
  '--',
  '-e',
  '~',
  '~root',
  '*',
  '?',
  '[a-z]*',
  '{a,b}',
  '#not a comment',
  '&& echo pwned ; echo pwned | cat > /dev/null &',
  '<(echo x)',
  'a=b',
  '',
  ' ',
  'ünïcödé — ✓ 日本語 𝕏 😀 🏳️‍🌈',
  'RTL \u202e txet',
  'combining e\u0301',
  '\u00a0no-break\u2028line-sep',
  '\x1b[31mred\x1b[0m',
  '\x01\x02\x7f',
  '%s%n%x',
];

describe('quoting against a real shell over a real sshd', () => {
  let lab: Lab;
  let client: SshClient;
  beforeAll(async () => {
    lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    client = lab.pool.client(lab.target);
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('delivers the hostile-argument corpus byte-for-byte', async () => {
    const result = await client.exec([...ECHO, ...CORPUS]);
    expect(result.stderr.toString()).toBe('');
    expect(result.stdout.equals(expected(CORPUS))).toBe(true);
    // Each alone too: nothing leaks between arguments.
    const each = await Promise.all(CORPUS.map((arg) => client.exec([...ECHO, arg])));
    for (const [i, r] of each.entries()) {
      expect(r.stdout.equals(expected([CORPUS[i] ?? ''])), CORPUS[i]).toBe(true);
    }
  });

  it('delivers a 100 KB argument of shell metacharacters byte-for-byte', async () => {
    const unit = `abc'"$(x)\`y\`\\\n ;|&*?~#!{}[]<>é😀`;
    const big = unit.repeat(Math.ceil(100_000 / unit.length)).slice(0, 100_000);
    const result = await client.exec([...ECHO, big]);
    expect(result.stdout.length).toBe(Buffer.byteLength(big) + 1);
    expect(result.stdout.equals(expected([big]))).toBe(true);
  });

  it('delivers arbitrary argument vectors byte-for-byte (property)', async () => {
    const argument = fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.constantFrom(...CORPUS),
        fc.stringMatching(/^[-'"`$\\(){}<>|&;*?!#~ \n\t]{0,12}$/),
      )
      .map((s) => s.replaceAll('\0', ''))
      .filter((s) => !LONE_SURROGATE.test(s));
    await fc.assert(
      fc.asyncProperty(fc.array(argument, { minLength: 0, maxLength: 8 }), async (args) => {
        const result = await client.exec([...ECHO, ...args]);
        expect(result.code).toBe(0);
        expect(result.stdout.toString('hex')).toBe(expected(args).toString('hex'));
      }),
      { numRuns: 150 },
    );
  });

  it('rejects a NUL byte before anything runs', async () => {
    await expect(client.exec([...ECHO, 'a\0b'])).rejects.toMatchObject({
      code: 'VLAB_ERR_ARGUMENT_INVALID',
    });
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (a, b) => {
        await expect(client.exec([...ECHO, `${a}\0${b}`])).rejects.toMatchObject({
          code: 'VLAB_ERR_ARGUMENT_INVALID',
          computer: 'lab-node',
        });
      }),
      { numRuns: 20 },
    );
  });
});
