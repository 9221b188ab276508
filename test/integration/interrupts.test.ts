import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import {
  advisoryLocksHeld,
  branchDatabases,
  childProcesses,
  fillSlowSource,
  processInfo,
  setRestoreSpeed,
  toolSessions,
  waitUntil,
  waitForRestoreOf,
} from '../helpers/clone-probes.js';

/**
 * SIGINT, SIGTERM and SIGKILL in the middle of a dump clone. The main database restores slowly on
 * purpose, and every signal is sent only once psql is seen copying rows. For the interrupts the
 * restore would take 400 s, far past the test's timeout, so ayb exiting at all shows that it
 * stopped the restore rather than waited for it; no stopwatch, which a loaded machine could fool.
 */
const INTERRUPT_MS_PER_ROW = 1000;
describe('interrupting branch create', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await fillSlowSource(cluster, 'app', { rows: 400, msPerRow: INTERRUPT_MS_PER_ROW });
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function row(name: string): Promise<{ status: string; error_message: string | null } | undefined> {
    const { rows } = await cluster.query('SELECT status, error_message FROM _ayb_branches WHERE name = $1', [name], 'app');
    return rows[0] as { status: string; error_message: string | null } | undefined;
  }

  /** Starts a dump clone and returns once psql is copying rows, with the pids of ayb's children. */
  async function startSlowCreate(name: string, options: { detached?: boolean } = {}) {
    const child = spawnCli(['branch', 'create', name, '--strategy', 'dump'], { env, detached: options.detached });
    await waitForRestoreOf(cluster, 'a_slow');
    const tools = childProcesses(child.pid!);
    expect(tools.map((t) => t.command).join('\n')).toMatch(/pg_dump/);
    expect(tools.map((t) => t.command).join('\n')).toMatch(/psql/);
    return { child, tools };
  }

  async function expectNothingLeft(name: string, toolPids: readonly number[]): Promise<void> {
    expect(toolPids.filter((pid) => processInfo(pid) !== undefined)).toEqual([]);
    // The server notices the closed connections within moments; nothing of the clone may linger.
    await waitUntil('the pg_dump and psql sessions to end', async () => (await toolSessions(cluster)).length === 0, 10_000);
    expect(await branchDatabases(cluster)).toEqual([]);
    const after = await row(name);
    expect(after?.status).toBe('failed');
  }

  it.each([
    { signal: 'SIGINT', target: 'the process group (Ctrl-C)', exitCode: 130 },
    { signal: 'SIGINT', target: 'ayb alone', exitCode: 130 },
    { signal: 'SIGTERM', target: 'ayb alone', exitCode: 143 },
  ] as const)('$signal to $target mid-clone: exits $exitCode quickly, stops pg_dump and psql, leaves nothing', async ({ signal, target, exitCode }) => {
    const name = `${signal.toLowerCase()}-${target.startsWith('ayb') ? 'solo' : 'group'}`;
    const { child, tools } = await startSlowCreate(name, { detached: target !== 'ayb alone' });
    process.kill(target === 'ayb alone' ? child.pid! : -child.pid!, signal);
    const result = await child;

    expect(result.exitCode).toBe(exitCode);
    expect(String(result.stderr)).toMatch(new RegExp(`Interrupted \\(${signal}\\)`));
    expect(String(result.stderr)).toMatch(new RegExp(`^Error: interrupted by ${signal}\nHint: run the command again`, 'm'));
    expect(String(result.stdout)).toBe('');
    await expectNothingLeft(name, tools.map((t) => t.pid));
    expect((await row(name))?.error_message).toMatch(new RegExp(`interrupted by ${signal}`));
  });

  it('SIGINT with --json: one JSON error document, exit 130', async () => {
    const child = spawnCli(['branch', 'create', 'json-int', '--strategy', 'dump', '--json'], { env });
    await waitForRestoreOf(cluster, 'a_slow');
    const tools = childProcesses(child.pid!).map((t) => t.pid);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(JSON.parse(String(result.stdout))).toEqual({
      error: expect.objectContaining({ code: 'interrupted', exit_code: 130, hint: expect.stringMatching(/run the command again/) }),
    });
    await expectNothingLeft('json-int', tools);
  });

  it('a create of a name whose row failed after an interrupt replaces that row', async () => {
    expect((await row('sigint-solo'))?.status).toBe('failed');
    await setRestoreSpeed(cluster, 1);
    const again = await runCli(['branch', 'create', 'sigint-solo', '--strategy', 'dump', '--json'], { env });
    expect(again.exitCode).toBe(0);
    expect(again.json()).toMatchObject({ name: 'sigint-solo', status: 'ready', strategy: 'dump' });
    expect(again.json()).not.toHaveProperty('error_message');
    const { rows } = await cluster.query("SELECT status FROM _ayb_branches WHERE name = 'sigint-solo'", [], 'app');
    expect(rows).toEqual([{ status: 'ready' }]);
    const { rows: copied } = await cluster.query('SELECT count(*)::int AS n FROM a_slow', [], 'ayb_branch_sigint_solo');
    expect(copied[0].n).toBe(400);
    expect((await runCli(['branch', 'delete', 'sigint-solo', '--yes'], { env })).exitCode).toBe(0);
    await setRestoreSpeed(cluster, INTERRUPT_MS_PER_ROW);
  });

  it('SIGKILL leaves a "creating" row and its partial database, which the next command removes, saying so', async () => {
    // The restore would take another ~5 s; psql's server session finishes the rows it already
    // has after psql is gone, so keep it at that.
    await setRestoreSpeed(cluster, 12);
    const { child, tools } = await startSlowCreate('killed');
    child.kill('SIGKILL');
    const result = await child;
    expect(result.signal).toBe('SIGKILL');

    // ayb had no chance to stop them, yet pg_dump and psql must not run on to the end of the clone.
    await waitUntil('pg_dump and psql to end after ayb was killed', async () =>
      tools.every((t) => processInfo(t.pid) === undefined), 30_000);
    await waitUntil('their sessions to end', async () => (await toolSessions(cluster)).length === 0, 20_000);
    // Run on to the end, they would have copied z_bulk, dumped after a_slow; cut off, they never began it.
    const { rows: bulk } = await cluster.query('SELECT count(*)::int AS n FROM z_bulk', [], 'ayb_branch_killed');
    expect(bulk).toEqual([{ n: 0 }]);
    // The server ends the killed process's own session too, and with it the branch lock.
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0, 10_000);

    // Left as it was until then: the row says creating, and the partial database is there.
    expect((await row('killed'))?.status).toBe('creating');
    expect(await branchDatabases(cluster)).toEqual(['ayb_branch_killed']);

    // The next command (whatever it is: here a list, with --json) finishes the job and says so on stderr.
    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.exitCode).toBe(0);
    expect(list.stderr).toMatch(/^Removed the partial database "ayb_branch_killed" of branch "killed", whose create was interrupted; it is marked failed/m);
    expect(list.json().find((b: { name: string }) => b.name === 'killed')).toMatchObject({
      status: 'failed',
      error_message: expect.stringMatching(/^its create was interrupted: the ayb process \(pid \d+ on .+\) that began it at \S+ stopped, or lost the server, before finishing/),
    });
    expect(await branchDatabases(cluster)).toEqual([]);

    // A failed branch is refused by a plain delete, and removed with --force.
    const refused = await runCli(['branch', 'delete', 'killed', '--yes', '--json'], { env });
    expect(refused.exitCode).toBe(4);
    expect(refused.json().error.hint).toMatch(/--force/);
    const forced = await runCli(['branch', 'delete', 'killed', '--yes', '--force', '--json'], { env });
    expect(forced.exitCode).toBe(0);
    expect(forced.json()).toMatchObject({ name: 'killed', deleted: true });
    expect(await row('killed')).toBeUndefined();
  });
});
