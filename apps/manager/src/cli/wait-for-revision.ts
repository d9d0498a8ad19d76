import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiClient, apiPath } from './api-client.js';
import { EXIT } from './exit-codes.js';

interface ImageWire {
  readonly name: string;
  readonly revisions: readonly {
    readonly revision: number;
    readonly state: string;
    readonly failure: string | null;
  }[];
}

/** How often the image is asked again. A revision's test load takes minutes, not seconds. */
const POLL_MS = 1000;

/**
 * Waits until the newest revision of `image` is `production` (exit 0) or `failed` / `retired`
 * (exit {@link EXIT.failed}), printing each state it passes through: a captured revision is
 * `capturing`, then `testing` while its automatic test load runs. Every user may read images, so
 * this works without the admin's lab-wide event stream.
 */
export async function waitForRevision(
  client: ApiClient,
  image: string,
  output: { readonly write: (text: string) => void; readonly json: boolean },
): Promise<number> {
  let last = '';
  for (;;) {
    const found = await client.call<ImageWire>('GET', apiPath('images', image));
    const newest = found.revisions.at(-1);
    const seen =
      newest === undefined ? 'no revision yet' : `revision ${newest.revision} ${newest.state}`;
    if (seen !== last) {
      output.write(
        output.json
          ? `${JSON.stringify({ image, revision: newest?.revision ?? null, state: newest?.state ?? null })}\n`
          : `${image} ${seen}${newest?.failure ? `: ${newest.failure}` : ''}\n`,
      );
      last = seen;
    }
    if (newest?.state === 'production') return EXIT.ok;
    if (newest?.state === 'failed' || newest?.state === 'retired') return EXIT.failed;
    await sleep(POLL_MS);
  }
}
