import { createHash } from 'node:crypto';
import { BmcEndpoint, type BmcEndpointOptions } from '../../src/protocol/bmc.js';
import {
  ClientSession,
  type ClientSessionEvent,
  type ClientSessionOptions,
  DEFAULT_RETRY_POLICY,
  type SessionRequest,
} from '../../src/protocol/client-session.js';

/** A small seeded PRNG (mulberry32), so that a lossy run can be repeated exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic "random" bytes from a seed (SHA-256 in counter mode). */
export function seededBytes(seed: string): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    const out = Buffer.alloc(length);
    for (let filled = 0; filled < length; filled += 32) {
      createHash('sha256').update(`${seed}/${counter++}`).digest().copy(out, filled);
    }
    return out;
  };
}

/** How the simulated link misbehaves. */
export interface LinkFaults {
  /** Probability that a datagram is lost, each direction. */
  loss?: number;
  /** Probability that a datagram is delivered twice. */
  duplicate?: number;
  /** Extra random delay up to this many ms (reorders datagrams). */
  jitterMs?: number;
  /** Fixed one-way delay. Default: 1 ms. */
  latencyMs?: number;
}

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly to: 'bmc' | 'client';
  readonly data: Buffer;
}

/**
 * A client session and a BMC joined by a simulated link with a fake clock: everything is
 * deterministic, so loss, duplication, reordering and expiry can be tested byte by byte.
 */
export class SimulatedLink {
  now = 1_000_000;
  readonly client: ClientSession;
  readonly bmc: BmcEndpoint;
  readonly events: ClientSessionEvent[] = [];
  /** Every datagram sent, each way. */
  readonly sent = { toBmc: [] as Buffer[], toClient: [] as Buffer[] };
  /** When set, datagrams to the BMC vanish (a BMC that does not answer). */
  bmcDown = false;
  faults: LinkFaults;
  /** Called for each datagram to the client; return false to drop it. */
  filterToClient: ((data: Buffer) => boolean) | undefined;
  readonly #random: () => number;
  #queue: InFlight[] = [];
  #order = 0;
  /** A BMC-side session timer (the BMC expires idle sessions). */
  #bmcTimerEvery = 1000;
  #nextBmcTimer = 0;

  constructor(
    client: Partial<ClientSessionOptions> & Pick<ClientSessionOptions, 'username' | 'password'>,
    bmc: Partial<BmcEndpointOptions> & Pick<BmcEndpointOptions, 'users'>,
    faults: LinkFaults = {},
    seed = 1,
  ) {
    this.faults = faults;
    this.#random = seededRandom(seed);
    this.client = new ClientSession({
      bmc: 'sim:623',
      privilege: 4,
      cipherSuites: [17, 3],
      consoleSessionId: 0x0a0b0c0d,
      random: seededBytes(`client-${seed}`),
      retry: DEFAULT_RETRY_POLICY,
      keepaliveMs: 0,
      sessionTimeoutMs: 60_000,
      reestablishAfterTimeouts: 3,
      ...client,
    });
    this.bmc = new BmcEndpoint({ random: seededBytes(`bmc-${seed}`), ...bmc });
  }

  /** Queues a request to the client session and returns its id. */
  send(request: Partial<SessionRequest> & Pick<SessionRequest, 'netFn' | 'cmd'>): number {
    const id = this.client.send(
      { data: new Uint8Array(0), retry: 'safe', deadline: this.now + 20_000, ...request },
      this.now,
    );
    this.#flush();
    return id;
  }

  /** The event that finished request `id`, once there is one. */
  result(id: number): ClientSessionEvent | undefined {
    return this.events.find((e) => (e.type === 'response' || e.type === 'error') && e.id === id);
  }

  /** Runs the simulation until `done()` or `maxMs` of simulated time pass. */
  runUntil(done: () => boolean, maxMs = 120_000): void {
    const stop = this.now + maxMs;
    this.#flush();
    while (!done()) {
      const timer = this.client.nextTimer();
      const delivery = this.#queue.reduce(
        (min, item) => Math.min(min, item.at),
        Number.POSITIVE_INFINITY,
      );
      const next = Math.min(
        timer ?? Number.POSITIVE_INFINITY,
        delivery,
        this.#nextBmcTimer || Infinity,
      );
      if (!Number.isFinite(next) || next > stop) {
        this.now = Math.max(this.now, Math.min(stop, Number.isFinite(next) ? next : stop));
        return;
      }
      this.now = Math.max(this.now, next);
      if (this.#nextBmcTimer !== 0 && this.#nextBmcTimer <= this.now) {
        this.bmc.handleTimer(this.now);
        this.#nextBmcTimer = this.now + this.#bmcTimerEvery;
      }
      this.#queue.sort((a, b) => a.at - b.at || a.order - b.order);
      while (this.#queue.length > 0 && (this.#queue[0]?.at ?? Infinity) <= this.now) {
        const item = this.#queue.shift() as InFlight;
        if (item.to === 'bmc') {
          if (this.bmcDown) continue;
          for (const reply of this.bmc.receive(item.data, 'client:1', this.now)) {
            this.#transmit('client', reply);
          }
        } else {
          this.client.receive(item.data, this.now);
        }
      }
      if (timer !== undefined && timer <= this.now) this.client.handleTimer(this.now);
      this.#flush();
    }
    this.#flush();
  }

  /** Advances simulated time by `ms`, running whatever happens meanwhile. */
  advance(ms: number): void {
    const until = this.now + ms;
    this.runUntil(() => this.now >= until, ms);
    this.now = Math.max(this.now, until);
  }

  /** Lets the BMC expire idle sessions (checked every second of simulated time). */
  enableBmcTimer(): void {
    this.#nextBmcTimer = this.now + this.#bmcTimerEvery;
  }

  #flush(): void {
    for (const datagram of this.client.takeDatagrams()) this.#transmit('bmc', datagram);
    this.events.push(...this.client.takeEvents());
  }

  #transmit(to: 'bmc' | 'client', data: Buffer): void {
    (to === 'bmc' ? this.sent.toBmc : this.sent.toClient).push(data);
    if (to === 'client' && this.filterToClient !== undefined && !this.filterToClient(data)) return;
    const { loss = 0, duplicate = 0, jitterMs = 0, latencyMs = 1 } = this.faults;
    if (this.#random() < loss) return;
    const copies = this.#random() < duplicate ? 2 : 1;
    for (let i = 0; i < copies; i += 1) {
      this.#queue.push({
        at: this.now + latencyMs + this.#random() * jitterMs,
        order: this.#order++,
        to,
        data,
      });
    }
  }
}
