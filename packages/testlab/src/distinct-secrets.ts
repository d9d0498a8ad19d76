import type { Secret } from '@vlab/core';

/**
 * A harness's `secrets()`: the ones it knows (`fixed`) and whatever else its resolver handed out
 * (a file the module's config names, say), each value once, the fixed ones first.
 */
export function distinctSecrets(fixed: readonly Secret[], resolved: Iterable<Secret>): Secret[] {
  const values = new Set(fixed.map((s) => s.reveal()));
  const all = [...fixed];
  for (const secret of resolved) {
    if (values.has(secret.reveal())) continue;
    values.add(secret.reveal());
    all.push(secret);
  }
  return all;
}
