import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium for the dashboard tests (Debian's package; `.ci/run` installs it). Without it
 * the tests are skipped on a developer machine, and fail in CI, where they must run.
 */
export const CHROMIUM = process.env.AYB_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
/** True when a dashboard test must be skipped (and says why, once per file). */
export function skipWithoutChromium(): boolean {
  const skip = !HAVE_CHROMIUM && !IN_CI;
  if (skip) console.warn(`Skipping the dashboard end-to-end test: ${CHROMIUM} not found. Install it with: apt-get install -y chromium`);
  return skip;
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** A fresh headless Chromium profile with one desktop-sized page, allowed to use the clipboard of `origin`. */
export async function launchBrowser(origin: string): Promise<Browser> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.setViewportSize({ width: 1440, height: 900 });
  page.setDefaultTimeout(20_000);
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Opens the dashboard and logs in with `password`. */
export async function logIn(page: Page, origin: string, password: string): Promise<void> {
  await page.goto(`${origin}/admin`);
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Branches' }).waitFor();
}
