import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * `ayb history` shows only moments it can restore. `[history] dir` changed and changed back leaves
 * a gap in the folder's WAL (it went to the other folder meanwhile): every range shown by
 * `ayb history --json` is restorable at both its edges, and a moment in the gap is refused at once
 * with a clear error. The judge: the rows of a table written with the server's clock, each branch
 * holding exactly the rows written up to its moment (a SQL query on main), never ayb's view.
 */
describe('history gaps after a [history] dir change', () => {
  let cluster: TestCluster;
  let work: string;
  const cli = (...args: string[]) => runCli(args, { cwd: work, timeout: 300_000 });
  const toml = (dir: string) => writeFile(
    path.join(work, 'ayb.toml'),
    `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "${dir}"\n`,
  );
  const write = (n: number) => cluster.query('INSERT INTO marks VALUES ($1, clock_timestamp())', [n]);
  /** The rows main had at `moment`, by the server's clock: the independent judge. */
  const expectedAt = async (moment: string) =>
    (await cluster.query<{ id: number }>('SELECT id FROM marks WHERE written_at <= $1::timestamptz ORDER BY id', [moment])).rows.map((r) => r.id);
  const ids = async (database: string) => (await cluster.query<{ id: number }>('SELECT id FROM marks ORDER BY id', [], database)).rows.map((r) => r.id);
  let shown: { ranges: { from: string; to: string }[]; gaps: { from: string; to: string; why: string }[] };

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-history-gaps-'));
    await chmod(work, 0o755);
    await cluster.query('CREATE TABLE marks (id int PRIMARY KEY, written_at timestamptz NOT NULL)');
    await toml('history');
    const first = await cli('history');
    expect(first.exitCode, first.stderr).toBe(0);
    await write(1);
    await toml('elsewhere');
    const moved = await cli('history');
    expect(moved.exitCode, moved.stderr).toBe(0);
    // Written while the WAL goes to the other folder: in neither range of "history".
    await write(2);
    await toml('history');
    const back = await cli('history');
    expect(back.exitCode, back.stderr).toBe(0);
    await write(3);
    const json = await cli('history', '--json');
    expect(json.exitCode, json.stderr).toBe(0);
    shown = json.json();
  }, 600_000);
  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows two ranges with the gap between them, and why', () => {
    expect(shown.ranges).toHaveLength(2);
    expect(shown.gaps).toHaveLength(1);
    expect(shown.gaps[0]).toMatchObject({ from: shown.ranges[0]!.to, to: shown.ranges[1]!.from });
    expect(shown.gaps[0]!.why).toMatch(/\[history\] dir changed/);
  });

  it('every shown range is restorable at both its edges, each branch holding exactly the rows of its moment', async () => {
    let n = 0;
    for (const range of shown.ranges) {
      for (const moment of [range.from, range.to]) {
        const name = `edge-${++n}`;
        const made = await cli('branch', 'create', name, '--from', `main@${moment}`);
        expect(made.exitCode, `${moment}: ${made.stderr}`).toBe(0);
        expect(await ids(`ayb_branch_edge_${n}`)).toEqual(await expectedAt(moment));
      }
    }
    // Row 1 is inside the first range, row 3 inside the second: the edges are not all empty.
    expect(await ids('ayb_branch_edge_2')).toEqual([1]);
    expect(await ids('ayb_branch_edge_4')).toEqual([1, 2, 3]);
  }, 600_000);

  it('a moment in the gap is refused at once (exit 3) with the ranges, not a failed replay; nothing recorded', async () => {
    // The moment row 2 was written, by the server's clock: its WAL went to the other folder.
    const middle = (await cluster.query<{ t: string }>(
      `SELECT to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t FROM marks WHERE id = 2`,
    )).rows[0]!.t;
    const refused = await cli('branch', 'create', 'in-gap', '--from', `main@${middle}`, '--json');
    expect(refused.exitCode, refused.stderr).toBe(3);
    const error = JSON.parse(refused.stdout).error;
    expect(error.code).toBe('outside_history_window');
    expect(error.message).toMatch(/falls in a gap of the history .*\[history\] dir changed/);
    expect(error.hint).toContain(shown.ranges[0]!.to);
    // And ayb history showed it as a gap, not as restorable.
    expect(Date.parse(middle)).toBeGreaterThan(Date.parse(shown.gaps[0]!.from));
    expect(Date.parse(middle)).toBeLessThan(Date.parse(shown.gaps[0]!.to));
    expect(refused.stderr).not.toMatch(/Restoring base backup|recovery ended/);
    expect((await cli('branch', 'show', 'in-gap')).exitCode).toBe(3);
  }, 300_000);
});
