import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitUntil, whileRunning } from '../helpers/gate.js';

describe('waitUntil', () => {
  it('returns the first truthy value of the check', async () => {
    let calls = 0;
    await expect(waitUntil('the third check', async () => (++calls === 3 ? 'done' : undefined))).resolves.toBe('done');
  });

  it('gives up as soon as what it waits for can no longer happen, with the reason', async () => {
    let asked = 0;
    await expect(waitUntil('something', async () => false, { unless: () => (++asked === 3 ? 'its process is gone' : undefined) })).rejects.toThrow(
      'gave up waiting for something: its process is gone',
    );
    expect(asked).toBe(3);
  });

  it('gives up when the process that was to do it has exited', async () => {
    const child = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await expect(waitUntil('the child to do something', async () => false, { unless: whileRunning(child, 'the child') })).rejects.toThrow(
      'gave up waiting for the child to do something: the child exited (code 3)',
    );
  });

  // No clock of its own: a wait that never succeeds lasts as long as its test may, and fails just
  // before the test would, naming what it waited for (vitest's own timeout would name nothing).
  it('takes its limit from the test, not from a clock of its own', { timeout: 4_000 }, async () => {
    await expect(waitUntil('a condition that never holds', async () => false)).rejects.toThrow(
      "timed out waiting for a condition that never holds: the test's time is up",
    );
  });

  it('keeps a time limit given to it', async () => {
    await expect(waitUntil('a condition with 100 ms', async () => false, 100)).rejects.toThrow('timed out after 100 ms waiting for a condition with 100 ms');
  });
});
