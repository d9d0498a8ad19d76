import { createSocket, type Socket } from 'node:dgram';
import { seededRandom } from './protocol/sim.fixture.js';

/** How the proxy misbehaves; probabilities per datagram, drawn from a seeded PRNG. */
export interface ProxyFaults {
  /** Probability of losing a datagram (each direction). Default: 0. */
  loss?: number;
  /** Probability of delivering a datagram twice. Default: 0. */
  duplicate?: number;
  /** Each datagram is delayed by a random 0..jitterMs ms, so some overtake others. Default: 0. */
  jitterMs?: number;
  /** Drop datagrams to the client while this returns true (e.g. to lose one particular reply). */
  dropToClient?: (datagram: Buffer) => boolean;
  /** Drop datagrams to the BMC while this returns true. */
  dropToBmc?: (datagram: Buffer) => boolean;
  /**
   * Hold datagrams to the client while this returns true, until {@link UdpProxy.release}: a test
   * can act at a known point of an exchange (the reply exists, the client has not seen it).
   */
  holdToClient?: (datagram: Buffer) => boolean;
  /** Hold datagrams to the BMC while this returns true, until {@link UdpProxy.release}. */
  holdToBmc?: (datagram: Buffer) => boolean;
}

/** A UDP proxy between one or more clients and a BMC, on 127.0.0.1. */
export interface UdpProxy extends AsyncDisposable {
  readonly port: number;
  faults: ProxyFaults;
  /** Every datagram that passed (or was dropped), in order. */
  readonly captured: {
    readonly to: 'bmc' | 'client';
    readonly data: Buffer;
    readonly dropped: boolean;
    readonly held: boolean;
  }[];
  /** How many datagrams are held now, each way. */
  readonly held: { readonly toBmc: number; readonly toClient: number };
  /** Sends the held datagrams on, in the order they came, and holds no more until told again. */
  release(): void;
  /** Counts of datagrams seen and dropped, each way. */
  readonly stats: {
    toBmc: number;
    toClient: number;
    droppedToBmc: number;
    droppedToClient: number;
  };
  close(): Promise<void>;
}

/**
 * Starts a UDP proxy: datagrams to its port go to `targetPort` from a per-client upstream
 * socket, and replies go back to that client. Loss, duplication and reordering come from a PRNG
 * seeded with `seed`, so a run can be repeated.
 */
export async function startUdpProxy(
  targetPort: number,
  faults: ProxyFaults = {},
  seed = 1,
): Promise<UdpProxy> {
  const random = seededRandom(seed);
  const front = createSocket('udp4');
  const upstreams = new Map<string, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const captured: UdpProxy['captured'] = [];
  const stats = { toBmc: 0, toClient: 0, droppedToBmc: 0, droppedToClient: 0 };
  const heldToBmc: (() => void)[] = [];
  const heldToClient: (() => void)[] = [];
  let closed = false;

  const deliver = (send: () => void, current: ProxyFaults): void => {
    const copies = random() < (current.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i += 1) {
      const wait = (current.jitterMs ?? 0) * random();
      if (wait < 1) {
        send();
        continue;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!closed) send();
      }, wait);
      timers.add(timer);
    }
  };

  const proxy: UdpProxy = {
    port: 0,
    faults,
    captured,
    stats,
    held: {
      get toBmc() {
        return heldToBmc.length;
      },
      get toClient() {
        return heldToClient.length;
      },
    },
    release() {
      const { holdToBmc: _b, holdToClient: _c, ...rest } = proxy.faults;
      proxy.faults = rest;
      const sends = [...heldToBmc.splice(0), ...heldToClient.splice(0)];
      if (!closed) for (const send of sends) send();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all(
        [front, ...upstreams.values()].map(
          (socket) => new Promise<void>((resolve) => socket.close(() => resolve())),
        ),
      );
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };

  front.on('message', (data, client) => {
    const key = `${client.address}:${client.port}`;
    let upstream = upstreams.get(key);
    if (upstream === undefined) {
      const socket = createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      socket.on('message', (reply) => {
        const current = proxy.faults;
        stats.toClient += 1;
        const dropped = random() < (current.loss ?? 0) || current.dropToClient?.(reply) === true;
        const held = !dropped && current.holdToClient?.(reply) === true;
        captured.push({ to: 'client', data: reply, dropped, held });
        if (dropped) {
          stats.droppedToClient += 1;
          return;
        }
        const send = (): void => front.send(reply, client.port, client.address);
        if (held) heldToClient.push(send);
        else deliver(send, current);
      });
      upstreams.set(key, socket);
      upstream = socket;
    }
    const current = proxy.faults;
    stats.toBmc += 1;
    const dropped = random() < (current.loss ?? 0) || current.dropToBmc?.(data) === true;
    const held = !dropped && current.holdToBmc?.(data) === true;
    captured.push({ to: 'bmc', data, dropped, held });
    if (dropped) {
      stats.droppedToBmc += 1;
      return;
    }
    const socket = upstream;
    const send = (): void => socket.send(data, targetPort, '127.0.0.1');
    if (held) heldToBmc.push(send);
    else deliver(send, current);
  });

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(0, '127.0.0.1', () => resolve());
  });
  Object.defineProperty(proxy, 'port', { value: front.address().port });
  return proxy;
}
