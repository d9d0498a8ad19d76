import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from './exec.js';
import { withMachineLock } from './lock.js';
import { cacheDir } from './paths.js';
import { requireFreeSpace } from './preflight.js';

/** A Debian release the lab can build a base image of. @public */
export type Suite = 'bookworm' | 'trixie';

/**
 * Bump when the recipe below changes what goes into an image: cached images of an older recipe
 * are then rebuilt (under new names), never reused. 2: `e2fsprogs` (trixie's minbase lacks it;
 * a guest reads an identity disk with its `debugfs`).
 */
export const IMAGE_RECIPE = 2;

/** The packages of the base image, on top of debootstrap's minbase. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'sudo',
  'nftables',
  'e2fsprogs',
] as const;

/** Default size of a base image (a sparse file: only the ~300 MB in use take disk space). */
export const DEFAULT_IMAGE_BYTES = 2 * 2 ** 30;

/** Where the deploy environment finds the computer's disk (a block device). @public */
export const DEPLOY_DISK_PATH = '/dev/vlab-disk';

/** The deploy environment's host name, so a test can tell which system answered. @public */
export const DEPLOY_HOSTNAME = 'vlab-deploy';

/** Written into every base image: what it is. */
export const BASE_IMAGE_MARKER = '/etc/vlab-testlab/base-image.json';

/** A cached base disk image: a plain ext4 file system in a sparse file. @public */
export interface BaseImage {
  readonly suite: Suite;
  /** The image file. Copy it (sparse), never write it. */
  readonly path: string;
  readonly sizeBytes: number;
  /** ISO time it was built. */
  readonly builtAt: string;
  /** How long the build took (debootstrap, image, deploy environment). */
  readonly buildMs: number;
  /** Whether this call found it in the cache (else it built it). */
  readonly cached: boolean;
  /** How long this call took. */
  readonly tookMs: number;
}

/** The shared, read-only tree the deploy environment boots (with `--volatile=overlay`). @public */
export interface DeployTree {
  readonly path: string;
  readonly builtAt: string;
}

interface ImageRecord {
  readonly suite: Suite;
  readonly recipe: number;
  readonly sizeBytes: number;
  readonly builtAt: string;
  readonly buildMs: number;
  readonly mirror: string;
}

function imagePaths(suite: Suite): { image: string; record: string } {
  const base = join(cacheDir(), `debian-${suite}-r${IMAGE_RECIPE}`);
  return { image: `${base}.img`, record: `${base}.json` };
}

function deployPath(): string {
  return join(cacheDir(), `deploy-bookworm-r${IMAGE_RECIPE}`);
}

/**
 * The Debian mirror of this machine's apt sources (deb822 `URIs:` lines in
 * `/etc/apt/sources.list.d/*.sources`, else `deb` lines of `/etc/apt/sources.list`), skipping
 * security mirrors. `VLAB_TESTLAB_MIRROR` overrides it.
 */
export async function debianMirror(): Promise<string> {
  const override = process.env['VLAB_TESTLAB_MIRROR'];
  if (override) return override;
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith('.sources')) : [];
  for (const file of files.sort()) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      if (/^Enabled:\s*no/im.test(stanza)) continue;
      if (!/^Types:.*\bdeb\b/im.test(stanza)) continue;
      const uris = /^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      candidates.push(...uris);
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    const text = await readFile('/etc/apt/sources.list', 'utf8');
    for (const match of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) {
      if (match[1] !== undefined) candidates.push(match[1]);
    }
  }
  const mirror = candidates.find((uri) => /^https?:\/\//.test(uri) && !/security/.test(uri));
  if (mirror === undefined) {
    throw new Error(
      'no Debian mirror found in /etc/apt/sources.list.d/*.sources (URIs:) or /etc/apt/sources.list; set VLAB_TESTLAB_MIRROR',
    );
  }
  return mirror;
}

async function readRecord(path: string): Promise<ImageRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ImageRecord;
  } catch {
    return undefined;
  }
}

async function emptyDir(path: string, keep: readonly string[] = []): Promise<void> {
  if (!existsSync(path)) return;
  for (const entry of await readdir(path)) {
    if (!keep.includes(entry)) await rm(join(path, entry), { recursive: true, force: true });
  }
}

