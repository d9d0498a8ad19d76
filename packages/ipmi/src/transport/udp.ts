import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Something that takes datagrams from one BMC address. */
export interface DatagramSink {
  receive(datagram: Buffer): void;
}

/** Options of {@link UdpTransport}. */
export interface UdpTransportOptions {
  /** Local IPv4 address to bind. Default: all (`0.0.0.0`). */
  readonly bindAddress?: string | undefined;
  /** Local IPv6 address to bind (only when an IPv6 BMC is used). Default: all (`::`). */
  readonly bindAddress6?: string | undefined;
  /** Local UDP port. Default: 0 (the kernel picks one). */
  readonly bindPort?: number | undefined;
  readonly debug?: ((line: string) => void) | undefined;
}

/**
 * The only I/O of the package: one UDP socket per address family, shared by every BMC session
 * of a client. Inbound datagrams are routed by source address and port to whoever registered
 * it; each session then checks its own session ID. The socket only keeps the event loop alive
 * while some call waits for a reply.
 */
export class UdpTransport {
  readonly #o: UdpTransportOptions;
  readonly #sockets = new Map<'udp4' | 'udp6', Promise<Socket>>();
  readonly #routes = new Map<string, Set<DatagramSink>>();
  #busy = 0;
  #closed = false;

  constructor(options: UdpTransportOptions = {}) {
    this.#o = options;
  }

  /** The key a BMC address is routed by. */
  static key(address: string, port: number): string {
    return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  }

  /** Routes datagrams from `address:port` to `sink` (several sinks may share an address). */
  register(address: string, port: number, sink: DatagramSink): void {
    const key = UdpTransport.key(address, port);
    let sinks = this.#routes.get(key);
    if (sinks === undefined) {
      sinks = new Set();
      this.#routes.set(key, sinks);
    }
    sinks.add(sink);
  }

  /** Stops routing to `sink`. */
  unregister(address: string, port: number, sink: DatagramSink): void {
    const key = UdpTransport.key(address, port);
    const sinks = this.#routes.get(key);
    sinks?.delete(sink);
    if (sinks?.size === 0) this.#routes.delete(key);
  }

  /** Opens (once) and returns the socket for this address's family. Rejects if it cannot bind. */
  open(address: string): Promise<Socket> {
    const family = isIPv6(address) ? 'udp6' : 'udp4';
    let socket = this.#sockets.get(family);
    if (socket === undefined) {
      socket = this.#bind(family);
      this.#sockets.set(family, socket);
      socket.catch(() => this.#sockets.delete(family));
    }
    return socket;
  }

  /** The local port of the IPv4 socket, once bound (for tests and debug lines). */
  async localPort(): Promise<number> {
    const socket = await this.open('127.0.0.1');
    return socket.address().port;
  }

  /** How many sockets are open (one per address family in use). */
  get socketCount(): number {
    return this.#sockets.size;
  }

  /** Sends one datagram. Rejects when the socket cannot send (no route, too big …). */
  async send(address: string, port: number, datagram: Uint8Array): Promise<void> {
    const socket = await this.open(address);
    await new Promise<void>((resolve, reject) => {
      socket.send(datagram, port, address, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Marks a call as waiting for a reply: the socket keeps the process alive meanwhile. */
  hold(): () => void {
    this.#busy += 1;
    if (this.#busy === 1) void this.#refAll(true);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#busy -= 1;
      if (this.#busy === 0) void this.#refAll(false);
    };
  }

  /** Closes the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    for (const pending of sockets) {
      const socket = await pending.catch(() => undefined);
      if (socket === undefined) continue;
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
  }

  async #refAll(ref: boolean): Promise<void> {
    for (const pending of this.#sockets.values()) {
      const socket = await pending.catch(() => undefined);
      if (socket === undefined) continue;
      // Re-check: the count may have changed while waiting for the bind.
      if (ref === this.#busy > 0) {
        if (ref) socket.ref();
        else socket.unref();
      }
    }
  }

  #bind(family: 'udp4' | 'udp6'): Promise<Socket> {
    if (this.#closed) return Promise.reject(new Error('the transport is closed'));
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: family });
      const onError = (error: Error): void => reject(error);
      socket.once('error', onError);
      socket.on('message', (message, remote) => {
        const sinks = this.#routes.get(UdpTransport.key(remote.address, remote.port));
        if (sinks === undefined) {
          this.#o.debug?.(`dropped a datagram from ${remote.address}:${remote.port}: no session`);
          return;
        }
        for (const sink of [...sinks]) sink.receive(message);
      });
      const address =
        family === 'udp4' ? (this.#o.bindAddress ?? '0.0.0.0') : (this.#o.bindAddress6 ?? '::');
      socket.bind({ address, port: this.#o.bindPort ?? 0, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (error) => this.#o.debug?.(`socket error: ${error.message}`));
        if (this.#busy === 0) socket.unref();
        resolve(socket);
      });
    });
  }
}
