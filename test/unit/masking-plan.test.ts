import { describe, expect, it } from 'vitest';
import type { MaskingRule } from '../../src/config/schema.js';
import { type Catalog, planMasking } from '../../src/masking/plan.js';

const col = (relid: number, attnum: number, name: string, type = 'text', extra: Partial<{ notnull: boolean; category: string; base: string }> = {}) =>
  ({ relid, attnum, name, type, base: extra.base ?? type, category: extra.category ?? (type === 'text' ? 'S' : 'N'), notnull: extra.notnull ?? false, generated: false, textCapable: type === 'text' });

/** customers(id, email unique) ← newsletter(email FK); payments (partitioned) with one partition; a NOT NULL column. */
const relations = [
  { oid: 1, schema: 'public', table: 'customers', relkind: 'r' },
  { oid: 2, schema: 'public', table: 'newsletter', relkind: 'r' },
  { oid: 3, schema: 'public', table: 'payments', relkind: 'p' },
  { oid: 4, schema: 'public', table: 'payments_2024', relkind: 'r' },
];
const catalog: Catalog = {
  relations: new Map(relations.map((r) => [r.oid, r])),
  byName: new Map(relations.map((r) => [`${r.schema}.${r.table}`, r])),
  columns: new Map([
    [1, [col(1, 1, 'id', 'integer'), col(1, 2, 'email'), col(1, 3, 'name', 'text', { notnull: true })]],
    [2, [col(2, 1, 'email')]],
    [3, [col(3, 1, 'paid_on', 'date', { category: 'D' }), col(3, 2, 'card')]],
    [4, [col(4, 1, 'paid_on', 'date', { category: 'D' }), col(4, 2, 'card')]],
  ]),
  uniqueColumns: new Map([[1, new Set([1, 2])]]),
  foreignKeys: [{ conrelid: 2, conkey: [1], confrelid: 1, confkey: [2] }],
  children: new Map([[3, [4]]]),
  partitionKeys: new Map([[3, new Set(['paid_on'])], [4, new Set(['paid_on'])]]),
  triggers: new Map(),
};

const rule = (table: string, column: string, fn: MaskingRule['function'], args?: Record<string, unknown>): MaskingRule => ({ table, column, function: fn, ...(args ? { args } : {}) });

describe('planMasking', () => {
  it('follows foreign keys to a masked column and partitions of a masked table, with the same mask', () => {
    const plan = planMasking(catalog, [rule('customers', 'email', 'email'), rule('payments', 'card', 'redact'), rule('customers', 'name', 'name')]);
    expect(plan.problems).toEqual([]);
    const byTable = Object.fromEntries(plan.tables.map((t) => [t.table, t.columns.map((c) => [c.column, c.via])]));
    expect(byTable).toEqual({
      customers: [['email', 'rule'], ['name', 'rule']],
      newsletter: [['email', 'foreign key to public.customers.email']],
      payments: [['card', 'rule']],
      payments_2024: [['card', 'partition of public.payments']],
    });
    const customers = plan.tables.find((t) => t.table === 'customers')!;
    // name is not unique here, so no suffix; a vocabulary function on a unique column gets one.
    expect(customers.columns.find((c) => c.column === 'name')!.mask).toMatchObject({ unique: false });
  });

  it('names every rule that cannot apply', () => {
    const plan = planMasking(catalog, [
      rule('clients', 'email', 'email'),
      rule('customers', 'mail', 'email'),
      rule('customers', 'id', 'email'),
      rule('customers', 'name', 'null'),
      rule('customers', 'email', 'constant', { value: 'x' }),
      rule('payments', 'paid_on', 'date_shift'),
      rule('newsletter', 'email', 'hash'),
    ]);
    expect(plan.problems.map((p) => `${p.table}.${p.column}: ${p.problem}`)).toEqual([
      'clients.email: table public.clients does not exist',
      'customers.mail: column mail does not exist in public.customers',
      'customers.id: email masks text columns, and id is integer',
      'customers.name: name is NOT NULL, so it cannot be masked with null',
      'customers.email: email is a key or unique, so one constant for every row would break it',
      'payments.paid_on: paid_on is a partition key of public.payments; masking it would move rows out of their partitions',
    ]);
  });

  it('refuses a foreign-key column whose own rule differs from the key it points at', () => {
    const plan = planMasking(catalog, [rule('customers', 'email', 'email'), rule('newsletter', 'email', 'hash')]);
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0]!.problem).toMatch(/foreign keys need the same rule on both sides/);
  });
});
