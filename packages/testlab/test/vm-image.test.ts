import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecked } from '../src/exec.js';
import { vmPreflight } from '../src/preflight.js';
import {
  ensureVmImage,
  VM_IMAGE_RECIPE,
  type VmImage,
  type VmImageFile,
  vmImageName,
} from '../src/vm-image.js';

// Files a caller puts into the VM image, read back from the built image without booting it:
// qcow2 → sparse raw, then debugfs on the root partition (`?offset=`). The image with these files
// is cached like the plain one (first build ~80 s, then milliseconds). Needs root and the Debian
// packages of scripts/lib/machine-setup.sh; fails, never skips, without them.

const CHECK = '/run/vlab-testlab-files-check';
const FILES: readonly VmImageFile[] = [
  { path: '/usr/local/lib/vlab-testlab-files/hello', data: '#!/bin/sh\necho hello\n', mode: 0o755 },
  // Default mode, parents that the image lacks.
  { path: '/etc/vlab-testlab-files/deep/note.txt', data: 'a note\n' },
  // Replaces a file the image has, with another mode.
  { path: '/etc/motd', data: 'vlab testlab\n', mode: 0o600 },
  { path: '/etc/vlab-testlab-files/link', symlink: '/etc/vlab-testlab-files/deep/note.txt' },
  // Through the image's absolute symlink /var/run → /run: resolved in the image, not here.
  { path: `/var${CHECK}`, data: 'confined\n' },
];

describe('the VM image with files', () => {
  it('names the cache entry by the files: none is the plain image, order and defaults do not count', () => {
    const plain = `debian-bookworm-vm-r${VM_IMAGE_RECIPE}`;
    expect(vmImageName('bookworm')).toBe(plain);
    expect(vmImageName('bookworm', [])).toBe(plain);
    const named = vmImageName('bookworm', FILES);
    expect(named).toMatch(new RegExp(`^${plain}-f[0-9a-f]{12}$`));
    expect(vmImageName('bookworm', [...FILES].reverse())).toBe(named);
    const note = FILES[1] as VmImageFile;
    expect(
      vmImageName(
        'bookworm',
        FILES.map((file) => (file === note ? { ...note, mode: 0o644 } : file)),
      ),
    ).toBe(named);
    expect(
      vmImageName(
        'bookworm',
        FILES.map((file) => (file === note ? { ...note, data: 'b' } : file)),
      ),
    ).not.toBe(named);
    expect(vmImageName('trixie', FILES)).toBe(named.replace('bookworm', 'trixie'));
  });

  it('refuses a bad entry before anything is built', async () => {
    for (const [file, message] of [
      [{ path: 'etc/x', data: '' }, 'must be absolute'],
      [{ path: '/etc/../x', data: '' }, 'must not contain ..'],
      [{ path: '/..', data: '' }, 'must not contain ..'],
      [{ path: '/etc//x', data: '' }, 'normalized'],
      [{ path: '/etc/x/', data: '' }, 'normalized'],
      [{ path: '/', data: '' }, 'normalized'],
      [{ path: '/x', data: '', symlink: '/y' }, 'a symlink has no data'],
      [{ path: '/x', mode: 0o644, symlink: '/y' }, 'a symlink has no data and no mode'],
      [{ path: '/x', symlink: '' }, 'non-empty'],
      [{ path: '/x', mode: 0o10000 }, 'not a file mode'],
      [{ path: '/x', mode: 1.5 }, 'not a file mode'],
    ] as const) {
      await expect(ensureVmImage({ files: [file] }), file.path).rejects.toThrow(message);
    }
    await expect(
      ensureVmImage({
        files: [
          { path: '/x', data: 'a' },
          { path: '/x', data: 'b' },
        ],
      }),
    ).rejects.toThrow('"/x": given twice');
  });

  describe('built', () => {
    let image: VmImage;
    let work = '';
    let raw = '';

    beforeAll(async () => {
      await vmPreflight();
      image = await ensureVmImage({
        files: FILES,
        log: (line) => console.log(`vm image: ${line}`),
      });
      console.log(
        `VM image with files ${image.path}: ${image.cached ? 'cached' : 'built'} ` +
          `(build ${(image.buildMs / 1000).toFixed(1)} s, this lookup ${image.tookMs} ms)`,
      );
      work = await mkdtemp(join(tmpdir(), 'vlab-vm-image-files-'));
      const disk = join(work, 'disk.raw');
      await runChecked('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image.path, disk], {
        timeoutMs: 600_000,
      });
      const table = JSON.parse((await runChecked('sfdisk', ['-J', disk])).stdout) as {
        partitiontable: { sectorsize?: number; partitions: { start: number }[] };
      };
      const start = table.partitiontable.partitions[0]?.start ?? Number.NaN;
      raw = `${disk}?offset=${start * (table.partitiontable.sectorsize ?? 512)}`;
    });

    afterAll(async () => {
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    const debugfs = async (request: string) =>
      (await runChecked('debugfs', ['-R', request, raw])).stdout;
    const stat = async (path: string) => {
      const out = await debugfs(`stat ${path}`);
      return {
        type: /Type: (\w+)/.exec(out)?.[1],
        mode: /Mode: +(\d+)/.exec(out)?.[1],
        owner: /User: +(\d+) +Group: +(\d+)/.exec(out)?.slice(1, 3).join(':'),
        target: /Fast link dest: "(.*)"/.exec(out)?.[1],
      };
    };

    it('is cached under its own name, beside the plain image', async () => {
      expect(basename(image.path)).toBe(`${vmImageName('bookworm', FILES)}.qcow2`);
      const again = await ensureVmImage({ files: [...FILES].reverse() });
      expect(again.cached).toBe(true);
      expect(again.path).toBe(image.path);
    });

    it('holds each file with its data, mode and root as owner, and the symlink', async () => {
      for (const file of FILES) {
        const path = file.path.startsWith('/var/run/') ? file.path.slice('/var'.length) : file.path;
        const found = await stat(path);
        if (file.symlink !== undefined) {
          expect(found, path).toEqual({
            type: 'symlink',
            mode: '0777',
            owner: '0:0',
            target: file.symlink,
          });
        } else {
          expect(found, path).toEqual({
            type: 'regular',
            mode: `0${(file.mode ?? 0o644).toString(8)}`,
            owner: '0:0',
            target: undefined,
          });
          expect(await debugfs(`cat ${path}`), path).toBe(file.data);
        }
      }
      // Parents made for the files: root's directories, 0755.
      for (const dir of ['/usr/local/lib/vlab-testlab-files', '/etc/vlab-testlab-files/deep']) {
        expect(await stat(dir), dir).toEqual({
          type: 'directory',
          mode: '0755',
          owner: '0:0',
          target: undefined,
        });
      }
      // /var/run is still the image's symlink, and nothing was written on this machine.
      expect((await stat('/var/run')).target).toBe('/run');
      expect(existsSync(CHECK)).toBe(false);
    });
  });
});
