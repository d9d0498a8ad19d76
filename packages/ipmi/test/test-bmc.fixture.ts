import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { BmcEndpoint, type BmcEndpointOptions } from '../src/protocol/bmc.js';

/** A {@link BmcEndpoint} on a loopback UDP port. */
export interface TestBmc extends AsyncDisposable {
  readonly port: number;
  readonly endpoint: BmcEndpoint;
  close(): Promise<void>;
}

/**
 * Starts the package's own small BMC (the BMC side of the sans-IO core) on 127.0.0.1 and a free
 * UDP port, so that the real `ipmitool -I lanplus -C 17` and this package's client can be run
 * against the SHA-256 code. Real randomness; sessions expire as configured.
 */
export async function startTestBmc(
  options: Omit<BmcEndpointOptions, 'random'> & { random?: BmcEndpointOptions['random'] },
): Promise<TestBmc> {
  const endpoint = new BmcEndpoint({ random: (n) => randomBytes(n), ...options });
  const socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    for (const reply of endpoint.receive(message, `${peer.address}:${peer.port}`, Date.now())) {
      socket.send(reply, peer.port, peer.address);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const timer = setInterval(() => endpoint.handleTimer(Date.now()), 1000);
  timer.unref();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  };
  return { port: socket.address().port, endpoint, close, [Symbol.asyncDispose]: close };
}
