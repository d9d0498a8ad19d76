import type { ComputerContext, OperationContext, ProvisionerContext } from './context.js';
import type { EndState } from './end-state.js';
import type { OsFeature } from './os-module.js';
import type { PowerState } from './power.js';
import type { ImageStamp, StampTarget } from './stamp.js';

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
  | 'deleteImage'
  /** `importImage` is supported: a raw disk image enters the store through the contract (contract 1.1). */
  | 'importImage'
  /** `release` is supported: the machine's resources can be given back at reclaim (contract 1.1). */
  | 'release';

/** What a provisioner declares it can do. @public */
export interface ProvisionerCapabilities {
  /** The optional operations and modes it implements. */
  readonly features: readonly ProvisionerFeature[];
  /** The end state `capture` asks `preCapture` for. */
  readonly captureEndState: EndState;
  /**
   * The OS families whose first contact it can arrange, or `'any'`: for each family named (a
   * non-empty array of lowercase names, `['linux']`), it can make the first contact with a freshly
   * loaded machine trusted — e.g. put host keys onto that family's disk before the first boot, or
   * read them in its deploy environment — and pin them with `trustHostKeys`. `'any'` means it can
   * for every family (its trust does not depend on the guest's disk layout). {@link isCompatible}
   * refuses an OS module whose `family` is not listed here, and an OS module that declares no
   * family unless this is `'any'`; the kit checks the declaration is well-formed.
   */
  readonly osFamilies: readonly string[] | 'any';
  /**
   * Optional (contract 1.1): OS features every OS module paired with it must declare — e.g.
   * `['identityDisk']` for a provisioner that arranges first contact with an identity disk because
   * it cannot write the guest's disk. {@link isCompatible} refuses a module that lacks one.
   */
  readonly requiredOsFeatures?: readonly OsFeature[] | undefined;
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

/**
 * What `capture` returns; the manager records it as the new revision.
 *
 * @remarks
 * Two sizes: `sizeBytes` is the logical disk size (the bytes of the raw disk, what `sha256` is
 * over and what `imageSize` reports), `storedBytes` what the revision takes in the store
 * (compressed, sparse, deduplicated…).
 * @public
 */
export interface CaptureResult {
  /** The image name it was saved under (`args.image`). */
  readonly image: string;
  /** The revision created (`args.newRevision`). */
  readonly revision: number;
  /** The logical disk size in bytes: the raw disk's length; what `imageSize` reports for it afterwards. */
  readonly sizeBytes: number;
  /** Hex SHA-256 of the logical disk bytes (the raw disk, not the stored file), as verified after writing. */
  readonly sha256: string;
  /** Bytes the revision takes in the store. Optional in contract 1.0; a 1.1 provisioner sets it. */
  readonly storedBytes?: number | undefined;
}

/**
 * An image revision in the store.
 *
 * @remarks
 * The fields added in contract 1.1 are optional in the type, because a 1.0 provisioner does not
 * fill them; a provisioner that declares contract `^1.1.0` sets `sha256`, `osFamily` and
 * `storedBytes` for every revision, and `stamp` for every revision it captured. `sizeBytes` is
 * the logical disk size (the raw disk's length, what `sha256` is over), `storedBytes` the bytes the
 * revision takes in the store.
 * @public
 */
export interface StoredImage {
  /** The image's name. */
  readonly name: string;
  /** The revision, an integer. */
  readonly revision: number;
  /** The logical disk size in bytes (what `imageSize` reports), not what the store holds. */
  readonly sizeBytes: number;
  /** ISO time it was stored. */
  readonly createdAt: string;
  /** Bytes the revision takes in the store (compressed, sparse…). Set by 1.1 providers. */
  readonly storedBytes?: number | undefined;
  /** Hex SHA-256 of the logical disk bytes, as captured or imported. Set by 1.1 providers. */
  readonly sha256?: string | undefined;
  /** The OS family of the image (`linux`), as captured or imported. Set by 1.1 providers. */
  readonly osFamily?: string | undefined;
  /** The stamp target it was captured with (what `preCapture` wrote); absent for an imported image. */
  readonly stamp?: StampTarget | undefined;
}

/** What every {@link ImageSource} says about the raw disk image it gives. @public */
export interface ImageSourceInfo {
  /** Hex SHA-256 of the raw disk image's bytes (the logical disk); checked after writing. */
  readonly sha256: string;
  /** The OS family of the image (`linux`, `windows`), recorded with the revision. */
  readonly osFamily: string;
}

/** A raw disk image in a file. @public */
export interface ImageFileSource extends ImageSourceInfo {
  /** Absolute path of the raw disk image file, readable by the provisioner. */
  readonly path: string;
  /** Never set for a file source. */
  readonly stream?: undefined;
}

/** A raw disk image as a stream of bytes (a Node.js `Readable` or a web `ReadableStream`). @public */
export interface ImageStreamSource extends ImageSourceInfo {
  /** The raw disk image's bytes, read once from start to end. */
  readonly stream: AsyncIterable<Uint8Array>;
  /** Never set for a stream source. */
  readonly path?: undefined;
}

/** Where `importImage` reads a raw disk image from: a file or a stream, with its checksum and OS family. @public */
export type ImageSource = ImageFileSource | ImageStreamSource;

/** Arguments of `importImage`. @public */
export interface ImportImageArgs {
  /** The image name to store it under. */
  readonly image: string;
  /** The revision to create; it must not exist yet. */
  readonly revision: number;
  /** The raw disk image, its SHA-256 and its OS family. */
  readonly source: ImageSource;
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
 *
 * @remarks
 * `nodeStatus`'s verdicts stay `ready | post-load | reload` with `power` and `responding` beside
 * them; `reserve` marks the stamp tainted, and a tainted computer is always reloaded before reuse
 * (see {@link ImageStamp}).
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
 * `VLAB_ERR_CAPABILITY_MISSING`. Contract 1.1 adds the optional `importImage`, `release`, `close`
 * and `extensions`; a module that has none of them is still a valid 1.1 provisioner.
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
  /** Powers the machine off hard; idempotent. Gives nothing back: see `release` for that. */
  powerOff(ctx: ComputerContext): Promise<void>;
  /** Power-cycles the machine (feature `powerCycle`). Not idempotent: never retried blindly. */
  powerCycle(ctx: ComputerContext): Promise<void>;
  /** The machine's power state from its BMC or hypervisor. */
  powerStatus(ctx: ComputerContext): Promise<PowerState>;

