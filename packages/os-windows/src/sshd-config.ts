/** The key file of each reservation user, as sshd_config names it (`%u`: the login). */
export const VLAB_KEYS_PATTERN = '__PROGRAMDATA__/ssh/vlab-authorized-keys/%u';

const DIRECTIVE = /^\s*AuthorizedKeysFile\s+(.*)$/i;

/**
 * `sshd_config` with reservation users' key files added to `AuthorizedKeysFile`: globally (before
 * the first `Match`), and in every `Match` block that sets its own — the default config of
 * OpenSSH for Windows has one for `Group administrators`, which otherwise reads only
 * `administrators_authorized_keys`. Returns `text` itself when nothing is missing. Pure.
 */
export function sshdConfigWithUserKeys(text: string): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const out: string[] = [];
  let inMatch = false;
  let globalDone = false;
  const withOurs = (line: string, match: RegExpExecArray): string => {
    const files = (match[1] ?? '').trim().split(/\s+/);
    return files.includes(VLAB_KEYS_PATTERN) ? line : `${line.trimEnd()} ${VLAB_KEYS_PATTERN}`;
  };
  for (const line of lines) {
    if (/^\s*Match\s/i.test(line)) {
      if (!globalDone) {
        out.push(`AuthorizedKeysFile .ssh/authorized_keys ${VLAB_KEYS_PATTERN}`);
        globalDone = true;
      }
      inMatch = true;
      out.push(line);
      continue;
    }
    const match = DIRECTIVE.exec(line);
    if (match !== null && !inMatch && !globalDone) {
      out.push(withOurs(line, match));
      globalDone = true;
      continue;
    }
    out.push(match !== null && inMatch ? withOurs(line, match) : line);
  }
  if (!globalDone) out.push(`AuthorizedKeysFile .ssh/authorized_keys ${VLAB_KEYS_PATTERN}`);
  const next = out.join(eol) + eol;
  return next === text ? text : next;
}