/** What every copy of the tree gets: no host keys, no machine id, no caches of the build host. */
export async function generalize(tree: string, hostname: string): Promise<void> {
  for (const entry of await readdir(join(tree, 'etc/ssh'))) {
    if (entry.startsWith('ssh_host_')) await rm(join(tree, 'etc/ssh', entry));
  }
  await writeFile(join(tree, 'etc/machine-id'), '');
  await rm(join(tree, 'var/lib/dbus/machine-id'), { force: true });
  await writeFile(join(tree, 'etc/hostname'), `${hostname}\n`);
  await writeFile(
    join(tree, 'etc/hosts'),
    `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  await rm(join(tree, 'etc/resolv.conf'), { force: true });
  await writeFile(join(tree, 'etc/resolv.conf'), '');
  await emptyDir(join(tree, 'var/cache/apt/archives'), ['partial', 'lock']);
  await emptyDir(join(tree, 'var/lib/apt/lists'), ['partial', 'lock']);
  await rm(join(tree, 'var/cache/apt/pkgcache.bin'), { force: true });
  await rm(join(tree, 'var/cache/apt/srcpkgcache.bin'), { force: true });
}

/** Turns a debootstrapped tree into the deploy environment: zstd, its own sshd set-up. */
async function makeDeployTree(tree: string, log: (line: string) => void): Promise<void> {
  log('deploy environment: installing zstd');
  await writeFile(join(tree, 'etc/resolv.conf'), await readFile('/etc/resolv.conf'));
  await runChecked('chroot', [tree, 'apt-get', 'update', '-qq'], { timeoutMs: 600_000 });
  await runChecked(
    'chroot',
    [
      tree,
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install',
      '-y',
      '-qq',
      '--no-install-recommends',
      'zstd',
    ],
    { timeoutMs: 600_000 },
  );
  await generalize(tree, DEPLOY_HOSTNAME);
  // Per-computer host key and authorized keys are bound in at /etc/vlab-deploy at boot.
  await mkdir(join(tree, 'etc/vlab-deploy'), { recursive: true });
  await writeFile(
    join(tree, 'etc/ssh/sshd_config.d/vlab-deploy.conf'),
    [
      '# @vlab/testlab deploy environment: keys are bound in per computer',
      'HostKey /etc/vlab-deploy/ssh_host_ed25519_key',
      'AuthorizedKeysFile /etc/vlab-deploy/authorized_keys',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(tree, 'etc/vlab-deploy-environment'),
    `${JSON.stringify({ disk: DEPLOY_DISK_PATH, recipe: IMAGE_RECIPE })}\n`,
  );
}

export interface EnsureImageOptions {
  readonly suite?: Suite;
  /** Size of the image file (sparse). Default {@link DEFAULT_IMAGE_BYTES}. */
  readonly sizeBytes?: number;
  /** Progress lines (build steps). */
  readonly log?: (line: string) => void;
}

/**
 * The cached base image of `suite` (and, for bookworm, the deploy environment), built once per
 * machine under a machine-wide lock: `debootstrap --variant=minbase --include=…` from the
 * machine's Debian mirror into a tree, generalized (no host keys, no machine id), then written
 * into a plain ext4 image with `mkfs.ext4 -d`. Checks free disk space first.
 */
export async function ensureBaseImage(options: EnsureImageOptions = {}): Promise<BaseImage> {
  const started = performance.now();
  const suite = options.suite ?? 'bookworm';
  const log = options.log ?? (() => undefined);
  const paths = imagePaths(suite);
  const done = async (cached: boolean): Promise<BaseImage | undefined> => {
    const record = await readRecord(paths.record);
    if (record === undefined || !existsSync(paths.image)) return undefined;
    if (suite === 'bookworm' && !existsSync(join(deployPath(), 'etc/vlab-deploy-environment'))) {
      return undefined;
    }
    return {
      suite,
      path: paths.image,
      sizeBytes: record.sizeBytes,
      builtAt: record.builtAt,
      buildMs: record.buildMs,
      cached,
      tookMs: Math.round(performance.now() - started),
    };
  };
  const hit = await done(true);
  if (hit !== undefined) return hit;

  return withMachineLock(
    join(cacheDir(), 'build.lock'),
    'building a base image',
    3_600_000,
    async () => {
      const again = await done(true); // built by another process while we waited
      if (again !== undefined) return again;
      await requireFreeSpace(cacheDir(), 2 * 2 ** 30, `building the ${suite} base image`);
      const buildStarted = performance.now();
      const mirror = await debianMirror();
      const work = join(cacheDir(), `build-${suite}-${process.pid}`);
      await rm(work, { recursive: true, force: true });
      const tree = join(work, 'tree');
      await mkdir(work, { recursive: true });
      try {
        log(`debootstrap ${suite} from ${mirror} (a minute or two)`);
        await runChecked(
          'debootstrap',
          ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, suite, tree, mirror],
          { timeoutMs: 1_800_000 },
        );
        if (suite === 'bookworm') {
          const deployWork = join(work, 'deploy');
          await runChecked('cp', ['-a', '--reflink=auto', tree, deployWork], {
            timeoutMs: 600_000,
          });
          await makeDeployTree(deployWork, log);
          await rm(deployPath(), { recursive: true, force: true });
          await rename(deployWork, deployPath());
          await chmod(deployPath(), 0o755);
        }
        await generalize(tree, 'debian');
        await mkdir(join(tree, 'etc/vlab-testlab'), { recursive: true });
        const builtAt = new Date().toISOString();
        await writeFile(
          join(tree, BASE_IMAGE_MARKER.slice(1)),
          `${JSON.stringify({ suite, recipe: IMAGE_RECIPE, builtAt })}\n`,
        );
        const sizeBytes = options.sizeBytes ?? DEFAULT_IMAGE_BYTES;
        const tmpImage = join(work, 'image.img');
        log(`writing the ext4 image (${sizeBytes} bytes, sparse)`);
        await runChecked('truncate', ['-s', String(sizeBytes), tmpImage]);
        await runChecked('mkfs.ext4', ['-q', '-F', '-L', 'vlab-root', '-d', tree, tmpImage], {
          timeoutMs: 600_000,
        });
        await rename(tmpImage, paths.image);
        const record: ImageRecord = {
          suite,
          recipe: IMAGE_RECIPE,
          sizeBytes,
          builtAt,
          buildMs: Math.round(performance.now() - buildStarted),
          mirror,
        };
        await writeFile(paths.record, `${JSON.stringify(record, null, 2)}\n`);
        log(`built ${paths.image} in ${(record.buildMs / 1000).toFixed(1)} s`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      const built = await done(false);
      if (built === undefined) throw new Error(`building ${paths.image} left no usable image`);
      return built;
    },
  );
}

/** The deploy environment tree (built with the bookworm base image). */
export async function ensureDeployTree(log?: (line: string) => void): Promise<DeployTree> {
  await ensureBaseImage({ suite: 'bookworm', ...(log ? { log } : {}) });
  const record = await readRecord(imagePaths('bookworm').record);
  return { path: deployPath(), builtAt: record?.builtAt ?? '' };
}
