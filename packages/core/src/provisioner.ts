import type { ComputerContext, OperationContext, ProvisionerContext } from './context.js';
import type { EndState } from './end-state.js';
import type { PowerState } from './power.js';
import type { ImageStamp } from './stamp.js';

/** Optional features a provisioner may declare. @public */
export type ProvisionerFeature =
  /** `capture` with mode `image`. */
  | 'capture'
  /** `capture` with mode `checkpoint` (save, then boot again and run `postLoad`). */
  | 'checkpoint'
  /** `powerCycle` is supported. */
  | 'powerCycle'
  /** `imageSize` answers without reading the whole image. */
  | 'imageSize'
  /** `deleteImage` is supported. */
  | 'deleteImage';

/** What a provisioner declares it can do. @public */
export interface ProvisionerCapabilities {
  /** The optional operations and modes it implements. */
  readonly features: readonly ProvisionerFeature[];
  /** The end state `capture` asks `preCapture` for. */
  readonly captureEndState: EndState;
  /** OS families it can load and capture, or `'any'`. */
  readonly osFamilies: readonly string[] | 'any';
}

/** Arguments of `load`. @public */
export interface LoadArgs {
  /** The name of the image to put on the computer. */
  readonly image: string;
  /** The revision to load; it must be in the store. */
  readonly revision: number;
}

/** What `load` returns. @public */
export interface LoadResult {
  /** The image now on the computer. */
  readonly image: string;
  /** The revision now on the computer. */
  readonly revision: number;
  /** The stamp `postLoad` left on the machine. */
  readonly stamp: ImageStamp;
}

/** `image` saves and leaves the machine off; `checkpoint` saves, boots again and runs `postLoad`. @public */
export type CaptureMode = 'image' | 'checkpoint';

/** Arguments of `capture`. @public */
export interface CaptureArgs {
  /** The image name the revision is saved under. */
  readonly image: string;
  /** The revision to create; it must not exist yet. */
  readonly newRevision: number;
  /** What happens to the machine after saving: left off, or booted again. */
  readonly mode: CaptureMode;
}

/** What `capture` returns; the manager records it as the new revision. @public */
export interface CaptureResult {
  /** The image name it was saved under (`args.image`). */
  readonly image: string;
  /** The revision created (`args.newRevision`). */
  readonly revision: number;
  /** Size of the saved image in bytes; what `imageSize` reports for it afterwards. */
  readonly sizeBytes: number;
  /** Hex SHA-256 of the saved image, as verified after writing. */
  readonly sha256: string;
}

/** An image revision in the store. @public */
export interface StoredImage {
  /** The image's name. */
  readonly name: string;
  /** The revision, an integer. */
  readonly revision: number;
  /** Size of the stored image in bytes. */
  readonly sizeBytes: number;
  /** ISO time it was stored. */
  readonly createdAt: string;
}

/** An image, or one revision of it. @public */
export interface ImageQuery {
  /** The image's name. */
  readonly name: string;
  /** All revisions when absent. */
  readonly revision?: number | undefined;
}

/** An image revision. @public */
export interface ImageRevisionRef {
  /** The image's name. */
  readonly name: string;
  /** The revision, an integer. */
  readonly revision: number;
}

/**
 * The verdict of `nodeStatus`, after Apache VCL: `ready` (the requested revision, `postLoad` done,
 * untainted), `post-load` (the right revision but `postLoad` has not finished), `reload` (anything
 * else: no answer, another revision, tainted, no stamp).
 * @public
 */
export type NodeVerdict = 'ready' | 'post-load' | 'reload';

/** What `nodeStatus` found. @public */
export interface NodeStatus {
  /** Power from the BMC or hypervisor. */
  readonly power: PowerState;
  /** Whether the OS answered (`os.isResponding`). */
  readonly responding: boolean;
  /** The stamp the OS holds, when it answered and has one. */
  readonly stamp: ImageStamp | undefined;
  /** Whether the machine can be handed out as it is (give it with {@link nodeVerdict}). */
  readonly verdict: NodeVerdict;
  /** Why the verdict is not `ready`, for the operator. */
  readonly reason?: string | undefined;
}

/**
 * A provisioning module: what happens to a machine from outside — power, boot device, putting an
 * image on its disk, saving its disk as a new image, and the image store.
 *
 * @remarks
 * The manager calls only `capture` to capture: the provisioner calls `ctx.os.preCapture` itself
 * (exactly once, with `capabilities.captureEndState`, before it reads the disk), then saves the
 * disk under a temporary name, verifies size and checksum, and publishes it. There is no capture
 * monitor. Every operation honours `ctx.signal` and runs its cleanups (temporary images, boot
 * flags) after an error or an abort. An operation outside the declared features throws
 * `VLAB_ERR_CAPABILITY_MISSING`.
 * @public
 */
export interface Provisioner {
  /** The module's name as configured (`provisioner-baremetal`). */
  readonly name: string;
  /** What it declares it can do; the manager checks requests against it before calling. */
  readonly capabilities: ProvisionerCapabilities;

  /**
   * Puts the image revision on the computer, boots it, waits until it answers, and ends by
   * calling `ctx.os.postLoad`. The provisioner vouches for the first contact: before the first
   * boot it learns the image's host keys from a trusted source (keys it put on the disk, or read
   * by its deploy environment) and pins them with `ctx.communicator.trustHostKeys`. Throws `VLAB_ERR_IMAGE_NOT_FOUND` before touching the machine
   * when the revision does not exist.
   */
  load(ctx: ProvisionerContext, args: LoadArgs): Promise<LoadResult>;

  /**
   * Captures the computer's disk as `args.image` revision `args.newRevision`: calls
   * `ctx.os.preCapture` (once, before any disk read), saves and verifies the disk, publishes it.
   * Mode `image` leaves the machine off; `checkpoint` boots it again and calls `ctx.os.postLoad`.
   * Throws `VLAB_ERR_IMAGE_EXISTS` before touching the machine if the revision exists.
   */
  capture(ctx: ProvisionerContext, args: CaptureArgs): Promise<CaptureResult>;

  /** Powers the machine on; idempotent. */
  powerOn(ctx: ComputerContext): Promise<void>;
  /** Powers the machine off hard; idempotent. */
  powerOff(ctx: ComputerContext): Promise<void>;
  /** Power-cycles the machine (feature `powerCycle`). Not idempotent: never retried blindly. */
  powerCycle(ctx: ComputerContext): Promise<void>;
  /** The machine's power state from its BMC or hypervisor. */
  powerStatus(ctx: ComputerContext): Promise<PowerState>;

  /** Power, response and stamp of the machine, with a verdict against `ctx.image`. */
  nodeStatus(ctx: ProvisionerContext): Promise<NodeStatus>;

  /** Whether the image (or the revision) is in the store. */
  imageExists(ctx: OperationContext, query: ImageQuery): Promise<boolean>;
  /** Size in bytes of a stored revision; throws `VLAB_ERR_IMAGE_NOT_FOUND`. */
  imageSize(ctx: OperationContext, image: ImageRevisionRef): Promise<number>;
  /** Every revision in the store. */
  listImages(ctx: OperationContext): Promise<readonly StoredImage[]>;
  /** Deletes a revision (feature `deleteImage`); idempotent: a missing revision is not an error. */
  deleteImage(ctx: OperationContext, image: ImageRevisionRef): Promise<void>;
}
