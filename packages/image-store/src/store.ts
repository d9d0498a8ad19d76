import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import {
  abortError,
  coreError,
  type ImageQuery,
  type ImageRevisionRef,
  type ImportImageArgs,
  isVlabError,
  type StampTarget,
  VlabError,
} from '@vlab/core';
import { type BackendCallOptions, type StoreBackend, StoreFullError } from './backend.js';
import { IMAGE_STORE_ERROR_CODES } from './errors.js';
import { LocalBackend } from './local-backend.js';
import {
  checkRef,
  IMAGE_FORMATS,
  type ImageFormat,
  type ImageManifest,
  isOsFamily,
  isSha256,
  isValidRevision,
  parseManifest,
  serializeManifest,
} from './manifest.js';
import { SshBackend, type SshStoreClient } from './ssh-backend.js';

/** The stored disk file of a revision. @public */
export const DISK_FILE = 'disk.raw.zst';
/** The manifest file of a revision. @public */
export const MANIFEST_FILE = 'manifest.json';

const REVISION_DIR = /^[1-9][0-9]*$/;

/** Deadline and cancel of one store operation. @public */
export interface StoreCallOptions {
  /** Cancels the operation; it rejects with `VLAB_ERR_OP_CANCELLED` after cleaning up. */
  readonly signal?: AbortSignal | undefined;
  /** Its deadline; default the store's `timeoutMs` (`transferTimeoutMs` for data). */
  readonly timeoutMs?: number | undefined;
}

/** Options of an operation that moves data. @public */
export interface TransferCallOptions extends StoreCallOptions {
  /** Called with the bytes moved so far, after each chunk. */
  readonly onProgress?: ((bytes: number) => void) | undefined;
}

/** Options of {@link ImageStore}. @public */
export interface ImageStoreOptions {
  /** Deadline of a metadata operation (list, exists, reserve, publish, delete…). Default: 60 s. */
  readonly timeoutMs?: number | undefined;
  /** Deadline of an operation that moves a disk's bytes (write, importRaw). Default: 6 h. */
  readonly transferTimeoutMs?: number | undefined;
  /** The clock for `createdAt`. Default: `() => new Date()`. */
  readonly now?: (() => Date) | undefined;
}

/** What {@link Reservation.write} wrote. @public */
export interface WriteResult {
  /** Bytes written to the stored file. */
  readonly storedBytes: number;
  /** Hex SHA-256 of the stored bytes (the logical disk's when the format is `raw`). */
  readonly storedSha256: string;
}

/** What the caller says about the written data when it publishes a revision. @public */
export interface PublishArgs {
  /** How the written bytes hold the disk. */
  readonly format: ImageFormat;
  /** The logical disk size in bytes. For `raw` it must equal the bytes written. */
  readonly sizeBytes: number;
  /** Hex SHA-256 of the logical disk; for `raw` the store checks it against what it wrote. */
  readonly sha256: string;
  /** The OS family of the image. */
  readonly osFamily: string;
  /** The bytes the caller sent; when given, it must equal the bytes written. */
  readonly storedBytes?: number | undefined;
  /** The computer the disk was captured from. */
  readonly sourceComputer?: string | undefined;
  /** The stamp target the capture wrote. */
  readonly stamp?: StampTarget | undefined;
}

/** Where the parts of a revision live in a store. */
interface Paths {
  readonly dir: string;
  readonly published: string;
  readonly marker: string;
  readonly partial: string;
}

type RefLike = { readonly name?: string | undefined; readonly revision?: number | undefined };

type Run = <T>(
  operation: string,
  ref: RefLike,
  options: StoreCallOptions | undefined,
  transfer: boolean,
  work: (call: BackendCallOptions) => Promise<T>,
) => Promise<T>;

interface ReservationInit {
  readonly location: string;
  readonly now: () => Date;
  readonly backend: StoreBackend;
  readonly paths: Paths;
  readonly run: Run;
  readonly ref: ImageRevisionRef;
}

let createReservation: (init: ReservationInit) => Reservation;

