import { describe, expect, it } from 'vitest';
import { hostsWithName, withLines, withoutLines } from '../src/text-files.js';

describe('withLines', () => {
  it('appends the missing lines in order and keeps the file as it was otherwise', () => {
    expect(withLines('a\nb\n', ['b', 'c', 'd', 'c'])).toBe('a\nb\nc\nd\n');
    expect(withLines('', ['k'])).toBe('k\n');
  });

  it('ends an unterminated last line before appending', () => {
    expect(withLines('a', ['k'])).toBe('a\nk\n');
  });

  it('returns the text itself when nothing is missing', () => {
    const text = 'a\n\n# c\nb';
    expect(withLines(text, ['a', 'b'])).toBe(text);
    expect(withLines(text, [])).toBe(text);
  });

  it('compares lines whole', () => {
    expect(withLines('ssh-ed25519 AAAA x\n', ['ssh-ed25519 AAAA'])).toBe(
      'ssh-ed25519 AAAA x\nssh-ed25519 AAAA\n',
    );
  });
});

describe('withoutLines', () => {
  it('drops exactly the equal lines', () => {
    expect(withoutLines('a\nk\nb\nk\nk x\n', ['k'])).toBe('a\nb\nk x\n');
    expect(withoutLines('k', ['k'])).toBe('');
  });

  it('returns the text itself when nothing goes', () => {
    const text = 'a\nb';
    expect(withoutLines(text, ['c'])).toBe(text);
  });
});

describe('hostsWithName', () => {
  it('leaves a file that already names the host alone', () => {
    const hosts = '127.0.0.1\tlocalhost\n127.0.1.1\tc1\n::1 localhost\n';
    expect(hostsWithName(hosts, 'c1')).toBe(hosts);
  });

  it('replaces every other 127.0.1.1 line, keeping the rest in order', () => {
    expect(
      hostsWithName('127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost\n127.0.1.1\told\n', 'c1'),
    ).toBe('127.0.0.1 localhost\n::1 localhost\n127.0.1.1\tc1\n');
  });

  it('adds the line to a file without one, or to none', () => {
    expect(hostsWithName('127.0.0.1 localhost', 'c1')).toBe('127.0.0.1 localhost\n127.0.1.1\tc1\n');
    expect(hostsWithName('', 'c1')).toBe('127.0.1.1\tc1\n');
  });

  it('does not take 127.0.1.10 for 127.0.1.1', () => {
    expect(hostsWithName('127.0.1.10 other\n', 'c1')).toBe('127.0.1.10 other\n127.0.1.1\tc1\n');
  });
});
