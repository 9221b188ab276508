import { describe, expect, it } from 'vitest';
import { ago } from '../../src/output/branch-view.js';
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