/**
 * An exclusive hold on one revision that does not exist yet: {@link Reservation.write} the data
 * under a temporary name, then {@link Reservation.publish} it atomically, or
 * {@link Reservation.abandon} it. Nothing of it is listed before `publish`.
 * @public
 */
export class Reservation implements AsyncDisposable {
  /** The image's name. */
  readonly name: string;
  /** The revision being created. */
  readonly revision: number;
  readonly #location: string;
  readonly #now: () => Date;
  readonly #backend: StoreBackend;
  readonly #paths: Paths;
  readonly #run: Run;
  #state: 'open' | 'writing' | 'written' | 'published' | 'abandoned' = 'open';
  #written: WriteResult | undefined;

  static {
    createReservation = (init) => new Reservation(init);
  }

  /** Use {@link ImageStore.reserve}. */
  private constructor(init: ReservationInit) {
    this.#location = init.location;
    this.#now = init.now;
    this.#backend = init.backend;
    this.#paths = init.paths;
    this.#run = init.run;
    this.name = init.ref.name;
    this.revision = init.ref.revision;
  }

  /** `open` (reserved), `writing`, `written`, `published` or `abandoned`. */
  get state(): 'open' | 'writing' | 'written' | 'published' | 'abandoned' {
    return this.#state;
  }

