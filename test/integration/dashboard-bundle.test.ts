import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

// The dashboard's script is one file the browser loads as it is: the build bundles client.ts with its
// modules and the formatters it shares with the terminal (tools/build/bundle.ts).
describe('the dashboard bundle', () => {
  const script = readFileSync(path.join(REPO_ROOT, 'dist', 'server', 'dashboard', 'app.js'), 'utf8');

  it('imports nothing at run time and holds no Node module', () => {
    expect(script).not.toMatch(/^\s*import[\s{*'"]/m);
    expect(script).not.toMatch(/\brequire\(|['"]node:/);
  });

  it('carries the shared formatters and every request of the api module', () => {
    expect(script).toContain('function formatBytes(');
    expect(script).toContain('function expiresIn(');
    // The lists are asked without sizes first and with them after (`?sizes=true`).
    for (const route of ['/api/admin/branches', '/api/admin/snapshots', '?sizes=true', '/api/admin/database', '/api/admin/auth']) expect(script).toContain(route);
  });
});
