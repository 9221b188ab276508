import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ExternalError } from '../core/errors.js';

/**
 * A cross-process lock made of a directory (mkdir is atomic). The holder writes its pid and host;
 * a lock whose holder no longer runs on this host is taken over, so a killed process never
 * blocks the next one for good.
 */
export async function withFileLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const ownerFile = path.join(lockDir, 'owner');
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname() }));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await holderIsGone(ownerFile)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ExternalError('lock_timeout', `timed out waiting for the lock ${lockDir}`, {
          hint: 'another ayb process is setting up the managed PostgreSQL; if none runs, remove that folder',
        });
      }
      await delay(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function holderIsGone(ownerFile: string): Promise<boolean> {
  let owner: { pid: number; host: string };
  try {
    owner = JSON.parse(await readFile(ownerFile, 'utf8')) as { pid: number; host: string };
  } catch {
    // The holder made the directory but has not written its name yet; give it a moment.
    return false;
  }
  if (owner.host !== os.hostname()) return false;
  return !processRuns(owner.pid);
}

/** Whether a process of this host still runs (one of another user counts: EPERM). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
