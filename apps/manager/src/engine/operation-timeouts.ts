/**
 * How long the manager lets each module operation run, in milliseconds. A load copies a whole
 * disk, a capture saves and verifies one; the others run a few commands in the guest.
 */
export const OPERATION_TIMEOUTS_MS = {
  load: 60 * 60_000,
  capture: 3 * 60 * 60_000,
  postCapture: 10 * 60_000,
  nodeStatus: 2 * 60_000,
  reserve: 10 * 60_000,
  postReservation: 10 * 60_000,
  sanitize: 15 * 60_000,
  imageExists: 60_000,
  userConnected: 60_000,
  powerStatus: 60_000,
} as const;
