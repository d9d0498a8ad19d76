// Line edits of small text files, pure (no I/O): the module reads a file, changes it here and
// writes it back whole. Windows files end lines with CRLF; a file's own line ends are kept.

function split(text: string): { lines: string[]; eol: string } {
  const eol = text.includes('\r\n') || text === '' ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  return { lines, eol };
}

/** `text` with every line of `wanted` it lacks appended in order; `text` itself when it has them all. */
export function withLines(text: string, wanted: readonly string[]): string {
  const { lines, eol } = split(text);
  const present = new Set(lines.map((line) => line.trim()));
  const missing = [...new Set(wanted.map((line) => line.trim()))].filter(
    (line) => !present.has(line),
  );
  return missing.length === 0 ? text : [...lines, ...missing].map((line) => line + eol).join('');
}

/** `text` without the lines equal to one of `unwanted`; `text` itself when it has none. */
export function withoutLines(text: string, unwanted: readonly string[]): string {
  const drop = new Set(unwanted.map((line) => line.trim()));
  const { lines, eol } = split(text);
  const kept = lines.filter((line) => !drop.has(line.trim()));
  return kept.length === lines.length ? text : kept.map((line) => line + eol).join('');
}
