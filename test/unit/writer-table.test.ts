import { describe, expect, it } from 'vitest';
import type { Branch } from '../../src/core/records.js';
import { ago, branchJson, statusText } from '../../src/output/branch-view.js';
import { colorEnabled, type Column, renderRecord, renderTable, statusColor } from '../../src/output/writer.js';

interface Row { name: string; status: string; size?: string }
const columns: Column<Row>[] = [
  { header: 'Name', get: (r) => r.name },
  { header: 'Status', get: (r) => r.status, color: statusColor },
  { header: 'Size', get: (r) => r.size },
];

describe('tables', () => {
  it('are compact: a header and one line per row, columns two spaces apart, no rules', () => {
    expect(renderTable([{ name: 'dev', status: 'ready', size: '7.3 MB' }, { name: '└─ feature-x', status: 'failed' }], columns)).toBe(
      ['Name          Status  Size', 'dev           ready   7.3 MB', '└─ feature-x  failed  -'].join('\n'),
    );
  });

  it('colour a terminal only: bold headers, green ready, red failed', () => {
    const text = renderTable([{ name: 'a', status: 'ready' }, { name: 'b', status: 'failed' }], columns, true);
    expect(text).toContain('\x1b[1mName');
    expect(text).toContain('\x1b[32mready');
    expect(text).toContain('\x1b[31mfailed');
    expect(renderTable([{ name: 'a', status: 'ready' }], columns, false)).not.toContain('\x1b[');
  });

  it('a status says what is wrong with the record, in red; deleting is yellow like creating', () => {
    const branch = { status: 'ready', problem: 'database_missing' } as Branch;
    expect(statusText(branch)).toBe('ready (database missing)');
    expect(statusText({ ...branch, problem: 'database_invalid' })).toBe('ready (database invalid)');
    expect(statusText({ ...branch, problem: undefined })).toBe('ready');
    expect(statusColor('ready (database missing)')).toBe('red');
    expect(statusColor('deleting')).toBe(statusColor('creating'));
  });

  it('the JSON record has problem only when there is one', () => {
    const branch = {
      id: '1', name: 'x', kind: 'branch', snapshot: null, source_database: 'app', branch_database: 'ayb_branch_x', status: 'ready',
      strategy: 'template', copy_method: 'file_copy', parent: null, expires_at: null, error_message: null, created_at: new Date(0),
      updated_at: new Date(0), creator_pid: null, creator_host: null, masked: false, temp_databases: ['ayb_reset_00_new'],
    } satisfies Branch;
    expect(branchJson(branch)).not.toHaveProperty('problem');
    // Temporaries are ayb's business, never part of the record.
    expect(branchJson(branch)).not.toHaveProperty('temp_databases');
    expect(branchJson({ ...branch, problem: 'database_missing' })).toMatchObject({ status: 'ready', problem: 'database_missing' });
  });

  it('a record is aligned key/value lines; optional fields only when set', () => {
    const record: Column<Row>[] = [...columns, { header: 'Error', get: () => undefined, optional: true }];
    expect(renderRecord({ name: 'dev', status: 'ready' }, record)).toBe(['Name    dev', 'Status  ready', 'Size    -'].join('\n'));
  });

  it.each([
    [{ isTTY: true }, {}, true],
    [{ isTTY: false }, {}, false],
    [{ isTTY: true }, { NO_COLOR: '1' }, false],
    [{ isTTY: true }, { TERM: 'dumb' }, false],
    [{ isTTY: false }, { FORCE_COLOR: '1' }, true],
    [{ isTTY: true }, { FORCE_COLOR: '0' }, false],
    [{ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' }, false],
  ])('colour on %j with %j: %s', (stream, env, expected) => {
    expect(colorEnabled(stream, env)).toBe(expected);
  });

  it('times read relative: just now, 5m ago, 2d 3h ago', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    expect(ago(new Date(now - 20_000), now)).toBe('just now');
    expect(ago(new Date(now - 5 * 60_000), now)).toBe('5m ago');
    expect(ago(new Date(now - (2 * 24 + 3) * 3_600_000), now)).toBe('2d 3h ago');
  });
});
