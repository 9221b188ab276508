import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCluster } from '../helpers/cluster.js';
import { type HistoryScenario, startHistoryScenario } from '../helpers/history-scenario.js';

/**
 * The gaps of the history, on one private cluster shared by the three parts below (in this order:
 * each leaves the history as the next one expects it). The scenario: history begun in "history"
 * (row 1 written), `[history] dir` changed to "elsewhere" (row 2 written: its WAL is in neither
 * range of "history"), and changed back (row 3 written).
 */
let scenario: HistoryScenario;
let cluster: TestCluster;
let work: string;
const cli = (...args: string[]) => scenario.cli(...args);
const toml = (dir: string) => scenario.toml(dir);

beforeAll(async () => {
  scenario = await startHistoryScenario({ name: 'history-gaps', dirs: ['history', 'elsewhere', 'history'], marks: true });
  ({ cluster, work } = scenario);
}, 600_000);
afterAll(async () => {
  await scenario?.stop();
});

/**
 * `ayb history` shows only moments it can restore. `[history] dir` changed and changed back leaves
 * a gap in the folder's WAL (it went to the other folder meanwhile): every range shown by
 * `ayb history --json` is restorable at both its edges, and a moment in the gap is refused at once
 * with a clear error. The judge: the rows of a table written with the server's clock, each branch
 * holding exactly the rows written up to its moment (a SQL query on main), never ayb's view.
 */
