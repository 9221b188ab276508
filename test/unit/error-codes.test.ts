import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';
import { HTTP_ERROR_CODES } from '../../src/server/http-error.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** Codes made by a template (`${kind}_exists`, `${tool}_failed`) rather than written out. */
const BUILT_CODES = ['branch_exists', 'snapshot_exists', 'branch_not_found', 'snapshot_not_found', 'pg_dump_failed', 'psql_failed'];

describe('error codes', () => {
  it('are snake_case, listed once, and the HTTP ones are distinct from the CLI ones', () => {
    for (const code of [...ERROR_CODES, ...HTTP_ERROR_CODES]) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(new Set(HTTP_ERROR_CODES).size).toBe(HTTP_ERROR_CODES.length);
    expect(ERROR_CODES.filter((code) => (HTTP_ERROR_CODES as readonly string[]).includes(code))).toEqual([]);
  });

  it('every listed code is raised somewhere under src/ (the list holds no dead code)', () => {
    const src = path.join(REPO_ROOT, 'src');
    let text = '';
    for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const file = path.join(entry.parentPath, entry.name);
      const source = readFileSync(file, 'utf8');
      text += file === path.join(src, 'core', 'errors.ts') ? source.replace(/export const ERROR_CODES = \[[^\]]*\]/, '') : source;
    }
    const unused = ERROR_CODES.filter((code) => !BUILT_CODES.includes(code) && !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });
});
