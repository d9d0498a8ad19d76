import { type ApiClient, apiPath } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';

interface StreamEvent {
  readonly id: number;
  readonly kind: string;
  readonly step: string | null;
  readonly computer: string | null;
  readonly outcome: string | null;
  readonly durationMs: number | null;
  readonly errorCode: string | null;
  readonly message: string | null;
  readonly progress: {
    readonly unit: 'bytes' | 'steps';
    readonly done: number;
    readonly total: number | null;
    readonly ratePerSecond: number | null;
    readonly etaSeconds: number | null;
  } | null;
}

/** The events that end a watch: the reservation is ready, or over. */
const ENDS: Readonly<Record<string, 'ready' | 'over'>> = {
  ready: 'ready',
  ended: 'over',
  failed: 'over',
  'workflow-failed': 'over',
};

/**
 * Follows a reservation's event stream until it is ready (when it is being prepared) or over,
 * printing each step, and its progress samples as a bar that redraws itself on a terminal.
 * Resolves with the exit code: 0, or {@link EXIT.failed} for a reservation that failed.
 */
export async function watch(
  client: ApiClient,
  id: string,
  output: { readonly write: (text: string) => void; readonly tty: boolean; readonly json: boolean },
): Promise<number> {
  // Read before the state: an end recorded after this id is then never missed.
  const newest = await newestEventId(client, id);
  const status = await client.call<{ state: string }>('GET', apiPath('reservations', id));
  if (status.state === 'ended' || status.state === 'failed') {
    output.write(`reservation ${id} is ${status.state}\n`);
    return status.state === 'failed' ? EXIT.failed : EXIT.ok;
  }
  const until = status.state === 'pending' || status.state === 'loading' ? 'ready' : 'over';
  const controller = new AbortController();
  // One being prepared is shown from its start; a ready one from now (a capture, its end).
  const response = await client.fetch(apiPath('api', 'v1', 'reservations', id, 'stream'), {
    signal: controller.signal,
    headers: until === 'over' ? { 'last-event-id': String(newest) } : {},
  });
  if (response.body === null) throw new CliError(EXIT.unreachable, 'the stream has no body');
  let bar = false;
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const data = /^data: (.*)$/m.exec(buffered.slice(0, end))?.[1];
        buffered = buffered.slice(end + 2);
        if (data === undefined) continue;
        const event = JSON.parse(data) as StreamEvent;
        if (output.json) {
          output.write(`${data}\n`);
        } else if (event.progress !== null) {
          const line = progressLine(event);
          if (output.tty) {
            output.write(`\r\u001b[2K${line}`);
            bar = true;
          } else {
            output.write(`${line}\n`);
          }
        } else {
          if (bar) output.write('\n');
          bar = false;
          output.write(`${stepLine(event)}\n`);
        }
        const ends = ENDS[event.kind];
        if (ends === 'over' || ends === until) {
          if (bar) output.write('\n');
          return event.kind === 'ready' || event.kind === 'ended' ? EXIT.ok : EXIT.failed;
        }
      }
    }
  } finally {
    controller.abort();
  }
  throw new CliError(EXIT.unreachable, 'the manager closed the stream', {
    hint: 'Run vlab watch again: it goes on where the reservation is.',
  });
}

/** The id of the reservation's newest event so far (0 when it has none). */
async function newestEventId(client: ApiClient, id: string): Promise<number> {
  let after = 0;
  for (;;) {
    const { items } = await client.call<{ items: { id: number }[] }>(
      'GET',
      `/events?reservation=${encodeURIComponent(id)}&after=${after}&limit=1000`,
    );
    after = items.at(-1)?.id ?? after;
    if (items.length < 1000) return after;
  }
}

function stepLine(event: StreamEvent): string {
  const took = event.durationMs === null ? '' : ` in ${seconds(event.durationMs / 1000)}`;
  const where = event.computer === null ? '' : ` on ${event.computer}`;
  const failed =
    event.outcome === 'failed' ? `: ${event.errorCode ?? ''} ${event.message ?? ''}` : '';
  return `${event.kind}${where} ${event.outcome ?? ''}${took}${failed}`.replace(/\s+$/, '');
}

/** `load/deploy [#######-------] 52% 1.2 GiB of 2.3 GiB, 110 MiB/s, 10 s left`. */
export function progressLine(event: StreamEvent): string {
  const p = event.progress;
  if (p === null) return '';
  const amount = (n: number) => (p.unit === 'bytes' ? bytes(n) : `${n} steps`);
  const parts: string[] = [];
  if (p.total !== null && p.total > 0) {
    const share = Math.min(1, p.done / p.total);
    const filled = Math.round(share * 20);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(20 - filled)}] ${Math.floor(share * 100)}%`);
    parts.push(`${amount(p.done)} of ${amount(p.total)}`);
  } else {
    parts.push(amount(p.done));
  }
  // The reporter (core's createProgressReporter) never gives a negative rate or ETA; no rate
  // (null) until two samples of one count, no ETA without a total or a rate.
  if (p.ratePerSecond !== null) {
    parts.push(
      p.unit === 'bytes' ? `${bytes(p.ratePerSecond)}/s` : `${p.ratePerSecond.toFixed(1)} steps/s`,
    );
  }
  if (p.etaSeconds !== null) parts.push(`${seconds(p.etaSeconds)} left`);
  return `${event.step ?? 'progress'} ${parts.join(', ')}`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function seconds(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
