import { describe, expect, it } from 'vitest';
import { CLEAR_LINE, copyProgressLine } from '../../src/output/progress.js';

describe('dump progress line', () => {
  it('shows bytes copied against the source size and the current table', () => {
    expect(copyProgressLine({ bytes: 412 * 1024 * 1024, totalBytes: 1024 ** 3, table: 'public.orders' })).toBe('Copying 412 MB of ~1.0 GB (public.orders)');
    expect(copyProgressLine({ bytes: 2048 })).toBe('Copying 2.0 kB');
    expect(copyProgressLine({ bytes: 2048, table: 'public.orders', phase: 'copy' })).toBe('Copying 2.0 kB (public.orders)');
  });

  it('names the table being indexed after the rows are in', () => {
    expect(copyProgressLine({ bytes: 900 * 1024 * 1024, totalBytes: 1024 ** 3, table: 'orders', phase: 'index' }))
      .toBe('Copying 900 MB of ~1.0 GB (indexing orders)');
  });

  it('is cut to the terminal width so that it can be redrawn in place', () => {
    const line = copyProgressLine({ bytes: 1, totalBytes: 2, table: 'public.' + 'x'.repeat(100) }, 40);
    expect(line).toHaveLength(39);
    expect(line.endsWith('…')).toBe(true);
  });

  it('redraws with carriage return and erase-line', () => {
    expect(CLEAR_LINE).toBe('\r\x1b[K');
  });
});
