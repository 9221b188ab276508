import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdGate } from '../helpers/gate.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * The admin dashboard in headless Chromium (Debian's package; `.ci/run` installs it). Without it the
 * test is skipped on a developer machine, and fails in CI, where it must run.
 */
const CHROMIUM = process.env.AYB_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`Skipping the dashboard end-to-end test: ${CHROMIUM} not found. Install it with: apt-get install -y chromium`);
}

const PASSWORD = 'dashboard test password';

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('admin dashboard (headless Chromium)', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let userDataDir: string;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 42)", [], 'app');
    server = await startServer([], { env: { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD } });
    userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
  });
  afterAll(async () => {
    await browser?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    if (server) expect((await server.stop()).exitCode).toBe(0);
    await cluster?.stop();
  });

  it('logs in, creates a branch, sees it ready, and deletes it', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
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

    // An invalid name: the server's message reaches the user.
    await page.getByLabel('Name').fill('Bad-Name');
    await page.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('alert').filter({ hasText: 'uppercase' }).waitFor();
    expect(await page.getByRole('status').textContent()).toBe('');

    // Create while pg_dump is held at a lock: the row shows "creating", then turns "ready" by itself.
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      await page.getByLabel('Name').fill('e2e-feature');
      await page.getByRole('button', { name: 'Create branch' }).click();
      await page.locator('tr[data-branch="e2e-feature"] .badge-creating').waitFor();
    } finally {
      await gate.release();
    }
    const row = page.locator('tr[data-branch="e2e-feature"]');
    await row.locator('.badge-ready').waitFor();
    await page.getByRole('status').filter({ hasText: 'Created branch "e2e-feature"' }).waitFor();
    expect(await row.locator('td').nth(2).textContent()).toBe('app');
    expect(await row.locator('td').nth(3).textContent()).toBe('dump');
    expect(await row.locator('td').nth(4).textContent()).toMatch(/\d+(\.\d)? (kB|MB)/);
    // The new branch is offered as a source.
    expect(await page.locator('#branch-from option').allTextContents()).toEqual(['main', 'e2e-feature']);

    // Delete asks first; cancelling keeps the branch.
    await page.getByRole('button', { name: 'Delete branch e2e-feature' }).click();
    const dialog = page.locator('#confirm-delete');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('ayb_branch_e2e_feature');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await row.count()).toBe(1);

    await page.getByRole('button', { name: 'Delete branch e2e-feature' }).click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Deleted branch "e2e-feature"' }).waitFor();
    const gone = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_e2e_feature'", [], 'postgres');
    expect(gone.rowCount).toBe(0);

    // Logging out forgets the token.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin password').waitFor();
    await page.reload();
    await page.getByLabel('Admin password').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