  /**
   * Writes the revision's stored bytes (zstd-compressed raw for `raw+zstd`, or raw) under the
   * temporary name, once, hashing them; `source` is a stream (a `Readable`, an async generator) or
   * an iterable of chunks. On any failure it removes what it wrote (the reservation
   * stays: `abandon` it); no room → `VLAB_ERR_STORE_FULL`.
   */
  async write(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options?: TransferCallOptions,
  ): Promise<WriteResult> {
    this.#expect('open', 'write');
    this.#state = 'writing';
    const ref = { name: this.name, revision: this.revision };
    try {
      const result = await this.#run('write', ref, options, true, async (call) => {
        const hash = createHash('sha256');
        let bytes = 0;
        const onProgress = options?.onProgress;
        const signal = call.signal;
        // Each chunk is awaited against the signal too, so a source that stalls (a deploy
        // environment that stopped sending) does not hold the write past its deadline.
        async function* metered(): AsyncGenerator<Uint8Array> {
          const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> = isAsyncIterable(source)
            ? source[Symbol.asyncIterator]()
            : (source as Iterable<Uint8Array>)[Symbol.iterator]();
          let aborted: (() => void) | undefined;
          const onAbort = new Promise<never>((_, reject) => {
            aborted = () => reject(abortError(signal));
            signal.addEventListener('abort', aborted, { once: true });
          });
          onAbort.catch(() => undefined);
          try {
            for (;;) {
              const next = await Promise.race([iterator.next(), onAbort]);
              if (next.done === true) return;
              const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
              onProgress?.(bytes);
            }
          } finally {
            if (aborted !== undefined) signal.removeEventListener('abort', aborted);
            // Ends the source (a Readable is destroyed); not awaited, since it may be stalled.
            void Promise.resolve(iterator.return?.()).catch(() => undefined);
          }
        }
        const path = `${this.#paths.partial}/${DISK_FILE}`;
        try {
          const written = await this.#backend.writeStream(path, metered(), call);
          if (written !== bytes) throw new Error(`wrote ${written} bytes of ${bytes}`);
          return { storedBytes: bytes, storedSha256: hash.digest('hex') };
        } catch (error) {
          await this.#backend.remove(path, call).catch(() => undefined);
          throw error;
        }
      });
      this.#written = result;
      this.#state = 'written';
      return result;
    } catch (error) {
      this.#state = 'open';
      throw error;
    }
  }

  /**
   * Checks the written data against `args` and publishes the revision atomically: the manifest
   * is written and flushed inside the temporary directory, which is then renamed into place; the
   * reservation marker goes last. A mismatch throws `VLAB_ERR_IMAGE_CORRUPT` and publishes
   * nothing (abandon the reservation).
   */
  async publish(args: PublishArgs, options?: StoreCallOptions): Promise<ImageManifest> {
    this.#expect('written', 'publish');
    const written = this.#written as WriteResult;
    const ref = { name: this.name, revision: this.revision };
    const store = this.#location;
    const what = `image "${this.name}" revision ${this.revision}`;
    const invalid = (why: string) =>
      coreError(
        'VLAB_ERR_ARGUMENT_INVALID',
        `image store ${store}: cannot publish ${what}: ${why}`,
        {
          details: { store, image: this.name, revision: this.revision },
        },
      );
    const corrupt = (why: string, details: Record<string, unknown>) =>
      coreError('VLAB_ERR_IMAGE_CORRUPT', `image store ${store}: ${what}: ${why}`, {
        details: { store, image: this.name, revision: this.revision, ...details },
      });
    if (!IMAGE_FORMATS.includes(args.format))
      throw invalid(`unknown format ${String(args.format)}`);
    if (!Number.isSafeInteger(args.sizeBytes) || args.sizeBytes < 0)
      throw invalid(`sizeBytes ${String(args.sizeBytes)} is not a size`);
    if (!isSha256(args.sha256)) throw invalid('sha256 is not 64 lowercase hex digits');
    if (!isOsFamily(args.osFamily))
      throw invalid(`osFamily ${JSON.stringify(args.osFamily)} is invalid`);
    if (
      args.stamp !== undefined &&
      (typeof args.stamp.image !== 'string' || !isValidRevision(args.stamp.revision))
    )
      throw invalid('stamp is invalid');
    if (args.storedBytes !== undefined && args.storedBytes !== written.storedBytes)
      throw corrupt(
        `the caller sent ${args.storedBytes} bytes but the store received ${written.storedBytes}`,
        {
          expectedBytes: args.storedBytes,
          storedBytes: written.storedBytes,
        },
      );
    if (args.format === 'raw') {
      if (args.sizeBytes !== written.storedBytes)
        throw corrupt(
          `sizeBytes ${args.sizeBytes} differs from the ${written.storedBytes} raw bytes written`,
          {
            sizeBytes: args.sizeBytes,
            storedBytes: written.storedBytes,
          },
        );
      if (args.sha256 !== written.storedSha256)
        throw corrupt(
          `expected sha256 ${args.sha256} but the bytes written have ${written.storedSha256}`,
          {
            expected: args.sha256,
            actual: written.storedSha256,
          },
        );
    }
    const manifest: ImageManifest = {
      name: this.name,
      revision: this.revision,
      format: args.format,
      sizeBytes: args.sizeBytes,
      storedBytes: written.storedBytes,
      sha256: args.sha256,
      createdAt: this.#now().toISOString(),
      osFamily: args.osFamily,
      ...(args.sourceComputer === undefined ? {} : { sourceComputer: args.sourceComputer }),
      ...(args.stamp === undefined
        ? {}
        : { stamp: { image: args.stamp.image, revision: args.stamp.revision } }),
    };
    return this.#run('publish', ref, options, false, async (call) => {
      const disk = await this.#backend.stat(`${this.#paths.partial}/${DISK_FILE}`, call);
      if (disk?.size !== written.storedBytes)
        throw corrupt(
          `the temporary file holds ${String(disk?.size)} bytes, not the ${written.storedBytes} written`,
          {
            storedBytes: written.storedBytes,
            onDisk: disk?.size,
          },
        );
      await this.#backend.writeFile(
        `${this.#paths.partial}/${MANIFEST_FILE}`,
        Buffer.from(serializeManifest(manifest)),
        call,
      );
      await this.#backend.syncDirectory(this.#paths.partial, call);
      if ((await this.#backend.stat(this.#paths.published, call)) !== undefined)
        throw exists(store, ref, 'was published meanwhile (the store was changed by hand?)');
      await this.#backend.rename(this.#paths.partial, this.#paths.published, call);
      this.#state = 'published';
      await this.#backend.syncDirectory(this.#paths.dir, call);
      await this.#backend.remove(this.#paths.marker, call);
      return manifest;
    });
  }

  /**
   * Removes the temporary data and the reservation marker; idempotent, and a no-op after
   * `publish`. It is not cancelled by the signal of the operation that failed: give it its own.
   */
  async abandon(options?: StoreCallOptions): Promise<void> {
    if (this.#state === 'published' || this.#state === 'abandoned') return;
    const ref = { name: this.name, revision: this.revision };
    await this.#run('abandon', ref, options, false, async (call) => {
      await this.#backend.remove(this.#paths.partial, call);
      await this.#backend.remove(this.#paths.marker, call);
      // A first revision that was never published leaves no empty image directory.
      await this.#backend.removeEmptyDirectory(this.#paths.dir, call);
    });
    this.#state = 'abandoned';
  }

  /** Abandons the reservation unless it was published. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.abandon();
  }

  #expect(state: 'open' | 'written', operation: string): void {
    if (this.#state !== state)
      throw coreError(
        'VLAB_ERR_ARGUMENT_INVALID',
        `image store ${this.#location}: cannot ${operation} image "${this.name}" revision ${this.revision}: the reservation is ${this.#state}`,
        {
          details: {
            store: this.#location,
            image: this.name,
            revision: this.revision,
            state: this.#state,
          },
        },
      );
  }
}

function isAsyncIterable(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): source is AsyncIterable<Uint8Array> {
  return typeof (source as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === 'function';
}

function exists(store: string, ref: ImageRevisionRef, why: string): VlabError {
  return coreError(
    'VLAB_ERR_IMAGE_EXISTS',
    `image store ${store}: image "${ref.name}" revision ${ref.revision} ${why}`,
    { details: { store, image: ref.name, revision: ref.revision } },
  );
}

function describe(ref: RefLike): string {
  if (ref.name === undefined) return '';
  return ref.revision === undefined
    ? ` of image "${ref.name}"`
    : ` of image "${ref.name}" revision ${ref.revision}`;
}

/**
 * An image store: published revisions `<root>/<name>/<revision>/` holding `disk.raw.zst` and
 * `manifest.json`, with the reservation protocol that creates them. Make one with
 * {@link ImageStore.local} or {@link ImageStore.ssh} (or any {@link StoreBackend}).
 * @public
 */
