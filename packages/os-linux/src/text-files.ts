// Line edits of small text files, pure (no I/O): the module reads a file, changes it here and
// writes it back whole through the communicator's `put`, never through a shell.

/** The lines of `text` (a final line break ends the last line; it does not start an empty one). */
function linesOf(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function textOf(lines: readonly string[]): string {
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * `text` with every line of `wanted` that it lacks (compared whole) appended in order; `text`
 * itself, byte for byte, when it holds them all.
 */
export function withLines(text: string, wanted: readonly string[]): string {
  const lines = linesOf(text);
  const present = new Set(lines);
  const missing = [...new Set(wanted)].filter((line) => !present.has(line));
  return missing.length === 0 ? text : textOf([...lines, ...missing]);
}

/** `text` without the lines equal to one of `unwanted`; `text` itself when it has none. */
export function withoutLines(text: string, unwanted: readonly string[]): string {
  const drop = new Set(unwanted);
  const lines = linesOf(text);
  const kept = lines.filter((line) => !drop.has(line));
  return kept.length === lines.length ? text : textOf(kept);
}

/**
 * `/etc/hosts` naming `hostname` on its `127.0.1.1` line (Debian's convention): unchanged when
 * the line `127.0.1.1<TAB>hostname` is there; otherwise every other `127.0.1.1` line goes and
 * that line is appended.
 */
export function hostsWithName(text: string, hostname: string): string {
  const line = `127.0.1.1\t${hostname}`;
  const lines = linesOf(text);
  if (lines.includes(line)) return text;
  return textOf([...lines.filter((l) => !/^127\.0\.1\.1[ \t\v\f\r]/.test(l)), line]);
}
