import { connect } from 'node:net';

/**
 * How long {@link sshBannerSeen} waits for the connect and the banner together. sshd sends its
 * banner at once after accepting; 5 s is a bound a loaded machine cannot miss, not a race.
 */
export const SSH_BANNER_TIMEOUT_MS = 5000;

/** An SSH 2 version line (RFC 4253 §4.2; `SSH-1.99-` is a server that speaks 2.0 as well). */
const SSH2_BANNER = /(?:^|\n)SSH-(?:2\.0|1\.99)-/;

/**
 * Whether an SSH server at `host`:`port` answers: a TCP connect that receives the server's
 * `SSH-2.0-…` version line within `timeoutMs`. No key exchange, no login: the connection is
 * closed as soon as the banner is seen. `false` on a refused connect, an error, a close, or no
 * banner in time (a stalled server accepts the connect in the kernel but never sends it).
 */
export function sshBannerSeen(
  host: string,
  port = 22,
  timeoutMs = SSH_BANNER_TIMEOUT_MS,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = '';
    const done = (seen: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(seen);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      // The server may send other lines first (RFC 4253 §4.2), within reason.
      received = (received + chunk).slice(-8192);
      if (SSH2_BANNER.test(received)) done(true);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