describe('history gaps after a [history] dir change', () => {
  /** The rows main had at `moment`, by the server's clock: the independent judge. */
  const expectedAt = async (moment: string) =>
    (await cluster.query<{ id: number }>('SELECT id FROM marks WHERE written_at <= $1::timestamptz ORDER BY id', [moment])).rows.map((r) => r.id);
  const ids = async (database: string) => (await cluster.query<{ id: number }>('SELECT id FROM marks ORDER BY id', [], database)).rows.map((r) => r.id);
  let shown: { ranges: { from: string; to: string }[]; gaps: { from: string; to: string; why: string }[] };

  beforeAll(async () => {
    const json = await cli('history', '--json');
    expect(json.exitCode, json.stderr).toBe(0);
    shown = json.json();
  }, 300_000);

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

/**
 * An outsider's attack on the gaps of the history: `<dir>/breaks.json` is a plain file a user (or a
 * disk) can damage. Whatever is in it, `ayb history` must not crash and must never show as
 * restorable a moment whose WAL went to another folder. The judge: the moment a row was written,
 * by the server's clock, while `[history] dir` pointed elsewhere (never ayb's own view), and the
 * file's contents read directly.
 */
describe('history outsider: a damaged breaks.json', () => {
  const writtenAt = async (n: number) => Date.parse(await scenario.writtenAt(n));
  const breaksFile = () => path.join(work, 'history', 'breaks.json');
  let original: string;
  type Shown = { ranges: { from: string; to: string }[]; gaps: { from: string; to: string; why: string }[] };
  const shownRestorable = (shown: Shown, moment: number) =>
    shown.ranges.some((r) => Date.parse(r.from) <= moment && moment <= Date.parse(r.to));

  beforeAll(async () => {
    original = await readFile(breaksFile(), 'utf8');
  });

  it('intact: the moment of row 2 is in a gap (the baseline the other cases are judged against)', async () => {
    const json = await cli('history', '--json');
    expect(json.exitCode, json.stderr).toBe(0);
    expect(shownRestorable(json.json(), await writtenAt(2))).toBe(false);
    expect(shownRestorable(json.json(), await writtenAt(1))).toBe(true);
    expect(shownRestorable(json.json(), await writtenAt(3))).toBe(true);
  }, 300_000);

  it('a moment 999 µs after a range ends (the same millisecond) is in the gap: refused at once (exit 3)', async () => {
    const json = await cli('history', '--json');
    expect(json.exitCode, json.stderr).toBe(0);
    const gap = (json.json() as Shown).gaps[0]!;
    expect(gap.from).toMatch(/\.\d{3}Z$/);
    const moment = gap.from.replace(/(\.\d{3})Z$/, '$1999Z');
    const refused = await cli('branch', 'create', 'edge-us', '--from', `main@${moment}`, '--json');
    expect(refused.exitCode, refused.stderr).toBe(3);
    expect(JSON.parse(refused.stdout).error.code).toBe('outside_history_window');
  }, 300_000);

  it('the same moment written in +05:30 and -0330 restores exactly the rows committed before it (row 3 itself commits after its written_at)', async () => {
    let n = 0;
    for (const zone of ['+05:30', '-03:30']) {
      const { t, expected } = (await cluster.query<{ t: string; expected: number[] }>(
        `SELECT to_char(written_at AT TIME ZONE $1::interval, 'YYYY-MM-DD"T"HH24:MI:SS.US') || $2 AS t,
                (SELECT array_agg(id ORDER BY id) FROM marks m WHERE m.written_at < w.written_at) AS expected
           FROM marks w WHERE id = 3`, [zone, zone === '-03:30' ? '-0330' : zone],
      )).rows[0]!;
      expect(expected).toEqual([1, 2]);
      const name = `zone-${++n}`;
      const made = await cli('branch', 'create', name, '--from', `main@${t}`);
      expect(made.exitCode, `${t}: ${made.stderr}`).toBe(0);
      const ids = (await cluster.query<{ id: number }>('SELECT id FROM marks ORDER BY id', [], `ayb_branch_zone_${n}`)).rows.map((r) => r.id);
      expect(ids).toEqual(expected);
    }
  }, 300_000);

  for (const [label, damage] of [
    ['truncated', (s: string) => s.slice(0, Math.floor(s.length / 2))],
    ['not a list', () => '{"at": "2026-01-01T00:00:00Z"}\n'],
    ['an entry with a date that is no date', (s: string) => JSON.stringify([{ at: 'yesterday', why: 'hand-edited' }, ...JSON.parse(s)])],
  ] as const) {
    it(`${label}: no crash, the moment of row 2 not shown as restorable, and a moment in it refused`, async () => {
      await writeFile(breaksFile(), damage(original));
      try {
        const json = await cli('history', '--json');
        expect(json.exitCode, json.stderr).toBe(0);
        expect(shownRestorable(json.json(), await writtenAt(2))).toBe(false);
        // And it says why older moments are no longer shown.
        expect(JSON.stringify(json.json().warnings)).toMatch(/breaks\.json/);
        const middle = new Date(await writtenAt(2)).toISOString();
        const refused = await cli('branch', 'create', `gap-${label.length}`, '--from', `main@${middle}`, '--json');
        expect(refused.exitCode, refused.stderr).toBe(3);
        // A moment after the fresh base backup of the switch back is still restorable.
        expect(shownRestorable(json.json(), await writtenAt(3))).toBe(true);
      } finally {
        await writeFile(breaksFile(), original);
      }
    }, 300_000);
  }

  it('a hand-edited entry does not stop the next dir change from being written down', async () => {
    await writeFile(breaksFile(), JSON.stringify([{ at: 'yesterday', why: 'hand-edited' }, ...JSON.parse(original)]));
    const before = Date.now();
    await toml('elsewhere');
    const moved = await cli('history');
    expect(moved.exitCode, moved.stderr).toBe(0);
    // The judge: the file itself holds a break at the move.
    const written = JSON.parse(await readFile(breaksFile(), 'utf8')) as { at: string }[];
    expect(written.some((b) => Date.parse(b.at) >= before - 1000)).toBe(true);
    await toml('history');
    expect((await cli('history')).exitCode).toBe(0);
  }, 300_000);
});

/**
 * A dir changed back (A → B → A) must start a fresh base backup in A, or nothing after the switch is
 * restorable. When that backup fails at the switch (here: replication connections refused by
 * pg_hba.conf), the next command must try again, not wait for base_backup_every (1 day by default).
 * The judge: the folders of A/base listed directly, and the rows of a branch at a moment after the
 * switch counted on main by the server's clock.
 *
 * Set-up on the shared scenario: the entry the part above edited by hand taken out of breaks.json,
 * `marks` emptied, and the dir changed to "elsewhere" (the history having begun in "history").
 */
describe('history outsider: the fresh base backup of a dir changed back fails once', () => {
  const hba = () => path.join(cluster.dataDir, 'pg_hba.conf');
  let hbaBefore: string;

  beforeAll(async () => {
    const breaks = path.join(work, 'history', 'breaks.json');
    const entries = JSON.parse(await readFile(breaks, 'utf8')) as { at: string }[];
    await writeFile(breaks, JSON.stringify(entries.filter((b) => !Number.isNaN(Date.parse(b.at)))));
    await cluster.query('TRUNCATE marks');
    await toml('elsewhere');
    expect((await cli('history')).exitCode).toBe(0);
    hbaBefore = await readFile(hba(), 'utf8');
  }, 600_000);

  it('the next command takes the base backup that failed at the switch back', async () => {
    await writeFile(hba(), `local replication all reject\nhost replication all all reject\n${hbaBefore}`);
    await cluster.query('SELECT pg_reload_conf()');
    const switchedAt = Date.now();
    await toml('history');
    const back = await cli('history');
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/could not be taken/);
    await writeFile(hba(), hbaBefore);
    await cluster.query('SELECT pg_reload_conf()');
    const after = await cli('history');
    expect(after.exitCode, after.stderr).toBe(0);
    const folders = (await readdir(path.join(work, 'history', 'base'))).filter((f) => !f.startsWith('.'));
    const finished = folders.map((f) => Date.parse(f.replace(/T(\d\d)-(\d\d)-(\d\d)/, 'T$1:$2:$3')));
    expect(finished.some((t) => t > switchedAt)).toBe(true);
    // And a moment after it is restorable, holding exactly main's rows of that moment.
    await cluster.query('INSERT INTO marks VALUES (1, clock_timestamp())');
    const moment = (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
    await cluster.query('INSERT INTO marks VALUES (2, clock_timestamp())');
    const made = await cli('branch', 'create', 'after-switch', '--from', `main@${moment}`);
    expect(made.exitCode, made.stderr).toBe(0);
    const ids = (await cluster.query<{ id: number }>('SELECT id FROM marks ORDER BY id', [], 'ayb_branch_after_switch')).rows.map((r) => r.id);
    expect(ids).toEqual([1]);
  }, 600_000);
});
