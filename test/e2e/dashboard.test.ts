import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, skipWithoutChromium } from '../helpers/browser.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdGate } from '../helpers/gate.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const PASSWORD = 'dashboard test password';
const MASKING = '[[masking.rules]]\ntable = "people"\ncolumn = "email"\nfunction = "email"\n';
/** Where the desktop and phone screenshots go, to look at (they are not compared). */
const SCREENSHOTS = process.env.AYB_SCREENSHOT_DIR ?? path.join(os.tmpdir(), 'ayb-dashboard-screenshots');

/** The database a connection URL leads to, asked of the server itself. */
async function databaseAt(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  } finally {
    await client.end();
  }
}

/** The admin dashboard in headless Chromium (test/helpers/browser.ts). */
describe.skipIf(skipWithoutChromium())('admin dashboard (headless Chromium)', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let work: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(`CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 42);
      CREATE TABLE people (id int PRIMARY KEY, email text); INSERT INTO people VALUES (1, 'ann@real.example'), (2, 'bob@real.example')`, [], 'app');
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-dashboard-'));
    await writeFile(path.join(work, 'ayb.toml'), MASKING);
    server = await startServer(['--config', path.join(work, 'ayb.toml')], {
      env: { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD, AYB_MASKING_SECRET: 'dashboard-masking-secret-0123' },
    });
    browser = await launchBrowser(server.origin);
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    if (work) await rm(work, { recursive: true, force: true });
    if (server) expect((await server.stop()).exitCode).toBe(0);
    await cluster?.stop();
  });

  it('logs in; creates, copies, diffs, expires, resets and deletes branches; snapshots; desktop and phone', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // The data changes read every table of both sides: asked for only when the user says so.
    const dataDiffRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/data-diff')) dataDiffRequests.push(request.url());
    });
    await page.goto(`${server.origin}/admin`);

    // A wrong password is shown, not swallowed.
    await page.getByLabel('Admin password').fill('not it');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong admin password' }).waitFor();

    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Branches' }).waitFor();
    expect(await page.locator('#served').textContent()).toBe('Serving app (main)');
    await page.getByText('No branches yet.').waitFor();
    // The glance at the served database.
    const items = page.locator('#tables tr', { hasText: 'public.items' });
    await items.waitFor();
    expect(await items.locator('td').nth(1).textContent()).toBe('42');

    // An invalid name: the server's message reaches the user, with a valid name to use instead.
    await page.getByLabel('Name', { exact: true }).fill('Bad Name');
    await page.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('alert').filter({ hasText: 'uppercase' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('e.g. bad-name');
    expect(await page.getByRole('status').textContent()).toBe('');

    // Create while pg_dump is held at a lock: the row shows "creating", then turns "ready" by itself.
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      await page.getByLabel('Name', { exact: true }).fill('e2e-feature');
      await page.getByRole('button', { name: 'Create branch' }).click();
      await page.locator('tr[data-branch="e2e-feature"] .badge-creating').waitFor();
    } finally {
      await gate.release();
    }
    const row = page.locator('tr[data-branch="e2e-feature"]');
    await row.locator('.badge-ready').waitFor();
    await page.getByRole('status').filter({ hasText: 'Created branch "e2e-feature"' }).waitFor();
    const cells = (r: typeof row) => r.locator('td');
    expect(await cells(row).nth(2).textContent()).toBe('main');
    expect(await cells(row).nth(3).textContent()).toMatch(/^\d+(\.\d)? (kB|MB)$/);
    // ISO order and a 24-hour clock, never "12/2/2026, 1:55:31 AM".
    expect(await cells(row).nth(4).textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    await expect.poll(() => cells(row).nth(5).textContent()).toBe('never');
    expect(await cells(row).nth(6).locator('code').textContent()).toMatch(/^postgres:\/\/.*\*{8}@.*\/ayb_branch_e2e_feature$/);
    // The new branch is offered as a source.
    expect(await page.locator('#branch-from option').allTextContents()).toEqual(['main', 'main at a past moment …', 'e2e-feature']);

    // Copy: the clipboard holds the full URL, and it leads to the branch's database.
    await page.getByRole('button', { name: 'Copy connection URL of e2e-feature' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied the connection URL of "e2e-feature"' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).not.toContain('********');
    expect(await databaseAt(copied)).toBe('ayb_branch_e2e_feature');

    // Diff: a table made on the branch shows with its columns, and as a migration.
    await cluster.query('CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL)', [], 'ayb_branch_e2e_feature');
    await page.getByRole('button', { name: 'Diff branch e2e-feature' }).click();
    const diffText = page.locator('#diff-text');
    await diffText.filter({ hasText: 'table public.orders' }).waitFor();
    expect(await diffText.textContent()).toMatch(/\+ {5}column note +text, not null/);
    await page.getByRole('button', { name: 'Migration SQL' }).click();
    expect(await diffText.textContent()).toContain('CREATE TABLE "public"."orders"');

    // Data changes against the parent, per table, only on request.
    await cluster.query('DELETE FROM items WHERE id <= 2; UPDATE items SET id = 100 WHERE id = 42; UPDATE people SET email = NULL WHERE id = 1', [], 'ayb_branch_e2e_feature');
    expect(await page.locator('#data-view').isVisible()).toBe(false);
    expect(dataDiffRequests).toEqual([]);
    await page.getByRole('button', { name: 'Data changes of branch e2e-feature' }).click();
    const itemsChanges = page.locator('#data-tables tr[data-table="public.items"]');
    await itemsChanges.waitFor();
    expect(await page.locator('#data-title').textContent()).toBe('Data changes: main → e2e-feature');
    expect(await itemsChanges.locator('td').allTextContents()).toEqual(['public.items', '1', '3', '0', 'primary key (id)']);
    expect(await page.locator('#data-tables tr[data-table="public.people"] td').allTextContents()).toEqual(['public.people', '0', '0', '1', 'primary key (id)']);
    expect(await page.locator('#data-summary').textContent()).toBe('2 table(s) differ.');
    expect(dataDiffRequests).toHaveLength(1);
    await page.getByRole('button', { name: 'Set expiry of branch e2e-feature' }).click();
    await page.getByLabel('Expire in').fill('2d');
    const expiryDialog = page.locator('#expiry-dialog');
    await expiryDialog.getByRole('button', { name: 'Set expiry', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Branch "e2e-feature" expires' }).waitFor();
    await expect.poll(() => cells(row).nth(5).textContent()).toMatch(/^in (1d 23h|2d)$/);
    const recorded = await cluster.query("SELECT expires_at > now() + interval '47 hours' AS ok FROM _ayb_branches WHERE name = 'e2e-feature'", [], 'app');
    expect(recorded.rows[0]?.ok).toBe(true);
    await page.getByRole('button', { name: 'Set expiry of branch e2e-feature' }).click();
    await expiryDialog.getByRole('button', { name: 'Never expire' }).click();
    await page.getByRole('status').filter({ hasText: 'Branch "e2e-feature" never expires' }).waitFor();
    await expect.poll(() => cells(row).nth(5).textContent()).toBe('never');

    // A branch of the branch sits under it in the tree.
    await page.getByLabel('Name', { exact: true }).fill('e2e-child');
    await page.locator('#branch-from').selectOption('e2e-feature');
    await page.getByRole('button', { name: 'Create branch' }).click();
    const child = page.locator('tr[data-branch="e2e-child"]');
    await child.locator('.badge-ready').waitFor();
    expect(await child.locator('td.name').textContent()).toBe('└─ e2e-child');
    expect(await cells(child).nth(2).textContent()).toBe('e2e-feature');
    expect(await page.locator('#branches tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.branch))).toEqual(['e2e-feature', 'e2e-child']);

    // Reset: the table made on the branch is gone, checked in the database itself.
    await page.getByRole('button', { name: 'Reset branch e2e-feature' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Reset' }).click();
    await page.getByRole('status').filter({ hasText: 'Reset branch "e2e-feature"' }).waitFor();
    const afterReset = await cluster.query("SELECT to_regclass('public.orders') IS NULL AS gone", [], 'ayb_branch_e2e_feature');
    expect(afterReset.rows[0]?.gone).toBe(true);
    // The data changes shown were those of the copy the reset replaced: closed.
    expect(await page.locator('#data-view').isVisible()).toBe(false);

    // Masked: ticked, the branch is made with the masking rules applied and says so.
    await page.getByLabel('Name', { exact: true }).fill('e2e-masked');
    await page.locator('#branch-masked').check();
    await page.getByRole('button', { name: 'Create branch' }).click();
    const maskedRow = page.locator('tr[data-branch="e2e-masked"]');
    await maskedRow.locator('.badge-ready').waitFor();
    expect(await maskedRow.locator('td.name .tag').textContent()).toBe('masked');
    expect(await page.locator('#branch-masked').isChecked()).toBe(false);
    const maskedEmails = await cluster.query<{ email: string }>('SELECT email FROM people ORDER BY id', [], 'ayb_branch_e2e_masked');
    expect(maskedEmails.rows.map((r) => r.email).filter((e) => e.endsWith('@real.example'))).toEqual([]);

    // Main at a past moment: the moment field shows only for that choice, and the server's answer reaches the user
    // (this server is not the managed PostgreSQL, so it keeps no history; dashboard-history covers a real one).
    expect(await page.locator('#branch-at').isVisible()).toBe(false);
    await page.locator('#branch-from').selectOption({ label: 'main at a past moment …' });
    await page.getByLabel('Moment').fill('-1h');
    await page.getByLabel('Name', { exact: true }).fill('e2e-past');
    await page.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('alert').filter({ hasText: 'only the managed PostgreSQL keeps' }).waitFor();
    await page.locator('#branch-from').selectOption('main');
    expect(await page.locator('#branch-at').isVisible()).toBe(false);

    // Snapshots: freeze main, branch from the snapshot.
    await page.getByLabel('Snapshot name').fill('e2e-snap');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    const snapRow = page.locator('tr[data-snapshot="e2e-snap"]');
    await snapRow.locator('.badge-ready').waitFor();
    expect(await cells(snapRow).nth(2).textContent()).toBe('main');
    await page.getByRole('button', { name: 'New branch from snapshot e2e-snap' }).click();
    expect(await page.locator('#branch-from').inputValue()).toBe('e2e-snap');
    await page.getByLabel('Name', { exact: true }).fill('from-snap');
    await page.getByRole('button', { name: 'Create branch' }).click();
    const fromSnap = page.locator('tr[data-branch="from-snap"]');
    await fromSnap.locator('.badge-ready').waitFor();
    expect(await cells(fromSnap).nth(2).textContent()).toBe('e2e-snap');
    const databases = await cluster.query("SELECT datname, datallowconn FROM pg_database WHERE datname IN ('ayb_snap_e2e_snap', 'ayb_branch_from_snap') ORDER BY 1", [], 'postgres');
    expect(databases.rows).toEqual([{ datname: 'ayb_branch_from_snap', datallowconn: true }, { datname: 'ayb_snap_e2e_snap', datallowconn: false }]);

    // Screenshots at desktop and phone widths. On a wide screen nothing wraps: every row is one line.
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-desktop.png'), fullPage: true });
    const rowHeights = await page.locator('#branches tbody tr, #snapshots tbody tr').evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
    expect(Math.max(...rowHeights)).toBeLessThan(48);
    // …and the branch table fits: no sideways scrolling to reach a row's actions.
    const branchTable = page.locator('#branches').locator('xpath=..');
    expect(await branchTable.evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth)).toBe(0);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-phone.png'), fullPage: true });
    // Nothing runs off a phone's screen: no sideways scrolling of the page.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1440, height: 900 });

    // A snapshot with a branch made from it is refused, and the reason is shown.
    await page.getByRole('button', { name: 'Delete snapshot e2e-snap' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'from-snap' }).waitFor();

    // Delete asks first; cancelling keeps the branch.
    for (const name of ['from-snap', 'e2e-child', 'e2e-masked']) {
      await page.getByRole('button', { name: `Delete branch ${name}` }).click();
      await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete', exact: true }).click();
      await page.locator(`tr[data-branch="${name}"]`).waitFor({ state: 'detached' });
    }
    await page.getByRole('button', { name: 'Delete snapshot e2e-snap' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await snapRow.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Delete branch e2e-feature' }).click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('ayb_branch_e2e_feature');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await row.count()).toBe(1);

    await page.getByRole('button', { name: 'Delete branch e2e-feature' }).click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Deleted branch "e2e-feature"' }).waitFor();
    // Polling and refreshes never asked for the data changes again.
    expect(dataDiffRequests).toHaveLength(1);
    const gone = await cluster.query("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%'", [], 'postgres');
    expect(gone.rows).toEqual([]);

    // Logging out forgets the token.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin password').waitFor();
    await page.reload();
    await page.getByLabel('Admin password').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
