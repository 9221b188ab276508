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

/**
 * Every row of the branch tree, at the page's current width: its name and each of its action
 * buttons are on the screen, nothing cut off at either edge (no sideways scrolling to reach them).
 * Returns what is not, as text; the buttons are counted too, so an empty table passes nothing.
 */
async function rowsOffScreen(page: Page): Promise<{ problems: string[]; buttons: number }> {
  return page.locator('#branches tbody tr').evaluateAll((rows) => {
    const width = document.documentElement.clientWidth;
    const problems: string[] = [];
    let buttons = 0;
    const off = (box: DOMRect) => box.width === 0 || box.height === 0 || box.left < 0 || box.right > width;
    for (const row of rows as HTMLElement[]) {
      const what = row.dataset.branch ?? row.dataset.snapshot ?? '?';
      const name = row.querySelector('td.name')!.getBoundingClientRect();
      if (off(name)) problems.push(`${what}: name at ${Math.round(name.left)}..${Math.round(name.right)} of ${width}`);
      for (const button of row.querySelectorAll<HTMLButtonElement>('td.actions button')) {
        buttons++;
        const box = button.getBoundingClientRect();
        if (off(box) || getComputedStyle(button).visibility === 'hidden') problems.push(`${what}: ${button.textContent} at ${Math.round(box.left)}..${Math.round(box.right)} of ${width}`);
      }
    }
    return { problems, buttons };
  });
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
    // Made from main: at the top of the tree, with nothing said beside its name.
    expect(await cells(row).nth(0).textContent()).toBe('e2e-feature');
    // The list is drawn unsized and its sizes filled in by a second request: the size comes a moment later.
    await expect.poll(() => cells(row).nth(2).textContent()).toMatch(/^\d+(\.\d)? (kB|MB)$/);
    // ISO order and a 24-hour clock, never "12/2/2026, 1:55:31 AM".
    expect(await cells(row).nth(3).textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    await expect.poll(() => cells(row).nth(4).textContent()).toBe('never');
    expect(await cells(row).nth(5).locator('code').textContent()).toMatch(/^postgres:\/\/.*\*{8}@.*\/ayb_branch_e2e_feature$/);
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
    await expect.poll(() => cells(row).nth(4).textContent()).toMatch(/^in (1d 23h|2d)$/);
    const recorded = await cluster.query("SELECT expires_at > now() + interval '47 hours' AS ok FROM _ayb_branches WHERE name = 'e2e-feature'", [], 'app');
    expect(recorded.rows[0]?.ok).toBe(true);
    await page.getByRole('button', { name: 'Set expiry of branch e2e-feature' }).click();
    await expiryDialog.getByRole('button', { name: 'Never expire' }).click();
    await page.getByRole('status').filter({ hasText: 'Branch "e2e-feature" never expires' }).waitFor();
    await expect.poll(() => cells(row).nth(4).textContent()).toBe('never');

    // A branch of the branch sits under it in the tree.
    await page.getByLabel('Name', { exact: true }).fill('e2e-child');
    await page.locator('#branch-from').selectOption('e2e-feature');
    await page.getByRole('button', { name: 'Create branch' }).click();
    const child = page.locator('tr[data-branch="e2e-child"]');
    await child.locator('.badge-ready').waitFor();
    expect(await child.locator('td.name').textContent()).toBe('└─ e2e-child');
    expect(await page.locator('#branches tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.branch))).toEqual(['e2e-feature', 'e2e-child']);

    // Reset: the table made on the branch is gone, checked in the database itself.
    await page.getByRole('button', { name: 'Reset branch e2e-feature' }).click();
    // Reset to its source as it is now, unless a snapshot is picked.
    expect(await page.locator('#reset-to').inputValue()).toBe('');
    expect(await page.locator('#reset-to option').first().textContent()).toBe('main, as it is now');
    await page.locator('#reset-dialog').getByRole('button', { name: 'Reset' }).click();
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
    await expect.poll(() => page.locator('#branch-masked').isChecked()).toBe(false);
    const maskedEmails = await cluster.query<{ email: string }>('SELECT email FROM people ORDER BY id', [], 'ayb_branch_e2e_masked');
    expect(maskedEmails.rows.map((r) => r.email).filter((e) => e.endsWith('@real.example'))).toEqual([]);

    // Main at a past moment: the moment field shows only for that choice, and the server's answer reaches the user
    // (this server is not the managed PostgreSQL, so it keeps no history; dashboard-history covers a real one).
    expect(await page.locator('#branch-at').isVisible()).toBe(false);
    await page.locator('#branch-from').selectOption({ label: 'main at a past moment …' });
    await page.getByLabel('Moment', { exact: true }).fill('-1h');
    await page.getByLabel('Name', { exact: true }).fill('e2e-past');
    await page.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('alert').filter({ hasText: 'only the managed PostgreSQL keeps' }).waitFor();
    await page.locator('#branch-from').selectOption('main');
    expect(await page.locator('#branch-at').isVisible()).toBe(false);
    // The snapshot form offers main at a past moment too, with its own moment field.
    expect(await page.locator('#snapshot-at').isVisible()).toBe(false);
    await page.locator('#snapshot-of').selectOption({ label: 'main at a past moment …' });
    await page.getByLabel('As of').fill('-1h');
    await page.getByLabel('Snapshot name').fill('e2e-past-snap');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.getByRole('alert').filter({ hasText: 'only the managed PostgreSQL keeps' }).waitFor();
    await page.locator('#snapshot-of').selectOption('main');
    expect(await page.locator('#snapshot-at').isVisible()).toBe(false);

    // Snapshots: freeze main, branch from the snapshot.
    await page.getByLabel('Snapshot name').fill('e2e-snap');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    const snapRow = page.locator('tr[data-snapshot="e2e-snap"]');
    await snapRow.locator('.badge-ready').waitFor();
    expect(await snapRow.locator('td.name').textContent()).toBe('e2e-snapsnapshot');
    await page.getByRole('button', { name: 'New branch from snapshot e2e-snap' }).click();
    expect(await page.locator('#branch-from').inputValue()).toBe('e2e-snap');
    await page.getByLabel('Name', { exact: true }).fill('from-snap');
    await page.getByRole('button', { name: 'Create branch' }).click();
    const fromSnap = page.locator('tr[data-branch="from-snap"]');
    await fromSnap.locator('.badge-ready').waitFor();
    expect(await fromSnap.locator('td.name').textContent()).toBe('└─ from-snap');
    // A snapshot of a branch sits under that branch: one tree of branches and snapshots (e2e-masked was
    // made from e2e-feature too: the form kept its From).
    await page.getByLabel('Snapshot name').fill('feat-snap');
    await page.locator('#snapshot-of').selectOption('e2e-feature');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.locator('tr[data-snapshot="feat-snap"] .badge-ready').waitFor();
    const order = await page.locator('#branches tbody tr').evaluateAll((rows) => rows.map((r) => {
      const el = r as HTMLElement;
      return `${el.querySelector('.tree')?.textContent ?? ''}${el.dataset.branch ?? el.dataset.snapshot}`;
    }));
    expect(order).toEqual(['e2e-feature', '├─ e2e-child', '├─ e2e-masked', '└─ feat-snap', 'e2e-snap', '└─ from-snap']);
    const recordedSnap = await cluster.query("SELECT source_database FROM _ayb_branches WHERE name = 'feat-snap'", [], 'app');
    expect(recordedSnap.rows).toEqual([{ source_database: 'ayb_branch_e2e_feature' }]);

    // Reset to a snapshot picked in the dialog: the record says which, and the rows are the snapshot's.
    await cluster.query('INSERT INTO items VALUES (1000)', [], 'ayb_branch_e2e_child');
    await page.getByRole('button', { name: 'Reset branch e2e-child' }).click();
    await page.locator('#reset-to').selectOption('e2e-snap');
    await page.locator('#reset-dialog').getByRole('button', { name: 'Reset' }).click();
    await page.getByRole('status').filter({ hasText: 'Reset branch "e2e-child" to snapshot "e2e-snap"' }).waitFor();
    const resetTo = await cluster.query("SELECT snapshot FROM _ayb_branches WHERE name = 'e2e-child'", [], 'app');
    expect(resetTo.rows).toEqual([{ snapshot: 'e2e-snap' }]);
    const childItems = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'ayb_branch_e2e_child');
    const snapItems = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'app');
    expect(childItems.rows[0]!.n).toBe(snapItems.rows[0]!.n);

    // No differences: said in words, with no empty table header under them.
    // (e2e-feature was reset to main as it is now.)
    await page.getByRole('button', { name: 'Data changes of branch e2e-feature' }).click();
    await page.locator('#data-summary').filter({ hasText: 'No data differences' }).waitFor();
    expect(await page.locator('#data-tables').isVisible()).toBe(false);
    await page.locator('#data-close').click();

    // A favicon, served by ayb itself (the page's link, and /favicon.ico that browsers ask for on their own).
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/admin/favicon.svg');
    const icon = await fetch(`${server.origin}/favicon.ico`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
    expect(await icon.text()).toMatch(/^<svg /);
    const databases = await cluster.query("SELECT datname, datallowconn FROM pg_database WHERE datname IN ('ayb_snap_e2e_snap', 'ayb_branch_from_snap') ORDER BY 1", [], 'postgres');
    expect(databases.rows).toEqual([{ datname: 'ayb_branch_from_snap', datallowconn: true }, { datname: 'ayb_snap_e2e_snap', datallowconn: false }]);

    // Screenshots at desktop and phone widths (look at them: AYB_SCREENSHOT_DIR). At 1280 px and
    // wider nothing wraps, every row is one line, and the tree fits: every action of every row is on
    // the screen beside its name, no sideways scrolling. On a phone each row is a card, all on screen.
    await mkdir(SCREENSHOTS, { recursive: true });
    const branchTable = page.locator('#branches').locator('xpath=..');
    for (const width of [1280, 1440, 1920]) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${width}.png`), fullPage: true });
      const rowHeights = await page.locator('#branches tbody tr').evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
      expect(Math.max(...rowHeights), `${width} px`).toBeLessThan(48);
      expect(await branchTable.evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth), `${width} px`).toBe(0);
      const { problems, buttons } = await rowsOffScreen(page);
      expect(problems, `${width} px`).toEqual([]);
      expect(buttons).toBeGreaterThanOrEqual(4 * 5 + 2 * 2); // 4 branches × 5 actions, 2 snapshots × 2
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-phone.png'), fullPage: true });
    // Nothing runs off a phone's screen: no sideways scrolling of the page, every action on screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect((await rowsOffScreen(page)).problems).toEqual([]);
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
    await page.getByRole('button', { name: 'Delete snapshot feat-snap' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('tr[data-snapshot="feat-snap"]').waitFor({ state: 'detached' });

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
    expect(dataDiffRequests).toHaveLength(2); // the two asked for above
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
