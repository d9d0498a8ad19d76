/**
 * A key path from the root of the configuration file: strings for mapping keys, numbers for
 * sequence indices. `[]` is the root.
 * @public
 */
export type KeyPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
const MAX_SEGMENTS = 12;
const ELLIPSIS = Symbol('…');

/**
 * A key path as messages show it: `pools.0.computers.1.hostname`. A key that is not plain
 * (letters, digits, `_`, `-`, at most 60 characters) is shown quoted, escaped and cut,
 * `osModules["a.b"]`, so a key holding a dot, a newline or a terminal escape is shown as text and
 * cannot forge another key; a path of more than 12 keys is shown by its first and last 6;
 * `(root)` for the root.
 * @public
 */
export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return '(root)';
  // A path deeper than any real key is shown by its ends.
  const shown: (string | number | typeof ELLIPSIS)[] =
    path.length > MAX_SEGMENTS
      ? [...path.slice(0, MAX_SEGMENTS / 2), ELLIPSIS, ...path.slice(-MAX_SEGMENTS / 2)]
      : [...path];
  let out = '';
  for (const segment of shown) {
    if (segment === ELLIPSIS) out += '.…';
    else if (typeof segment === 'number') out += out === '' ? String(segment) : `.${segment}`;
    else if (segment.length <= 60 && PLAIN_KEY.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${quoteText(segment)}]`;
  }
  return out;
}

/**
 * `text` as a JSON string, cut to 60 characters, with every character outside printable ASCII
 * escaped: safe to put into a message or a log line whatever the text holds.
 * @internal
 */
export function quoteText(text: string): string {
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return JSON.stringify(cut).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
