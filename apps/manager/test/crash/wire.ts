import type { Socket } from 'node:net';

// The crash test's wire: JSON lines over a unix socket, calls both ways, each answered once.
// Values travel through `encode`/`decode`, which keep what JSON loses: secrets (revealed on
// the wire, a loopback socket in a private temporary directory), bytes and typed errors.

/** A value as it travels. */
export type Wire = unknown;

/** What a failed call carries: enough to make the same typed error again. */
export interface WireError {
  readonly message: string;
  readonly code?: string | undefined;
  readonly summary?: string | undefined;
  readonly computer?: string | undefined;
  readonly hint?: string | undefined;
}

/** Encodes secrets (`reveal`), bytes, dates and plain data, deeply. */
export function encode(value: unknown): Wire {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value !== 'object') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array)
    return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return { $date: value.toISOString() };
  const secret = value as { reveal?: unknown; label?: unknown };
  if (typeof secret.reveal === 'function')
    return { $secret: (secret.reveal as () => string)(), label: String(secret.label ?? 'relayed') };
  if (Array.isArray(value)) return value.map(encode);
  const out: Record<string, Wire> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'function' || item === undefined) continue;
    out[key] = encode(item);
  }
  return out;
}

/** Undoes {@link encode}; `secret` makes a secret of the receiving side's `@vlab/core`. */
export function decode(value: Wire, secret: (value: string, label: string) => unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => decode(item, secret));
  const record = value as Record<string, Wire>;
  if (typeof record['$bytes'] === 'string') return Buffer.from(record['$bytes'], 'base64');
  if (typeof record['$date'] === 'string') return new Date(record['$date']);
  if (typeof record['$secret'] === 'string')
    return secret(record['$secret'], String(record['label']));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) out[key] = decode(item, secret);
  return out;
}

/** An error as it travels. */
export function encodeError(error: unknown): WireError {
  if (error instanceof Error) {
    const typed = error as Error & {
      code?: unknown;
      summary?: unknown;
      computer?: unknown;
      hint?: unknown;
    };
    return {
      message: error.message,
      code: typeof typed.code === 'string' ? typed.code : undefined,
      summary: typeof typed.summary === 'string' ? typed.summary : undefined,
      computer: typeof typed.computer === 'string' ? typed.computer : undefined,
      hint: typeof typed.hint === 'string' ? typed.hint : undefined,
    };
  }
  return { message: String(error) };
}

type Handler = (method: string, params: Wire) => Promise<Wire>;

/** One end of the wire: `call` the other end, answer its calls with `handler`. */
export class Peer {
  readonly #socket: Socket;
  readonly #pending = new Map<
    number,
    { resolve: (value: Wire) => void; reject: (error: WireError) => void }
  >();
  #next = 1;
  #buffer = '';
  #handler: Handler;
  closed = false;

  constructor(socket: Socket, handler: Handler) {
    this.#socket = socket;
    this.#handler = handler;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (;;) {
        const at = this.#buffer.indexOf('\n');
        if (at < 0) break;
        const line = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 1);
        this.#receive(JSON.parse(line) as Message);
      }
    });
    const gone = () => {
      this.closed = true;
      for (const pending of this.#pending.values()) pending.reject({ message: 'peer gone' });
      this.#pending.clear();
    };
    socket.on('close', gone);
    socket.on('error', gone);
  }

  /** Calls `method` on the other end. */
  call(method: string, params: Wire): Promise<Wire> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject({ message: 'peer gone' });
        return;
      }
      this.#pending.set(id, { resolve, reject });
      this.#send({ id, method, params });
    });
  }

  #send(message: Message): void {
    if (!this.closed) this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  #receive(message: Message): void {
    if (message.method !== undefined) {
      this.#handler(message.method, message.params).then(
        (result) => this.#send({ id: message.id, result }),
        (error: unknown) => this.#send({ id: message.id, error: encodeError(error) }),
      );
      return;
    }
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    if (message.error !== undefined) pending?.reject(message.error);
    else pending?.resolve(message.result);
  }

  close(): void {
    this.#socket.destroy();
  }
}

interface Message {
  readonly id: number;
  readonly method?: string;
  readonly params?: Wire;
  readonly result?: Wire;
  readonly error?: WireError;
}
