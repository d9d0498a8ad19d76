import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { abortError, coreError, type OperationContext, TransferWatch } from '@vlab/core';
import type { ImageManifest, Reservation } from '@vlab/image-store';
import type { BaremetalConfig } from './config.js';
import type { DeployEnvironment } from './deploy-environment.js';
import {
  DISK_SIZE,
  DISK_TOO_SMALL_EXIT,
  HASH_DISK,
  READ_DISK,
  READ_DISK_SUM,
  WRITE_DISK,
} from './deploy-scripts.js';
import { baremetalError } from './errors.js';
import { localZstd } from './local-zstd.js';

/** Where a transfer goes: the computer, its deploy environment and the disk there. */
export interface TransferTarget {
  readonly computer: string;
  readonly env: DeployEnvironment;
  readonly disk: string;
  readonly config: BaremetalConfig;
}

/**
 * The error a transfer ends with: the operation's cancel (whatever broke on the way once the
 * transfer was stopped), the idle deadline's, else what failed.
 */
function transferError(
  error: unknown,
  watch: TransferWatch,
  ctx: OperationContext,
  computer: string,
): unknown {
  if (ctx.signal.aborted) return abortError(ctx.signal, computer, ctx.phase);
  return watch.idleReason ?? error;
}

/**
 * Writes a stored revision onto the disk through the deploy environment: zstd on the wire (a
 * `raw` revision is compressed here on the way), only non-zero blocks written (see
 * `sparseWrites`), then the deploy environment reads the disk back and its SHA-256 must be the
 * manifest's — else `VLAB_ERR_IMAGE_CORRUPT` naming both sums.
 */
