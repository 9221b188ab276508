import { describe, expect, it } from 'vitest';
import { derivedTriggers } from '../../src/masking/in-place.js';
import type { PlannedTable } from '../../src/masking/plan.js';

const table = (enabled: string): PlannedTable => ({
  schema: 'public',
  table: 'people',
  relkind: 'r',
  columns: [{ column: 'search', type: 'tsvector', stringType: false, mask: { kind: 'derived', trigger: 'people_search', enabled, empty: null }, via: 'trigger people_search' }],
});

describe('derivedTriggers: a trigger made to fire for masking is put back in the mode it had', () => {
  it.each([
    ['O', 'ENABLE TRIGGER'],
    ['R', 'ENABLE REPLICA TRIGGER'],
    ['D', 'DISABLE TRIGGER'],
  ])('pg_trigger.tgenabled %s comes back as %s', (enabled, restore) => {
    const { enable, restore: back } = derivedTriggers(table(enabled));
    expect(enable).toEqual(['ALTER TABLE ONLY "public"."people" ENABLE ALWAYS TRIGGER "people_search"']);
    expect(back).toEqual([`ALTER TABLE ONLY "public"."people" ${restore} "people_search"`]);
  });

  it('an ALWAYS trigger fires already and is left alone', () => {
    expect(derivedTriggers(table('A'))).toEqual({ enable: [], restore: [] });
  });
});
