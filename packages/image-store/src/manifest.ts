import { coreError, type StampTarget, type StoredImage } from '@vlab/core';

/**
 * How a revision's `disk.raw.zst` holds the disk: zstd-compressed raw (`raw+zstd`, what a capture
 * stores) or the raw disk itself (`raw`, what {@link ImageStore.importRaw} stores).
 * @public
 */
export type ImageFormat = 'raw+zstd' | 'raw';

/** The formats a manifest may name. @public */
export const IMAGE_FORMATS: readonly ImageFormat[] = ['raw+zstd', 'raw'];

/**
 * The `manifest.json` of a published revision. Assignable to core's `StoredImage`.
 * @public
 */
export interface ImageManifest {
  /** The image's name. */
  readonly name: string;
  /** The revision, a positive integer. */
  readonly revision: number;
  /** How the stored file holds the disk. */
  readonly format: ImageFormat;
  /** The logical disk size in bytes: the raw disk's length, what `sha256` is over. */
  readonly sizeBytes: number;
  /** Bytes of the stored file (`disk.raw.zst`). */
  readonly storedBytes: number;
  /** Hex SHA-256 (lowercase) of the logical disk. */
  readonly sha256: string;
  /** ISO time it was published. */
  readonly createdAt: string;
  /** The OS family of the image (`linux`). */
  readonly osFamily: string;
  /** The computer it was captured from; absent for an import. */
  readonly sourceComputer?: string | undefined;
  /** The stamp target it was captured with; absent for an import. */
  readonly stamp?: StampTarget | undefined;
}

/** An image name: lowercase letters, digits, `.`, `_`, `-`, starting with a letter or digit. @public */
export const IMAGE_NAME_PATTERN: RegExp = /^[a-z0-9][a-z0-9._-]*$/;

const MAX_NAME_LENGTH = 128;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const FAMILY_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Whether `name` is a valid image name: {@link IMAGE_NAME_PATTERN}, at most 128 characters, no `..`.
 * @public
 */
export function isValidImageName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length <= MAX_NAME_LENGTH &&
    IMAGE_NAME_PATTERN.test(name) &&
    !name.includes('..')
  );
}

/** Whether `revision` is a valid revision: a positive safe integer. @public */
export function isValidRevision(revision: unknown): revision is number {
  return typeof revision === 'number' && Number.isSafeInteger(revision) && revision >= 1;
}

/** Throws `VLAB_ERR_ARGUMENT_INVALID` naming the store when the name or revision is invalid. */
export function checkRef(store: string, name: unknown, revision?: unknown): void {
  if (!isValidImageName(name)) {
    throw coreError(
      'VLAB_ERR_ARGUMENT_INVALID',
      `image store ${store}: invalid image name ${JSON.stringify(name)} (expected ${IMAGE_NAME_PATTERN.source}, at most ${MAX_NAME_LENGTH} characters, no "..")`,
      { details: { store, argument: 'name', name } },
    );
  }
  if (revision !== undefined && !isValidRevision(revision)) {
    throw coreError(
      'VLAB_ERR_ARGUMENT_INVALID',
      `image store ${store}: invalid revision ${String(revision)} of image "${name}" (expected a positive integer)`,
      { details: { store, argument: 'revision', name, revision } },
    );
  }
}

/** Whether `value` is a lowercase hex SHA-256. */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256_PATTERN.test(value);
}

/** Whether `value` is a valid OS family name. */
export function isOsFamily(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && FAMILY_PATTERN.test(value);
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses a `manifest.json`; throws `VLAB_ERR_IMAGE_CORRUPT` when it is not a valid manifest of
 * the revision at `name`/`revision`.
 */
export function parseManifest(
  store: string,
  name: string,
  revision: number,
  text: string,
): ImageManifest {
  const corrupt = (why: string) =>
    coreError(
      'VLAB_ERR_IMAGE_CORRUPT',
      `image store ${store}: the manifest of image "${name}" revision ${revision} is invalid: ${why}`,
      { details: { store, image: name, revision } },
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null) throw corrupt('not an object');
  const m = value as Record<string, unknown>;
  if (m['name'] !== name) throw corrupt(`name is ${JSON.stringify(m['name'])}`);
  if (m['revision'] !== revision) throw corrupt(`revision is ${JSON.stringify(m['revision'])}`);
  if (!IMAGE_FORMATS.includes(m['format'] as ImageFormat)) throw corrupt('unknown format');
  if (!isSize(m['sizeBytes']) || !isSize(m['storedBytes'])) throw corrupt('bad sizes');
  if (!isSha256(m['sha256'])) throw corrupt('bad sha256');
  if (typeof m['createdAt'] !== 'string' || Number.isNaN(Date.parse(m['createdAt'])))
    throw corrupt('bad createdAt');
  if (!isOsFamily(m['osFamily'])) throw corrupt('bad osFamily');
  const sourceComputer = m['sourceComputer'];
  if (sourceComputer !== undefined && typeof sourceComputer !== 'string')
    throw corrupt('bad sourceComputer');
  const stamp = m['stamp'] as Record<string, unknown> | undefined;
  if (
    stamp !== undefined &&
    (typeof stamp !== 'object' ||
      stamp === null ||
      typeof stamp['image'] !== 'string' ||
      !isValidRevision(stamp['revision']))
  )
    throw corrupt('bad stamp');
  return {
    name,
    revision,
    format: m['format'] as ImageFormat,
    sizeBytes: m['sizeBytes'],
    storedBytes: m['storedBytes'],
    sha256: m['sha256'],
    createdAt: m['createdAt'],
    osFamily: m['osFamily'],
    ...(sourceComputer === undefined ? {} : { sourceComputer }),
    ...(stamp === undefined
      ? {}
      : { stamp: { image: stamp['image'] as string, revision: stamp['revision'] as number } }),
  };
}

/** The manifest as `manifest.json` holds it: fixed key order, two-space indent, final newline. */
export function serializeManifest(manifest: ImageManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** A manifest as the contract's `StoredImage` (what a provisioner's `listImages` returns). @public */
export function storedImage(manifest: ImageManifest): StoredImage {
  return {
    name: manifest.name,
    revision: manifest.revision,
    sizeBytes: manifest.sizeBytes,
    storedBytes: manifest.storedBytes,
    sha256: manifest.sha256,
    osFamily: manifest.osFamily,
    createdAt: manifest.createdAt,
    ...(manifest.stamp === undefined ? {} : { stamp: manifest.stamp }),
  };
}
