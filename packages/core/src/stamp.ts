import type { OsContext } from './context.js';
import { coreError } from './errors/core-errors.js';

/** Where the image stamp lives, per shell family. Fixed: tools and nodeStatus rely on it. @public */
export const IMAGE_STAMP_PATHS = {
  posix: '/etc/vlab/image-stamp.json',
  windows: 'C:\\ProgramData\\vlab\\image-stamp.json',
} as const;

/**
 * The life of an image on a machine: `captured` (written by `preCapture` into the image; the
 * machine still needs `postLoad`) → `ready` (written by `postLoad`).
 * @public
 */
export type StampState = 'captured' | 'ready';

/**
 * The JSON record an image carries of itself. `nodeStatus` reads it to tell a prepared machine
 * from a half-prepared one and from a machine a user had access to.
 *
 * @remarks
 * Stamp and taint, stated once (the other places link here and to docs/architecture.md, "Stamp
 * and taint"): `reserve` marks the stamp tainted; a tainted computer is always reloaded before
 * reuse; `nodeStatus`'s verdicts stay `ready | post-load | reload` with `power` and `responding`
 * beside them. A tainted stamp therefore always gives `reload` ({@link nodeVerdict}), whatever
 * its state; only a new load (a fresh, untainted stamp) makes the computer `ready` again.
 * @public
 */
export interface ImageStamp {
  /** Format version of the stamp. */
  readonly schema: 1;
  /** The image's name in the store. */
  readonly image: string;
  /** The image revision the machine holds, an integer. */
  readonly revision: number;
  /** How far the image got on this machine. */
  readonly state: StampState;
  /** ISO time the revision was captured. */
  readonly capturedAt: string;
  /** The computer `postLoad` prepared it for (state `ready`). */
  readonly computer?: string | undefined;
  /** ISO time `postLoad` finished (state `ready`). */
  readonly readyAt?: string | undefined;
  /**
   * `reserve` marks the stamp tainted; a tainted computer is always reloaded before reuse (see
   * {@link ImageStamp}).
   */
  readonly tainted: boolean;
}

/** The image and revision being captured, which `preCapture` writes into the image. @public */
export interface StampTarget {
  /** The image name the capture is saved under. */
  readonly image: string;
  /** The new revision being captured. */
  readonly revision: number;
}

/**
 * The stamp `preCapture` writes: state `captured`, not tainted.
 * @param now - The capture time. Default: the current time.
 * @public
 */
export function capturedStamp(target: StampTarget, now: Date = new Date()): ImageStamp {
  return {
    schema: 1,
    image: target.image,
    revision: target.revision,
    state: 'captured',
    capturedAt: now.toISOString(),
    tainted: false,
  };
}

/**
 * The stamp `postLoad` writes over a captured one: state `ready`, for `computer`.
 * @param computer - The name of the computer the image was prepared for (`ComputerRef.name`).
 * @param now - The time `postLoad` finished. Default: the current time.
 * @public
 */
export function readyStamp(
  stamp: ImageStamp,
  computer: string,
  now: Date = new Date(),
): ImageStamp {
  return { ...stamp, state: 'ready', computer, readyAt: now.toISOString() };
}

/**
 * The stamp `reserve` writes once users have access: `reserve` marks the stamp tainted; a tainted
 * computer is always reloaded before reuse (see {@link ImageStamp}).
 * @public
 */
export function taintedStamp(stamp: ImageStamp): ImageStamp {
  return { ...stamp, tainted: true };
}

/** The stamp as written to disk: stable key order, one trailing newline. @public */
export function serializeStamp(stamp: ImageStamp): string {
  const ordered: Record<keyof ImageStamp, unknown> = {
    schema: stamp.schema,
    image: stamp.image,
    revision: stamp.revision,
    state: stamp.state,
    capturedAt: stamp.capturedAt,
    computer: stamp.computer,
    readyAt: stamp.readyAt,
    tainted: stamp.tainted,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Parses a stamp file. Throws `VLAB_ERR_STAMP_INVALID` naming what is wrong.
 * @param computer - Names the computer in the error.
 * @public
 */
export function parseStamp(text: string, computer?: string): ImageStamp {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw coreError('VLAB_ERR_STAMP_INVALID', 'the image stamp is not JSON', {
      computer,
      cause: error,
    });
  }
  const problem = stampProblem(value);
  if (problem !== undefined)
    throw coreError('VLAB_ERR_STAMP_INVALID', `the image stamp ${problem}`, { computer });
  return value as ImageStamp;
}

function stampProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'is not an object';
  const s = value as Record<string, unknown>;
  if (s['schema'] !== 1) return 'has an unknown schema (expected 1)';
  if (typeof s['image'] !== 'string' || s['image'] === '') return 'has no image name';
  if (!Number.isInteger(s['revision'])) return 'has no integer revision';
  if (s['state'] !== 'captured' && s['state'] !== 'ready')
    return 'has a state other than captured or ready';
  if (typeof s['capturedAt'] !== 'string') return 'has no capturedAt time';
  if (typeof s['tainted'] !== 'boolean') return 'has no tainted flag';
  return undefined;
}

/**
 * The stamp `postLoad` starts from: `found` (the machine's), or — for an image that has none — a
 * `captured` stamp of the context's image, with a warning in the log. Throws
 * `VLAB_ERR_STAMP_INVALID` when there is neither.
 * @param found - The stamp read from the machine, `undefined` when it has none.
 * @public
 */
export function stampToPrepare(
  ctx: Pick<OsContext, 'image' | 'log' | 'computer'>,
  found: ImageStamp | undefined,
): ImageStamp {
  if (found !== undefined) return found;
  const image = ctx.image;
  if (image === undefined) {
    throw coreError(
      'VLAB_ERR_STAMP_INVALID',
      'the machine has no image stamp and the context names no image',
      { computer: ctx.computer.name },
    );
  }
  ctx.log.warn('the image has no stamp: taking it as a fresh image', {
    image: image.name,
    revision: image.revision,
  });
  return capturedStamp({ image: image.name, revision: image.revision });
}