export async function writeImage(
  ctx: OperationContext,
  target: TransferTarget,
  image: { readonly manifest: ImageManifest; readonly stream: Readable },
): Promise<void> {
  const { manifest } = image;
  const { env, disk, config, computer } = target;
  const what = `writing ${manifest.name} revision ${manifest.revision} onto ${computer}'s disk`;
  const watch = new TransferWatch(
    ctx,
    computer,
    what,
    config.timeouts.transferIdleMs,
    manifest.storedBytes,
  );
  const stored = (async function* counted() {
    for await (const chunk of image.stream) {
      watch.moved((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  })();
  const compressor =
    manifest.format === 'raw' ? localZstd(['-1', '-T0', '-c'], watch.signal) : undefined;
  const wire: AsyncIterable<Uint8Array> = compressor?.process.stdout ?? stored;
  const feed =
    compressor === undefined
      ? Promise.resolve()
      : (async () => {
          for await (const chunk of stored) {
            if (!compressor.process.stdin.write(chunk))
              await once(compressor.process.stdin, 'drain');
          }
          compressor.process.stdin.end();
        })();
  feed.catch(() => undefined);
  try {
    const proc = await env.client.spawn(
      [
        'sh',
        '-c',
        WRITE_DISK,
        'vlab-deploy',
        disk,
        String(manifest.sizeBytes),
        config.sparseWrites ? 'sparse' : 'full',
      ],
      { signal: watch.signal, timeoutMs: config.timeouts.transferMs },
    );
    const stderr = collect(proc.stderr);
    proc.stdout.resume();
    const sent = (async () => {
      for await (const chunk of wire) {
        if (!proc.stdin.write(chunk)) await once(proc.stdin, 'drain');
      }
      proc.stdin.end();
    })();
    // This side failing (the store's stream, zstd here) ends the remote writer too, and its
    // error is the one that counts.
    const local = Promise.all([sent, feed, compressor?.exit]);
    const localError = local.then(
      () => undefined,
      (error: unknown) => {
        void proc.kill();
        return error;
      },
    );
    const exit = await proc.exit;
    if (exit.code !== 0) {
      // Taken only if this side has failed already: it may instead be stuck writing into the
      // channel the remote side closed.
      const failed = await Promise.race([localError, Promise.resolve(undefined)]);
      if (failed !== undefined) throw failed;
    }
    if (exit.code === DISK_TOO_SMALL_EXIT)
      throw baremetalError('VLAB_ERR_BAREMETAL_DISK_TOO_SMALL', `${computer}: ${stderr().trim()}`, {
        computer,
        details: { imageBytes: manifest.sizeBytes },
      });
    if (exit.code !== 0)
      throw baremetalError(
        'VLAB_ERR_BAREMETAL_DISK_FAILED',
        `${what} failed in the deploy environment (exit ${exit.code}${exit.signal === undefined ? '' : `, ${exit.signal}`}): ${stderr().trim().slice(0, 500)}`,
        { computer, details: { exitCode: exit.code } },
      );
    await local;
    watch.finish();
  } catch (error) {
    compressor?.process.kill();
    throw transferError(error, watch, ctx, computer);
  } finally {
    watch[Symbol.dispose]();
    image.stream.destroy();
  }
  // Hashing in Node before sending proves nothing about the disk: the disk is read back.
  const sum = (
    await env.run(ctx, 'reading the disk back', HASH_DISK, [disk, String(manifest.sizeBytes)], {
      timeoutMs: config.timeouts.transferMs,
    })
  ).trim();
  if (sum !== manifest.sha256)
    throw coreError(
      'VLAB_ERR_IMAGE_CORRUPT',
      `${computer}'s disk after writing ${manifest.name} revision ${manifest.revision} has SHA-256 ${sum}, the manifest says ${manifest.sha256}`,
      {
        computer,
        details: {
          image: manifest.name,
          revision: manifest.revision,
          expected: manifest.sha256,
          actual: sum,
        },
      },
    );
}

/** What {@link readDisk} stored. */
export interface DiskRead {
  /** The disk's size: the logical image size. */
  readonly sizeBytes: number;
  /** SHA-256 of the disk, computed by the deploy environment as it read it. */
  readonly sha256: string;
  /** Bytes written into the store (compressed). */
  readonly storedBytes: number;
}

/**
 * Reads the whole disk in the deploy environment (one pass: hashed and zstd-compressed there)
 * into the reservation's temporary file, while this host decodes the same stream and hashes it:
 * what was stored must decode to the disk the deploy environment hashed, byte for byte —
 * else `VLAB_ERR_IMAGE_CORRUPT`.
 */
export async function readDisk(
  ctx: OperationContext,
  target: TransferTarget,
  reservation: Reservation,
): Promise<DiskRead> {
  const { env, disk, config, computer } = target;
  const size = Number((await env.run(ctx, 'reading the disk size', DISK_SIZE, [disk])).trim());
  const what = `reading ${computer}'s disk into ${reservation.name} revision ${reservation.revision}`;
  const watch = new TransferWatch(ctx, computer, what, config.timeouts.transferIdleMs, size);
  const decoder = localZstd(['-dc'], watch.signal);
  const hash = createHash('sha256');
  let decoded = 0;
  decoder.process.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    decoded += chunk.length;
    watch.moved(chunk.length);
  });
  let proc: Awaited<ReturnType<DeployEnvironment['client']['spawn']>> | undefined;
  try {
    proc = await env.client.spawn(
      ['sh', '-c', READ_DISK, 'vlab-deploy', disk, String(config.compressionLevel)],
      { signal: watch.signal, timeoutMs: config.timeouts.transferMs },
    );
    const stderr = collect(proc.stderr);
    const stdout = proc.stdout;
    const tee = (async function* () {
      for await (const chunk of stdout) {
        if (!decoder.process.stdin.write(chunk)) await once(decoder.process.stdin, 'drain');
        yield chunk as Buffer;
      }
      decoder.process.stdin.end();
    })();
    const written = await reservation.write(tee, {
      signal: watch.signal,
      timeoutMs: config.timeouts.transferMs,
    });
    const exit = await proc.exit;
    if (exit.code !== 0)
      throw baremetalError(
        'VLAB_ERR_BAREMETAL_DISK_FAILED',
        `${what} failed in the deploy environment (exit ${exit.code}): ${stderr().trim().slice(0, 500)}`,
        { computer, details: { exitCode: exit.code } },
      );
    const sum = READ_DISK_SUM.exec(stderr());
    if (sum === null)
      throw baremetalError(
        'VLAB_ERR_BAREMETAL_DISK_FAILED',
        `${what}: the deploy environment gave no checksum: ${stderr().trim().slice(0, 500)}`,
        { computer },
      );
    const [, sha256 = '', bytes = '0'] = sum;
    try {
      await decoder.exit;
    } catch (error) {
      throw coreError('VLAB_ERR_IMAGE_CORRUPT', `${what}: the stored stream does not decode`, {
        computer,
        cause: error,
      });
    }
    const local = hash.digest('hex');
    if (decoded !== Number(bytes) || local !== sha256)
      throw coreError(
        'VLAB_ERR_IMAGE_CORRUPT',
        `${what}: the deploy environment read ${bytes} bytes with SHA-256 ${sha256}, the stored stream decodes to ${decoded} bytes with SHA-256 ${local}`,
        { computer, details: { expected: sha256, actual: local } },
      );
    watch.finish();
    return { sizeBytes: decoded, sha256, storedBytes: written.storedBytes };
  } catch (error) {
    decoder.process.kill();
    if (proc !== undefined) await proc.kill();
    throw transferError(error, watch, ctx, computer);
  } finally {
    watch[Symbol.dispose]();
  }
}

/** Collects a stream's first 64 KiB; the returned function gives them as text. */
function collect(stream: Readable): () => string {
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (bytes < 64 * 1024) chunks.push(chunk);
    bytes += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}
