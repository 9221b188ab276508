import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/gate.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * An outsider's attacks on copies in the making: a role other than ayb must reach neither a copy
 * nor what it is copied from while ayb makes it. The judges are the server's own answers (a login
 * tried, the rows of the branch compared with main's as they were), never ayb's view.
 */
const PASSWORD = 'Mall0ry-pw';

describe('copies attacked while they are made', () => {
  let cluster: TestCluster;
  let work: string;
  const cli = (...args: string[]) => runCli(args, { cwd: work, timeout: 300_000 });
  const now = async () =>
    (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-copy-attack-'));
    await chmod(work, 0o755);
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\n`,
    );
    const first = await cli('history');
    expect(first.exitCode, first.stderr).toBe(0);
    await cluster.query(`CREATE ROLE att_mallory LOGIN PASSWORD '${PASSWORD}'`, [], 'postgres');
    await cluster.query(
      `CREATE TABLE items (id int PRIMARY KEY, note text);
       INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 3) g;
       GRANT SELECT, INSERT ON items TO att_mallory`,
    );
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the temporary cluster of a point-in-time create lets no role but ayb in, so the branch is main at that moment and nothing else', async () => {
    const moment = await now();
    // After the moment: a row the branch must not have, and a role that may no longer log in.
    await cluster.query("INSERT INTO items VALUES (4, 'after the moment')");
    await cluster.query('ALTER ROLE att_mallory NOLOGIN', [], 'postgres');
    const create = spawnCli(['branch', 'create', 'past', '--from', `main@${moment}`, '--json'], { cwd: work, timeout: 300_000 });
    let finished = false;
    void create.finally(() => { finished = true; });
    const history = path.join(work, 'history');
    // The temporary cluster's port, from its postmaster.pid (line 4), once it has started.
    const port = await waitUntil('the temporary cluster to start', async () => {
      if (finished) return -1;
      for (const entry of await readdir(history).catch(() => [] as string[])) {
        if (!entry.startsWith('restore-')) continue;
        const pid = await readFile(path.join(history, entry, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
        const port = Number(pid.split('\n')[3]);
        if (port > 0) return port;
      }
      return undefined;
    }, 120_000);
    expect(port, 'the create ended before its temporary cluster was seen').toBeGreaterThan(0);
    // Mallory, who could log in at that moment, tries as long as the create runs.
    let admitted = false;
    let wrote = false;
    const refusals = new Set<string>();
    while (!finished) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'att_mallory', password: PASSWORD, database: 'ayb' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        admitted = true;
        // Once promoted, the session may write: a row the branch would carry.
        while (!finished && !wrote) {
          const recovering = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
          if (!recovering) {
            await client.query("INSERT INTO items VALUES (666, 'written by mallory')");
            wrote = true;
          }
        }
      } catch (error) {
        refusals.add((error as Error).message);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (admitted) break;
    }
    const made = await create;
    expect(made.exitCode, String(made.stderr)).toBe(0);
    const ids = await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id', [], 'ayb_branch_past');
    expect(ids.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(admitted, `a role other than ayb logged in to the temporary cluster${wrote ? ' and wrote a row' : ''}`).toBe(false);
    // The server was up and said no (not merely a port nobody listened on).
    expect([...refusals].join('\n')).toMatch(/no pg_hba\.conf entry/);
  }, 300_000);
});
