/** The machine under the bench (run.ts): its disk settling, and memory the host took back. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export async function blockDeviceOf(dir: string): Promise<string | undefined> {
  const found = await execa('findmnt', ['-n', '-o', 'SOURCE', '-T', dir], { reject: false });
  const source = String(found.stdout ?? '').trim();
  return source.startsWith('/dev/') ? path.basename(source) : undefined;
}

async function ioTicks(device: string): Promise<number | undefined> {
  const stats = await readFile('/proc/diskstats', 'utf8').catch(() => '');
  for (const line of stats.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[2] === device) return Number(fields[12]); // milliseconds spent doing I/O
  }
  return undefined;
}

/**
 * Waits (at most 30 s) until the data's disk has been under 10% busy for a second. Dropping a
 * gigabyte-sized copy on a filesystem mounted with `discard` keeps the disk busy for seconds after
 * the DROP returns, and whichever contender ran next would pay for it.
 */
export async function waitForIdleDisk(device: string | undefined): Promise<void> {
  if (!device) return;
  const deadline = Date.now() + 30_000;
  let quiet = 0;
  let last = await ioTicks(device);
  while (last !== undefined && quiet < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await ioTicks(device);
    if (now === undefined) return;
    quiet = now - last < 50 ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * Whether this machine is a VM whose balloon driver reports free memory to the host (virtio
 * feature VIRTIO_BALLOON_F_REPORTING, bit 5): the host then takes those pages back, and the guest's
 * next use of each one costs a fault on the host.
 */
export async function freePageReporting(): Promise<boolean> {
  const root = '/sys/bus/virtio/drivers/virtio_balloon';
  const devices = await readdir(root).catch(() => [] as string[]);
  for (const device of devices.filter((d) => d.startsWith('virtio'))) {
    const features = await readFile(path.join(root, device, 'features'), 'utf8').catch(() => '');
    if (features[5] === '1') return true;
  }
  return false;
}

/**
 * Touches `bytes` of memory in a child process that then exits, right before a timed run.
 *
 * On a VM with free page reporting (this one: see freePageReporting), memory the guest freed a
 * couple of seconds ago has been handed back to the host, and the first write to each such page
 * costs a host page fault: here about 1.5 s per GB, measured with CREATE DATABASE … FILE_COPY of
 * the 1 GB dataset (0.6 s right after touching memory, 1.4 to 2.5 s after five idle seconds).
 * Every contender writes a gigabyte or more of new page cache, so without this the figures mostly
 * measure how long ago the previous run freed its memory. The child's pages go back to the guest's
 * free lists when it exits, and the run that follows reuses them before the host reclaims them
 * again. Done the same way before every run of every contender, untimed; `--no-warm-memory` skips it.
 */
export async function warmMemory(bytes: number): Promise<void> {
  const mb = Math.max(1, Math.floor(bytes / 2 ** 20));
  const script = `const chunks = []; for (let left = ${mb}; left > 0; left -= 256) chunks.push(Buffer.allocUnsafeSlow(Math.min(left, 256) * 1048576).fill(1));`;
  await execa('node', ['-e', script], { stdin: 'ignore' });
}