export class ImageStore {
  /** Where the store is, for messages. */
  readonly location: string;
  readonly #backend: StoreBackend;
  readonly #root: string;
  readonly #timeoutMs: number;
  readonly #transferTimeoutMs: number;
  readonly #now: () => Date;
  readonly #run: Run;

  /**
   * @param backend - The file operations on the store's host.
   * @param root - The store's root directory on that host: absolute, normalized.
   */
  constructor(backend: StoreBackend, root: string, options: ImageStoreOptions = {}) {
    if (
      typeof root !== 'string' ||
      !isAbsolute(root) ||
      normalize(root) !== root ||
      (root !== '/' && root.endsWith('/')) ||
      root.includes('\0')
    )
      throw coreError(
        'VLAB_ERR_CONFIG_INVALID',
        `image store: the root ${JSON.stringify(root)} is not an absolute, normalized path`,
        { details: { store: root } },
      );
    this.#backend = backend;
    this.#root = root === '/' ? '' : root.replace(/\/$/, '');
    this.location = backend.location;
    const positive = (value: number | undefined, key: string, fallback: number): number => {
      if (value === undefined) return fallback;
      if (!(Number.isFinite(value) && value > 0))
        throw coreError(
          'VLAB_ERR_CONFIG_INVALID',
          `image store ${this.location}: ${key} must be a positive number`,
          {
            details: { store: this.location, key },
          },
        );
      return value;
    };
    this.#timeoutMs = positive(options.timeoutMs, 'timeoutMs', 60_000);
    this.#transferTimeoutMs = positive(
      options.transferTimeoutMs,
      'transferTimeoutMs',
      6 * 3_600_000,
    );
    this.#now = options.now ?? (() => new Date());
    this.#run = (operation, ref, options, transfer, work) =>
      this.#runOperation(operation, ref, options, transfer, work);
  }

  /** A store in a directory of this host. */
  static local(root: string, options?: ImageStoreOptions): ImageStore {
    return new ImageStore(new LocalBackend(root), root, options);
  }

  /** A store in a directory of the host `client` (an `SshClient` of `@vlab/ssh`) reaches, over SSH. */
  static ssh(client: SshStoreClient, root: string, options?: ImageStoreOptions): ImageStore {
    return new ImageStore(new SshBackend(client, root), root, options);
  }

  /** Every published revision, by name then revision; temporary and reserved ones never. */
  list(options?: StoreCallOptions): Promise<ImageManifest[]> {
    return this.#run('list', {}, options, false, async (call) => {
      const images: ImageManifest[] = [];
      const names = (await this.#backend.list(this.#root || '/', call))
        .filter((n) => this.#isName(n))
        .sort();
      for (const name of names) {
        for (const revision of await this.#revisions(name, call)) {
          const manifest = await this.#read({ name, revision }, call);
          if (manifest !== undefined) images.push(manifest);
        }
      }
      return images;
    });
  }

  /** Whether the image (any revision, when `revision` is absent) or the revision is published. */
  exists(query: ImageQuery, options?: StoreCallOptions): Promise<boolean> {
    checkRef(this.location, query.name, query.revision);
    return this.#run('exists', query, options, false, async (call) => {
      if (query.revision !== undefined)
        return (
          (await this.#read({ name: query.name, revision: query.revision }, call)) !== undefined
        );
      return (await this.#revisions(query.name, call)).length > 0;
    });
  }

  /** The manifest of a published revision, or `undefined`. */
  get(ref: ImageRevisionRef, options?: StoreCallOptions): Promise<ImageManifest | undefined> {
    checkRef(this.location, ref.name, ref.revision);
    return this.#run('get', ref, options, false, (call) => this.#read(ref, call));
  }

  /** The logical disk size of a revision; `VLAB_ERR_IMAGE_NOT_FOUND` when it is not published. */
  async size(ref: ImageRevisionRef, options?: StoreCallOptions): Promise<number> {
    const manifest = await this.get(ref, options);
    if (manifest === undefined) throw this.#notFound(ref);
    return manifest.sizeBytes;
  }

  /**
   * The stored bytes of a published revision (`disk.raw.zst`, in its manifest's format), for a
   * load to send on; `VLAB_ERR_IMAGE_NOT_FOUND` when it is not published. The stream ends when
   * the signal fires.
   */
  async read(
    ref: ImageRevisionRef,
    options?: { readonly signal?: AbortSignal | undefined },
  ): Promise<{ readonly manifest: ImageManifest; readonly stream: Readable }> {
    const manifest = await this.get(ref, options);
    if (manifest === undefined) throw this.#notFound(ref);
    const stream = this.#backend.readStream(`${this.#paths(ref).published}/${DISK_FILE}`, {
      signal: options?.signal ?? new AbortController().signal,
    });
    return { manifest, stream };
  }

  /**
   * Deletes a revision: a published one atomically (renamed to a hidden trash name, then
   * removed), and what an unfinished capture or import of it left (its temporary data and
   * reservation marker: a process that died while writing never abandons them). A missing
   * revision is not an error. A writer still holding the reservation fails at its publish.
   */
  delete(ref: ImageRevisionRef, options?: StoreCallOptions): Promise<void> {
    checkRef(this.location, ref.name, ref.revision);
    return this.#run('delete', ref, options, false, async (call) => {
      const paths = this.#paths(ref);
      if ((await this.#backend.stat(paths.published, call)) !== undefined) {
        const trash = `${paths.dir}/.${ref.revision}.trash-${randomUUID()}`;
        await this.#backend.rename(paths.published, trash, call);
        await this.#backend.syncDirectory(paths.dir, call);
        await this.#backend.remove(trash, call);
      }
      // The marker last: until it is gone, no one else reserves the revision.
      await this.#backend.remove(paths.partial, call);
      await this.#backend.remove(paths.marker, call);
      // The image's last revision leaves no empty directory behind.
      await this.#backend.removeEmptyDirectory(paths.dir, call);
    });
  }

  /**
   * Reserves a revision that does not exist yet, with an exclusive marker (`O_EXCL`): of two
   * callers, one wins; the other, and any caller of a published revision, gets
   * `VLAB_ERR_IMAGE_EXISTS`.
   */
  reserve(ref: ImageRevisionRef, options?: StoreCallOptions): Promise<Reservation> {
    checkRef(this.location, ref.name, ref.revision);
    const paths = this.#paths(ref);
    return this.#run('reserve', ref, options, false, async (call) => {
      if ((await this.#backend.stat(paths.published, call)) !== undefined)
        throw exists(this.location, ref, 'exists already');
      if (!(await this.#createMarker(paths, call)))
        throw exists(this.location, ref, 'is reserved by another capture or import');
      try {
        // Published between the check and the marker (its publisher's marker was already gone).
        if ((await this.#backend.stat(paths.published, call)) !== undefined)
          throw exists(this.location, ref, 'exists already');
        await this.#backend.remove(paths.partial, call);
        await this.#backend.mkdirp(paths.partial, call);
      } catch (error) {
        await this.#backend.remove(paths.marker, call).catch(() => undefined);
        throw error;
      }
      return createReservation({
        location: this.location,
        now: this.#now,
        backend: this.#backend,
        paths,
        run: this.#run,
        ref: { name: ref.name, revision: ref.revision },
      });
    });
  }

  /**
   * Imports a raw disk image (core's `importImage`): refuses an existing revision before reading,
   * writes the raw bytes (format `raw`) under a temporary name hashing them, and publishes only
   * when their SHA-256 is `source.sha256` (else `VLAB_ERR_IMAGE_CORRUPT`, naming both sums). After
   * any failure or abort nothing of it is left.
   */
  async importRaw(args: ImportImageArgs, options?: TransferCallOptions): Promise<ImageManifest> {
    const ref = { name: args.image, revision: args.revision };
    checkRef(this.location, ref.name, ref.revision);
    const { source } = args;
    if (!isSha256(source.sha256) || !isOsFamily(source.osFamily))
      throw coreError(
        'VLAB_ERR_ARGUMENT_INVALID',
        `image store ${this.location}: cannot import image "${ref.name}" revision ${ref.revision}: the source needs a lowercase hex sha256 and an OS family`,
        { details: { store: this.location, image: ref.name, revision: ref.revision } },
      );
    if (source.path !== undefined && !isAbsolute(source.path))
      throw coreError(
        'VLAB_ERR_ARGUMENT_INVALID',
        `image store ${this.location}: cannot import image "${ref.name}" revision ${ref.revision}: the source path is not absolute`,
        {
          details: {
            store: this.location,
            image: ref.name,
            revision: ref.revision,
            path: source.path,
          },
        },
      );
    const reservation = await this.reserve(ref, options);
    try {
      const bytes: AsyncIterable<Uint8Array> =
        source.path !== undefined
          ? createReadStream(
              source.path,
              options?.signal === undefined ? {} : { signal: options.signal },
            )
          : source.stream;
      const written = await reservation.write(bytes, options);
      return await reservation.publish(
        {
          format: 'raw',
          sizeBytes: written.storedBytes,
          sha256: source.sha256,
          osFamily: source.osFamily,
          storedBytes: written.storedBytes,
        },
        options,
      );
    } catch (error) {
      await reservation.abandon({ timeoutMs: this.#timeoutMs });
      throw error;
    }
  }

  /**
   * The reservation marker, in the image's directory (made if missing). A concurrent abandon or
   * delete of the image's last revision may remove the empty directory between the two calls:
   * then it is made again, a bounded number of times.
   */
  async #createMarker(paths: Paths, call: BackendCallOptions): Promise<boolean> {
    for (let attempt = 1; ; attempt += 1) {
      await this.#backend.mkdirp(paths.dir, call);
      try {
        return await this.#backend.createExclusive(paths.marker, call);
      } catch (error) {
        if (attempt >= 3 || (await this.#backend.stat(paths.dir, call)) !== undefined) throw error;
      }
    }
  }

  #isName(entry: string): boolean {
    try {
      checkRef(this.location, entry);
      return true;
    } catch {
      return false;
    }
  }

  async #revisions(name: string, call: BackendCallOptions): Promise<number[]> {
    const entries = await this.#backend.list(`${this.#root}/${name}`, call);
    return entries
      .filter((entry) => REVISION_DIR.test(entry) && isValidRevision(Number(entry)))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async #read(ref: ImageRevisionRef, call: BackendCallOptions): Promise<ImageManifest | undefined> {
    const path = `${this.#paths(ref).published}/${MANIFEST_FILE}`;
    if ((await this.#backend.stat(path, call)) === undefined) return undefined;
    const text = (await this.#backend.readFile(path, call)).toString('utf8');
    return parseManifest(this.location, ref.name, ref.revision, text);
  }

  #paths(ref: ImageRevisionRef): Paths {
    const dir = `${this.#root}/${ref.name}`;
    return {
      dir,
      published: `${dir}/${ref.revision}`,
      marker: `${dir}/.${ref.revision}.reserved`,
      partial: `${dir}/.${ref.revision}.partial`,
    };
  }

  #notFound(ref: ImageRevisionRef): VlabError {
    return coreError(
      'VLAB_ERR_IMAGE_NOT_FOUND',
      `image store ${this.location}: image "${ref.name}" revision ${ref.revision} is not published`,
      { details: { store: this.location, image: ref.name, revision: ref.revision } },
    );
  }

  async #runOperation<T>(
    operation: string,
    ref: RefLike,
    options: StoreCallOptions | undefined,
    transfer: boolean,
    work: (call: BackendCallOptions) => Promise<T>,
  ): Promise<T> {
    const what = `${operation}${describe(ref)}`;
    const timeoutMs = options?.timeoutMs ?? (transfer ? this.#transferTimeoutMs : this.#timeoutMs);
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          coreError(
            'VLAB_ERR_OP_TIMEOUT',
            `image store ${this.location}: ${what} took longer than ${timeoutMs} ms`,
            {
              details: {
                store: this.location,
                image: ref.name,
                revision: ref.revision,
                operation,
                timeoutMs,
              },
            },
          ),
        ),
      timeoutMs,
    );
    const outer = options?.signal;
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', onAbort, { once: true });
    const signal = controller.signal;
    try {
      if (signal.aborted)
        throw abortError(signal, undefined, `image store ${this.location}: ${what}`);
      return await work({ signal });
    } catch (error) {
      throw this.#mapError(error, signal, operation, what, ref);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  #mapError(
    error: unknown,
    signal: AbortSignal,
    operation: string,
    what: string,
    ref: RefLike,
  ): unknown {
    const details = { store: this.location, image: ref.name, revision: ref.revision, operation };
    if (signal.aborted)
      return abortError(signal, undefined, `image store ${this.location}: ${what}`);
    if (error instanceof StoreFullError || (error as NodeJS.ErrnoException)?.code === 'ENOSPC')
      return coreError(
        'VLAB_ERR_STORE_FULL',
        `image store ${this.location}: no room for ${what.replace(/^\w+ of /, '')}`,
        {
          cause: error,
          details,
        },
      );
    if (isVlabError(error)) {
      if (String(error.details['store']) === this.location) return error;
      return new VlabError(error.code, `image store ${this.location}: ${what}: ${error.summary}`, {
        computer: error.computer,
        hint: error.hint,
        cause: error,
        details: { ...error.details, ...details },
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new VlabError(
      'VLAB_ERR_STORE_IO_FAILED',
      `image store ${this.location}: ${what} failed: ${message}`,
      {
        hint: IMAGE_STORE_ERROR_CODES.VLAB_ERR_STORE_IO_FAILED.hint,
        cause: error,
        details: { ...details, errno: (error as NodeJS.ErrnoException)?.code },
      },
    );
  }
}
