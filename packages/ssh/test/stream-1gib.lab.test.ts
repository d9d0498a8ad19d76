import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startLab } from './lab.fixture.js';

const GiB = 1024 * 1024 * 1024;
const CHUNK = 1024 * 1024;

describe('a 1 GiB stream', () => {
  it('arrives whole: the remote sha256sum equals the hash computed on the fly', async () => {
    await using lab = await startLab({ sshd: { hostKeyTypes: ['ed25519'] } });
    const client = lab.pool.client(lab.target);
    // Generated on the fly (never stored): a random block, stamped with its index.
    const block = randomBytes(CHUNK);
    const local = createHash('sha256');
    async function* data(): AsyncGenerator<Buffer> {
      for (let index = 0; index < GiB / CHUNK; index += 1) {
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(index, 0);
        local.update(chunk);
        yield chunk;
      }
    }
    let events = 0;
    // Into a remote program's stdin with back-pressure (as a dd/zstd pipeline would take it).
    const summary = await client.streamTo(
      ['sh', '-c', 'sha256sum > "$0"', `${lab.sshd.scratchDir}/sum`],
      data(),
      { total: GiB, onProgress: () => (events += 1) },
    );
    const expected = local.digest('hex');
    expect(summary).toEqual({ bytes: GiB, sha256: expected });
    const sum = (await client.readFile(`${lab.sshd.scratchDir}/sum`)).toString();
    expect(sum.split(' ')[0]).toBe(expected);
    expect(events).toBeGreaterThan(1);
  }, 180_000);
});
