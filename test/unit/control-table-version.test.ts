import { describe, expect, it } from 'vitest';
import { CONTROL_TABLE_VERSION, versionOf } from '../../src/branching/control-table.js';

describe('control table version comment', () => {
  it('reads the version a comment states; 0 for a table from before versioning or a comment edited by hand', () => {
    expect(versionOf(`ayb control table, schema version ${CONTROL_TABLE_VERSION}. Branches …`)).toBe(CONTROL_TABLE_VERSION);
    expect(versionOf('ayb control table, schema version 12. x')).toBe(12);
    expect(versionOf('Branches and snapshots made by ayb (one row per database). Managed by ayb; do not edit by hand.')).toBe(0);
    expect(versionOf(null)).toBe(0);
    expect(versionOf('ayb control table, schema version x.')).toBe(0);
    expect(versionOf('ayb control table, schema version -3.')).toBe(0);
  });
});
