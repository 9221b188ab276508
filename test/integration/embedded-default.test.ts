import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyManagedCluster, runningPort } from '../../src/postgres/managed/index.js';
import { freePort } from '../helpers/cluster.js';
import { runCli } from '../helpers/cli.js';

/**
 * The embedded default: with no database configured, the first command initialises and starts a
 * managed PostgreSQL in ~/.ayb/data, later commands reuse it, and `ayb stop` stops it.
 * HOME points at a temporary folder so the real ~/.ayb is never touched; ./ayb.toml (found in the
 * working directory) sets only the port, so a developer's own ayb on 15432 does not interfere.
 */
describe('managed PostgreSQL (no database configured)', () => {
  let home: string;
  let dataDir: string;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ayb-home-'));
    await chmod(home, 0o755);
    dataDir = path.join(home, '.ayb', 'data');
    port = await freePort();
    await writeFile(path.join(home, 'ayb.toml'), `[managed_pg]\nport = ${port}\n`);
    env = { HOME: home };
  });
  afterAll(async () => {
    await destroyManagedCluster({ dataDir }).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });

  it('initialises once when two first commands race, and both succeed', async () => {
    const [a, b] = await Promise.all([
      runCli(['branch', 'list'], { env, cwd: home }),
      runCli(['branch', 'list'], { env, cwd: home }),
    ]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const logs = a.stderr + b.stderr;
    expect(logs.match(/Initialising the managed PostgreSQL/g)).toHaveLength(1);
    expect(logs.match(/No branches yet/g)).toHaveLength(2);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(runningPort(dataDir)).toBe(port);
  });

  it('creates a branch, outlives the command, and is reused by the next one', async () => {
    const created = await runCli(['branch', 'create', 'demo'], { env, cwd: home });
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(/demo/);
    expect(created.stderr).not.toMatch(/Initialising|Starting/);
    // The command has exited; the server it uses is still up.
    expect(runningPort(dataDir)).toBe(port);
    const url = await runCli(['branch', 'url', 'demo'], { env, cwd: home });
    expect(url.stdout.trim()).toMatch(new RegExp(`^postgres://ayb:[^@]+@127\\.0\\.0\\.1:${port}/ayb_branch_demo$`));
    const main = await runCli(['branch', 'url', 'main'], { env, cwd: home });
    expect(main.stdout.trim()).toMatch(new RegExp(`:${port}/ayb$`));
  });

  it('ayb stop stops it, and says so when it is not running', async () => {
    const stopped = await runCli(['stop', '--json'], { env, cwd: home });
    expect(stopped.exitCode).toBe(0);
    expect(stopped.json()).toMatchObject({ managed_pg: { stopped: true } });
    expect(runningPort(dataDir)).toBeUndefined();
    const again = await runCli(['stop'], { env, cwd: home });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/not running/);
  });

  it('starts it again on the next command, with the branches still there', async () => {
    const list = await runCli(['branch', 'list', '--json'], { env, cwd: home });
    expect(list.exitCode).toBe(0);
    expect(list.stderr).toBe('');
    expect(list.json().map((b: { name: string }) => b.name)).toEqual(['demo']);
    const started = await runCli(['branch', 'list'], { env, cwd: home });
    expect(started.stderr).not.toMatch(/Starting/);
  });
});
