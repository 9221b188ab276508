import { readFile } from 'node:fs/promises';
import type { Reply, Router } from '../router.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_ICON } from './page.js';

/** Same-origin only: the page loads its own script and style and talks to its own API. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let clientScript: Promise<string> | undefined;

/**
 * The browser script: `client.ts` and the modules it imports, compiled by `npm run build` and
 * bundled into one file, dist/server/dashboard/app.js (tools/build/bundle.ts). This module runs from
 * one of the CLI's chunks (dist/chunks/, each command loaded when it runs), from the CLI's entry
 * (dist/ayb.js), or as tsc's output beside the script (dist/server/dashboard/): the first path that
 * reads is the script.
 */
const CLIENT_SCRIPTS = [
  new URL('../server/dashboard/app.js', import.meta.url),
  new URL('./server/dashboard/app.js', import.meta.url),
  new URL('./app.js', import.meta.url),
];

async function readFirst(paths: readonly URL[]): Promise<string> {
  for (const [i, file] of paths.entries()) {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if (i === paths.length - 1) throw error;
    }
  }
  throw new Error('no path');
}

function loadClientScript(): Promise<string> {
  clientScript ??= readFirst(CLIENT_SCRIPTS).then(
    // The source map is not served; drop the reference so browsers do not ask for it.
    (text) => text.replace(/^\/\/# sourceMappingURL=.*$/m, ''),
    () => {
      clientScript = undefined;
      return 'document.body.textContent = "The ayb dashboard script is missing from this build; run npm run build.";';
    },
  );
  return clientScript;
}

function asset(text: string, contentType: string): Reply {
  return { status: 200, text, contentType, headers: { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' } };
}

export function addDashboardRoutes(router: Router): void {
  router.add('GET', '/', () => ({ status: 302, text: 'See /admin\n', contentType: 'text/plain; charset=utf-8', headers: { Location: '/admin' } }));
  router.add('GET', '/admin', () => asset(DASHBOARD_HTML, 'text/html; charset=utf-8'));
  router.add('GET', '/admin/app.css', () => asset(DASHBOARD_CSS, 'text/css; charset=utf-8'));
  router.add('GET', '/admin/favicon.svg', () => asset(DASHBOARD_ICON, 'image/svg+xml'));
  // Browsers ask for /favicon.ico on their own: sent to the same icon rather than answered with a 404.
  router.add('GET', '/favicon.ico', () => ({ status: 302, text: 'See /admin/favicon.svg\n', contentType: 'text/plain; charset=utf-8', headers: { Location: '/admin/favicon.svg' } }));
  router.add('GET', '/admin/app.js', async () => asset(await loadClientScript(), 'text/javascript; charset=utf-8'));
}