  /**
   * Power, response and stamp of the machine, with a verdict against `ctx.image` from
   * {@link nodeVerdict}: `nodeStatus`'s verdicts stay `ready | post-load | reload` with `power`
   * and `responding` beside them, and a tainted computer is always reloaded before reuse — a
   * tainted stamp gives `reload` (see {@link ImageStamp}).
   */
  nodeStatus(ctx: ProvisionerContext): Promise<NodeStatus>;

  /** Whether the image (or the revision) is in the store. */
  imageExists(ctx: OperationContext, query: ImageQuery): Promise<boolean>;
  /** The logical disk size in bytes of a stored revision (its `sizeBytes`); throws `VLAB_ERR_IMAGE_NOT_FOUND`. */
  imageSize(ctx: OperationContext, image: ImageRevisionRef): Promise<number>;
  /** Every revision in the store. */
  listImages(ctx: OperationContext): Promise<readonly StoredImage[]>;
  /**
   * Deletes a revision (feature `deleteImage`); idempotent: a missing revision is not an error.
   * It also removes what an unfinished capture or import of that revision left in the store (a
   * manager that died mid-capture cannot abandon it; the next one discards it with this call).
   */
  deleteImage(ctx: OperationContext, image: ImageRevisionRef): Promise<void>;

  /**
   * Optional (feature `importImage`, contract 1.1): puts a raw disk image into the store as
   * `args.image` revision `args.revision` — a lab's first image, the kit's base image, a demo
   * image — through the contract rather than a side door.
   *
   * @remarks
   * Refuses an existing revision with `VLAB_ERR_IMAGE_EXISTS` before reading the source. Writes
   * under a temporary name, hashes the bytes it wrote and publishes only when they match
   * `source.sha256`; otherwise it removes what it wrote and throws `VLAB_ERR_IMAGE_CORRUPT`. A
   * store without room throws `VLAB_ERR_STORE_FULL`, again leaving nothing behind. Honours
   * `ctx.signal` (and cleans up after it). Resolves with the revision as `listImages` will show
   * it, with `sha256`, `osFamily`, `sizeBytes` (logical) and `storedBytes`, and no `stamp`.
   */
  importImage?(ctx: OperationContext, args: ImportImageArgs): Promise<StoredImage>;

  /**
   * Optional (feature `release`, contract 1.1): gives back what the machine holds beyond its
   * stored images — e.g. deletes a VM and its overlay disk — when the lab's policy says so at
   * reclaim. Idempotent. Afterwards `nodeStatus` still answers (any verdict, typically `reload`)
   * and a later `load` puts an image on the machine again. Unlike `powerOff`, which only powers
   * the machine off hard, `release` may destroy the machine's disk.
   */
  release?(ctx: ProvisionerContext): Promise<void>;

  /**
   * Optional (contract 1.1): closes what the instance keeps open across operations — BMC
   * sessions, SSH pools, hypervisor connections. The manager calls it once when it unloads the
   * module or shuts down, after the last operation; the conformance kit calls it at the end of a
   * run. Idempotent: a second call resolves and does nothing. No operation is called after it.
   */
  close?(): Promise<void>;

  /**
   * Optional (contract 1.1): the operations this instance offers beyond the contract, by name,
   * each with a one-line description. A function-valued member (own or inherited) that is neither
   * a contract operation nor declared here makes `instantiateProvisioner` refuse the instance with
   * `VLAB_ERR_MODULE_INVALID`. The manager never calls an extension on its own.
   */
  readonly extensions?: Readonly<Record<string, string>> | undefined;
}
