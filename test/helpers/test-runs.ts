import { execFile } from 'node:child_process';
import { access, chmod, constants, mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * A test run's own temporary folder. The global setup (shared-clusters.ts) makes one per run and
 * points TMPDIR of the workers at it, so every cluster, home and copy a test makes lies under it.
 * The folder names its owner (the vitest process); a run killed with SIGKILL cannot clean up, so
 * the next run finds folders whose owner is gone, stops the postmasters left in them, unmounts
 * what was mounted there and removes them.
 */
export const RUN_PREFIX = 'ayb-test-run-';
const OWNER_FILE = 'owner.json';

interface Owner {
  readonly pid: number;
  /** Start time of the process (field 22 of /proc/<pid>/stat), so a reused pid is not taken for the owner. */
  readonly start: string | null;
}

/** Free space a memory file system must have to hold a run (the run's clusters peak near 1 GB). */
const MEMORY_RUN_BYTES = 4 * 1024 ** 3;

/**
 * Where a run's folder goes: AYB_TEST_TMP if set, else /dev/shm when it is a tmpfs with room, else
 * `tmp` (the OS temporary folder). On a disk file system, making and removing files is what the
 * tests' PostgreSQL spends much of its CPU on (a CREATE DATABASE copies some 300 files: 0.13 s of
 * system time on ext4, 0.02 s on tmpfs); every file a run makes is thrown away with it, and no test
 * crashes the machine under it, so memory is enough. Measured on merge-outsider3 alone (2 cores):
 * 56 s of CPU with its folder on ext4, 38 s on tmpfs (PostgreSQL 32 s -> 17 s).
 */
export async function runFolderParent(tmp: string): Promise<string> {
  const chosen = process.env.AYB_TEST_TMP;
  if (chosen) return chosen;
  const shm = '/dev/shm';
  try {
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    if (!mounts.split('\n').some((line) => line.split(' ')[1] === shm && line.split(' ')[2] === 'tmpfs')) return tmp;
    await access(shm, constants.W_OK);
    const fs = await statfs(shm);
    return fs.bavail * fs.bsize >= MEMORY_RUN_BYTES ? shm : tmp;
  } catch {
    return tmp;
  }
}

/** Makes a run folder in `parent`, owned by process `pid` (default: this one). */
export async function makeRunFolder(parent: string, pid = process.pid): Promise<string> {
  const dir = await mkdtemp(path.join(parent, RUN_PREFIX));
  // Like /tmp: the managed clusters run as another OS user, which makes folders here too.
  await chmod(dir, 0o1777);
  const owner: Owner = { pid, start: await startTime(pid) };
  await writeFile(path.join(dir, OWNER_FILE), JSON.stringify(owner));
  return dir;
}

/**
 * Removes the run folders in `parent` whose owner is gone; folders of live runs (and folders of
 * another shape) are left alone. Returns the folders removed.
 */
export async function cleanAbandonedRuns(parent: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(parent).catch(() => [])) {
    if (!entry.startsWith(RUN_PREFIX)) continue;
    const dir = path.join(parent, entry);
    const owner = await readOwner(dir);
    if (owner === undefined || (await isRunning(owner))) continue;
    const stopped = await removeRunFolder(dir);
    log(`removed ${dir}, left by test run ${owner.pid} (gone)${stopped.length ? `, after stopping postmaster ${stopped.join(', ')} there` : ''}`);
    removed.push(dir);
  }
  return removed;
}

/**
 * Stops every postmaster whose data directory lies in `dir` (immediate shutdown), unmounts the
 * file systems mounted under it and removes it. Returns the pids of the postmasters it stopped.
 */
export async function removeRunFolder(dir: string): Promise<number[]> {
  const stopped: number[] = [];
  for (const pidFile of await findPostmasterPids(dir)) {
    const pid = await livePostmaster(pidFile);
    if (pid === undefined) continue;
    await stopProcess(pid);
    stopped.push(pid);
  }
  await unmountUnder(dir);
  await rm(dir, { recursive: true, force: true });
  return stopped;
}

async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path.join(dir, OWNER_FILE), 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
  } catch {
    return undefined; // being made, or not ours: leave it
  }
}

async function isRunning(owner: Owner): Promise<boolean> {
  const state = await procState(owner.pid);
  if (state === undefined) return processExists(owner.pid);
  if (state === null || state.state === 'Z') return false;
  return owner.start === null || state.start === owner.start;
}

/** The state letter and start time of a process from /proc; null if there is no such process, undefined without /proc. */
async function procState(pid: number): Promise<{ state: string; start: string } | null | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    return (await readdir('/proc').catch(() => undefined)) === undefined ? undefined : null;
  }
  // pid (comm) state ppid … : comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, start: fields[19]! };
}

async function startTime(pid: number): Promise<string | null> {
  return (await procState(pid))?.start ?? null;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isGone(pid: number): Promise<boolean> {
  const state = await procState(pid);
  if (state === undefined) return !processExists(pid);
  // A stopped postmaster whose parent is gone stays a zombie until init reaps it.
  return state === null || state.state === 'Z';
}

async function findPostmasterPids(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isFile() && entry.name === 'postmaster.pid') found.push(path.join(folder, entry.name));
      else if (entry.isDirectory() && !entry.isSymbolicLink()) await walk(path.join(folder, entry.name));
    }
  };
  await walk(dir);
  return found;
}

/** The pid in a postmaster.pid if that process is a postgres server of that data directory. */
async function livePostmaster(pidFile: string): Promise<number | undefined> {
  const [pidLine, dataDir] = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || (await isGone(pid))) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  // Without /proc, trust the file; with it, make sure the pid was not reused by something else.
  if (cmdline !== undefined && !(cmdline.includes('postgres') && cmdline.includes(dataDir ?? path.dirname(pidFile)))) return undefined;
  return pid;
}

/**
 * SIGQUIT is PostgreSQL's immediate shutdown: the postmaster ends its children and exits. The wait
 * is bounded by the process itself: if it is still there after its shutdown has had ten seconds,
 * it gets SIGKILL, which cannot be ignored.
 */
async function stopProcess(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals): boolean => {
    try {
      process.kill(pid, name);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH'; // gone already; EPERM: not ours to stop
    }
  };
  if (!signal('SIGQUIT')) throw new Error(`cannot stop postmaster ${pid}: not allowed to signal it`);
  for (let waited = 0; !(await isGone(pid)); waited += 50) {
    if (waited === 10_000) signal('SIGKILL');
    await delay(50);
  }
}

const execFileAsync = promisify(execFile);

async function unmountUnder(dir: string): Promise<void> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const points = mounts
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point.startsWith(dir + path.sep))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    // A loop device set up by `mount -o loop` is released with the mount.
    await execFileAsync('umount', [point]).catch(() => execFileAsync('umount', ['-l', point]).catch(() => undefined));
  }
}
