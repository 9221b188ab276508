import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, logIn, skipWithoutChromium } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const PASSWORD = 'dashboard history test password';

/**
 * A point-in-time branch made from the dashboard, on a managed PostgreSQL (this private cluster,
 * named by the config) with [history] enabled: the row names its source `main@<time>`.
 */
describe.skipIf(skipWithoutChromium())('admin dashboard: main at a past moment (headless Chromium)', () => {
  let cluster: TestCluster;
  let work: string;
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-dashboard-history-'));
    await chmod(work, 0o755);
    await writeFile(path.join(work, 'ayb.toml'), `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\n`);
    const history = await runCli(['history'], { cwd: work, timeout: 120_000 });
    expect(history.exitCode, history.stderr).toBe(0);
    server = await startServer([], { cwd: work, env: { AYB_ADMIN_PASSWORD: PASSWORD } });
    browser = await launchBrowser(server.origin);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    if (server) expect((await server.stop()).exitCode).toBe(0);
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('creates a branch of main as it was at a moment; its row shows main@<time> and offers no data changes', async () => {
    const { page } = browser;
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await cluster.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)');
    const moment = (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
    await cluster.query('DELETE FROM t WHERE id <= 4');

    await logIn(page, server.origin, PASSWORD);
    await page.locator('#branch-from').selectOption({ label: 'main at a past moment …' });
    await page.getByLabel('Moment').fill(moment);
    await page.getByLabel('Name', { exact: true }).fill('before-delete');
    await page.getByRole('button', { name: 'Create branch' }).click();
    const row = page.locator('tr[data-branch="before-delete"]');
    await row.locator('.badge-ready').waitFor({ timeout: 120_000 });
    // At the top of the tree, what it was made from is said beside its name.
    expect(await row.locator('td.name .tag').allTextContents()).toContain(`from main@${moment}`);
    const rows = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], 'ayb_branch_before_delete');
    expect(rows.rows[0]!.n).toBe(10);
    // No parent here to compare rows with: the button says why instead of failing.
    const data = page.getByRole('button', { name: 'Data changes of branch before-delete' });
    expect(await data.isDisabled()).toBe(true);
    expect(await data.getAttribute('title')).toContain(`main@${moment}`);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
